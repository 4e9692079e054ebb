"""Figures of the assessment per setup and per group, drawn from the stored result tables (never from models).

Each function takes tables from ``results/`` (or the report's summaries of them in
:mod:`~fairssl.report.tables` and :mod:`~fairssl.report.audit_tables`) and returns a matplotlib Figure;
:func:`save` writes PNG and PDF. Setups are ordered by the level of supervision (supervised, 0, 1-*,
2-*, 3) and keep one colour in every figure (:func:`setup_colors`). Per-setup error bars are the evaluation's
intervals (``comparison.csv``); per-group error bars are descriptive 95% intervals across seeds on one
test set (training randomness only), or one run's bootstrap interval (see :mod:`fairssl.report.intervals`).

This module is the report's figure entry point: it re-exports the supervision-level figures
(:mod:`~fairssl.report.supervision_figures`), the CKA figures (:mod:`~fairssl.report.cka_figures`) and the
shared style and saving (:mod:`~fairssl.report.plotting`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from fairssl.report.accuracy_figures import fairness_accuracy
from fairssl.report.cka_figures import cka_best_worst, cka_heatmaps
from fairssl.report.comparison import setup_comparison
from fairssl.report.conventions import (
    FOUR_FIFTHS,
    SUPERVISED,
    by_setup,
    in_four_fifths_band,
    numeric_column,
    setup_order,
)
from fairssl.report.plotting import (
    BAND_COLOR,
    DPI,
    FORMATS,
    SUPERVISED_COLOR,
    empty_figure,
    error_bars,
    panel_grid,
    save,
    setup_colors,
    subplots,
)
from fairssl.report.supervision_figures import auroc_vs_frozen, fairness_vs_frozen

__all__ = [
    "FORMATS",
    "FOUR_FIFTHS",
    "auroc_by_group",
    "auroc_vs_frozen",
    "cka_best_worst",
    "cka_heatmaps",
    "fairness_accuracy",
    "fairness_vs_frozen",
    "improvement_by_setup",
    "label_bias",
    "metric_by_setup",
    "parity_boxplots",
    "save",
    "setup_colors",
    "setup_order",
]


def _seed_points(ax: Axes, i: int, vals: np.ndarray, err: np.ndarray | None, *, label: str | None) -> None:
    """Each seed's value (n,) as a small grey point left of position ``i``; ``err``: (2, n) error bars."""
    xs = i - 0.22 + np.linspace(-0.06, 0.06, max(len(vals), 1))[: len(vals)]
    if err is not None:
        ax.errorbar(xs, vals, yerr=err, fmt="none", ecolor="0.65", elinewidth=0.9, zorder=2)
    ax.scatter(xs, vals, s=14, color="0.55", zorder=3, label=label)


def _mean_point(
    ax: Axes, i: int, mean: np.ndarray, err: np.ndarray, *, color: str, label: str | None
) -> None:
    """The mean over seeds (1,) as a large point right of position ``i``, with its (2, 1) error bar."""
    ax.errorbar([i + 0.08], mean, yerr=err, fmt="none", ecolor="k", capsize=4, zorder=4)
    ax.scatter([i + 0.08], mean, s=70, color=color, edgecolor="k", zorder=5, label=label)


# ---------------------------------------------------------------------------------------- per setup
def metric_by_setup(
    summary: pd.DataFrame,
    column: str,
    *,
    ylabel: str,
    band: float | None = None,
    low: str | None = None,
    high: str | None = None,
    comparison: pd.DataFrame | None = None,
) -> Figure:
    """One metric per setup: each seed's run (small points, with its bootstrap interval when ``low`` and
    ``high`` name the summary's interval columns) and the mean over seeds with its 95% t interval (large
    points; from ``comparison``, the evaluation's per-setup table, when given). The supervised mean is a
    dashed line; ``band`` draws a dotted reference line (e.g. 0.2)."""
    if summary.empty or column not in summary.columns:
        return empty_figure(f"no {ylabel} values")
    order = setup_order(summary["setup"].astype(str).unique())
    colors = setup_colors(order)
    comp = by_setup(setup_comparison(comparison if comparison is not None else pd.DataFrame()))
    key = {
        "auroc": ("auroc", "auroc_low", "auroc_high"),
        "parity_deviation": ("parity_deviation", "pd_low", "pd_high"),
    }
    fig, ax = subplots(figsize=(7.2, 3.6), dpi=DPI)
    for i, setup in enumerate(order):
        own = summary[summary["setup"].astype(str) == setup].sort_values("seed")
        vals = numeric_column(own, column)
        err = error_bars(vals, numeric_column(own, low), numeric_column(own, high)) if low and high else None
        _seed_points(ax, i, vals, err, label="one seed (bootstrap 95% CI)" if i == 0 else None)
        if column in key and setup in comp:
            m, lo_c, hi_c = key[column]
            mean = np.array([comp[setup][m]], dtype=float)
            lo = np.array([comp[setup][lo_c]], dtype=float)
            hi = np.array([comp[setup][hi_c]], dtype=float)
        else:
            mean = np.array([np.nanmean(vals)]) if np.isfinite(vals).any() else np.array([np.nan])
            lo = hi = np.array([np.nan])
        _mean_point(
            ax,
            i,
            mean,
            error_bars(mean, lo, hi),
            color=colors[setup],
            label="mean over seeds (95% CI)" if i == 0 else None,
        )
    if column in key and SUPERVISED in comp:
        sup_mean = float(comp[SUPERVISED][key[column][0]])
        if np.isfinite(sup_mean):
            ax.axhline(sup_mean, ls="--", color=SUPERVISED_COLOR, lw=1, label="supervised mean")
    if band is not None:
        ax.axhline(band, color=BAND_COLOR, lw=1.2, ls=":", label=f"four-fifths band edge ({band:g})")
    ax.set_xticks(range(len(order)), order, rotation=20)
    ax.set_xlabel("setup (number = frozen encoder layers)")
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=4, frameon=False)
    fig.tight_layout()
    return fig


def improvement_by_setup(summary: pd.DataFrame, comparison: pd.DataFrame) -> Figure:
    """Relative parity-deviation improvement over supervised, (PD_sup - PD_setup) / PD_sup, per SSL setup.

    Small points: each seed's improvement (point estimates); large points: the evaluation's improvement
    (``comparison``) with its interval at the corrected level of its test: above 0 the setup is fairer,
    an interval crossing 0 is not distinguishable from supervised.
    """
    comp = setup_comparison(comparison)
    ssl = comp[(comp["setup"] != SUPERVISED) & np.isfinite(numeric_column(comp, "improvement"))]
    if ssl.empty:
        return empty_figure(
            "no improvement to show: needs the supervised baseline and an SSL setup of the same seed"
        )
    colors = setup_colors(comp["setup"])
    fig, ax = subplots(figsize=(7.2, 3.4), dpi=DPI)
    for i, setup in enumerate(ssl["setup"]):
        own = (
            summary[summary["setup"].astype(str) == setup].sort_values("seed")
            if {"setup", "seed"} <= set(summary.columns)
            else pd.DataFrame()  # no summary.csv: the study's improvement alone
        )
        vals = numeric_column(own, "improvement")
        _seed_points(ax, i, 100 * vals, None, label="one seed" if i == 0 else None)
        r = ssl[ssl["setup"] == setup].iloc[0]
        mean = np.array([r["improvement"]], dtype=float)
        err = error_bars(
            mean,
            np.array([r["improvement_low"]], dtype=float),
            np.array([r["improvement_high"]], dtype=float),
        )
        _mean_point(
            ax,
            i,
            100 * mean,
            100 * err,
            color=colors[setup],
            label="study (corrected CI)" if i == 0 else None,
        )
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(range(len(ssl)), list(ssl["setup"]), rotation=20)
    ax.set_ylabel("PD improvement vs supervised (%)\n> 0: fairer")
    ax.set_xlabel("SSL setup (number = frozen encoder layers)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=4, frameon=False)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------ per group
def auroc_by_group(table: pd.DataFrame, *, ncols: int = 2) -> Figure:
    """AUROC of every group of every attribute (one panel per attribute, ``overall`` first), per setup.

    ``table`` is :func:`fairssl.report.tables.group_auroc_table`'s output (columns setup, attribute, group,
    estimate, ci_low, ci_high, n_group). Points are means over seeds with 95% intervals; group labels
    carry their test size n.
    """
    if table is None or table.empty:
        return empty_figure("no per-group AUROC values")
    setups = setup_order(table["setup"].unique())
    colors = setup_colors(setups)
    attrs = list(dict.fromkeys(table["attribute"]))
    attrs = (["overall"] if "overall" in attrs else []) + [a for a in attrs if a != "overall"]
    n_groups = max(table[table["attribute"] == a]["group"].nunique() for a in attrs)
    fig, axes = panel_grid(
        len(attrs), ncols=ncols, width=max(3.6, 0.9 + 0.55 * n_groups * max(1, len(setups)) / 3), height=3.0
    )
    width = 0.8 / max(len(setups), 1)
    for ax, attribute in zip(axes, attrs, strict=True):
        sub = table[table["attribute"] == attribute]
        groups = sorted(sub["group"].astype(str).unique())
        for j, setup in enumerate(setups):
            rows = (
                sub[sub["setup"] == setup]
                .set_index(sub[sub["setup"] == setup]["group"].astype(str))
                .reindex(groups)
            )
            xs = np.arange(len(groups)) - 0.4 + width * (j + 0.5)
            est = numeric_column(rows, "estimate")
            ax.errorbar(
                xs,
                est,
                yerr=error_bars(est, numeric_column(rows, "ci_low"), numeric_column(rows, "ci_high")),
                fmt="o",
                ms=4,
                color=colors[setup],
                ecolor=colors[setup],
                elinewidth=1,
                capsize=2,
                label=setup,
            )
        sizes = sub.groupby(sub["group"].astype(str))["n_group"].max()
        ax.set_xticks(range(len(groups)), [f"{g}\nn={int(sizes.get(g, 0))}" for g in groups])
        ax.axhline(0.5, color="0.75", lw=0.8, ls=":")
        ax.set_title("overall" if attribute == "overall" else f"by {attribute}")
        ax.set_ylabel("test AUROC")
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="upper center",
        ncol=min(len(setups), 7),
        frameon=False,
        bbox_to_anchor=(0.5, 1.0),
    )
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return fig


def parity_boxplots(cells: pd.DataFrame, summary: pd.DataFrame | None = None) -> Figure:
    """|1 - ratio| of the six parity ratios over attributes x groups, one box per setup.

    ``cells`` is :func:`fairssl.report.tables.parity_cells`'s output. The shaded band is |1 - ratio| <= 0.2
    (about the four-fifths rule); diamonds mark each setup's parity deviation (the mean over seeds from
    ``summary``), the pooled mean these cells feed.
    """
    if cells is None or cells.empty:
        return empty_figure("no parity ratios (every ratio undefined?)")
    setups = setup_order(cells["setup"].unique())
    colors = setup_colors(setups)
    data = [cells.loc[cells["setup"] == s, "deviation"].to_numpy(dtype=float) for s in setups]
    fig, ax = subplots(figsize=(7.2, 3.8), dpi=DPI)
    ax.axhspan(0, FOUR_FIFTHS, color=BAND_COLOR, alpha=0.12, lw=0)
    ax.axhline(FOUR_FIFTHS, color=BAND_COLOR, lw=1.2, ls=":")
    bp = ax.boxplot(data, positions=range(len(setups)), widths=0.55, patch_artist=True, showfliers=False)
    for patch, s in zip(bp["boxes"], setups, strict=True):
        patch.set_facecolor(colors[s])
        patch.set_alpha(0.35)
        patch.set_edgecolor(colors[s])
    for med in bp["medians"]:
        med.set_color("k")
    rng = np.random.default_rng(0)
    for i, vals in enumerate(data):
        ax.scatter(i + rng.uniform(-0.15, 0.15, len(vals)), vals, s=7, color="0.35", alpha=0.6, zorder=3)
    if summary is not None and not summary.empty and "parity_deviation" in summary:
        pdm = summary.assign(setup=summary["setup"].astype(str)).groupby("setup")["parity_deviation"].mean()
        ax.scatter(
            range(len(setups)),
            [pdm.get(s, np.nan) for s in setups],
            marker="D",
            s=40,
            color="white",
            edgecolor="k",
            zorder=5,
        )
    top = max((float(np.nanmax(v)) for v in data if len(v)), default=1.0)
    if top > 2.5:
        ax.set_yscale("symlog", linthresh=1.0)
    ax.set_ylim(bottom=0)
    ax.set_xticks(range(len(setups)), setups, rotation=20)
    ax.set_ylabel("|1 - ratio|  (0 is parity)")
    ax.set_xlabel("setup (number = frozen encoder layers)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(
        handles=[
            Patch(color=BAND_COLOR, alpha=0.25, label="four-fifths band (|1 - ratio| <= 0.2)"),
            Line2D(
                [], [], marker="D", color="w", markeredgecolor="k", ls="", label="parity deviation (mean)"
            ),
            Line2D([], [], marker="o", color="0.35", ls="", ms=3, label="one attribute x group x ratio"),
        ],
        loc="upper left",
        frameon=False,
        ncol=3,
        bbox_to_anchor=(0, 1.12),
    )
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------- stage 1
def label_bias(table: pd.DataFrame, *, ncols: int = 3) -> Figure:
    """Ground-truth prevalence P(y=1 | group) per attribute, the reference group's as a dashed line.

    ``table`` is :func:`fairssl.report.tables.label_bias_table`'s output; bars are annotated with the
    disparate impact (ratio to the reference; outside 0.8-1.25 in red).
    """
    if table is None or table.empty or "prevalence" not in table:
        return empty_figure("no audit tables")
    attrs = list(dict.fromkeys(table["attribute"]))
    fig, axes = panel_grid(len(attrs), ncols=ncols, width=3.3, height=2.7)
    for ax, attribute in zip(axes, attrs, strict=True):
        sub = table[table["attribute"] == attribute].reset_index(drop=True)
        ref = (
            sub["is_reference"].astype(bool).to_numpy() if "is_reference" in sub else np.zeros(len(sub), bool)
        )
        prev = numeric_column(sub, "prevalence")
        ax.bar(range(len(sub)), prev, color=np.where(ref, SUPERVISED_COLOR, "#1f77b4"), alpha=0.8)
        if ref.any():
            ax.axhline(float(prev[ref][0]), color="k", lw=0.8, ls="--")
        di = numeric_column(sub, "disparate_impact")
        for k, (p, d) in enumerate(zip(prev, di, strict=True)):
            if np.isfinite(p) and np.isfinite(d) and not ref[k]:
                out = not in_four_fifths_band(d)
                ax.text(
                    k,
                    p,
                    f"DI {d:.2f}",
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    color="#d62728" if out else "0.2",
                )
        ax.set_xticks(range(len(sub)), [str(g) for g in sub["group"]], rotation=20)
        ax.set_title(f"{attribute} (reference: {sub.loc[ref, 'group'].iloc[0] if ref.any() else '?'})")
        ax.set_ylabel("P(y=1) in the data")
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig
