"""Figures of the assessment, drawn from the stored result tables (never from live models).

Each function takes tables from ``results/`` (or :mod:`fairssl.report.tables`' summaries of them) and
returns a matplotlib Figure; :func:`save` writes PNG, SVG and PDF. Setups are ordered by the level of
supervision (supervised, 0, 1-*, 2-*, 3) and keep one colour in every figure (:func:`setup_colors`).
Error bars are 95% intervals: across seeds (Student t) where two or more seeds have a value, else the
run's bootstrap interval (see :mod:`fairssl.report.tables`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Patch

from fairssl.report.tables import FOUR_FIFTHS, SUPERVISED, setup_order

__all__ = [
    "FORMATS",
    "FOUR_FIFTHS",
    "auroc_by_group",
    "auroc_vs_frozen",
    "cka_best_worst",
    "cka_heatmaps",
    "fairness_vs_frozen",
    "improvement_by_setup",
    "label_bias",
    "metric_by_setup",
    "parity_boxplots",
    "save",
    "setup_colors",
    "setup_order",
]

FORMATS = ("png", "svg", "pdf")
DPI = 120
_SUPERVISED_COLOR = "#6b6b6b"
_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
_BAND_COLOR = "#2ca02c"

plt.rcParams.update(
    {
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": 10,
        "axes.labelsize": 9,
        "xtick.labelsize": 8,
        "ytick.labelsize": 8,
        "legend.fontsize": 8,
        "svg.fonttype": "none",
    }
)


def setup_colors(setups: Iterable[str]) -> dict[str, str]:
    """A colour per setup: grey for supervised, the palette in level-of-supervision order for the rest."""
    out: dict[str, str] = {}
    i = 0
    for s in setup_order(setups):
        if s == SUPERVISED:
            out[s] = _SUPERVISED_COLOR
        else:
            out[s] = _PALETTE[i % len(_PALETTE)]
            i += 1
    return out


def _empty(message: str, *, size: tuple[float, float] = (6.0, 1.6)) -> Figure:
    fig, ax = plt.subplots(figsize=size, dpi=DPI)
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=10, color="0.3", wrap=True)
    return fig


def _col(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)


def _yerr(mean: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Asymmetric error bars (2, n) from intervals; 0 where the interval is missing."""
    below = np.where(np.isfinite(low), mean - low, 0.0)
    above = np.where(np.isfinite(high), high - mean, 0.0)
    return np.clip(np.vstack([below, above]), 0.0, None)  # (2, n)


def _grid(n_panels: int, *, ncols: int, width: float, height: float) -> tuple[Figure, list[Axes]]:
    ncols = max(1, min(ncols, n_panels))
    nrows = int(np.ceil(n_panels / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), dpi=DPI, squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n_panels:]:
        ax.axis("off")
    return fig, flat[:n_panels]


# ---------------------------------------------------------------------------------------- per setup
def metric_by_setup(
    summary: pd.DataFrame,
    column: str,
    *,
    ylabel: str,
    band: float | None = None,
    low: str | None = None,
    high: str | None = None,
) -> Figure:
    """One metric per setup: each seed's run (small points, with its bootstrap interval when ``low`` and
    ``high`` name the summary's interval columns) and the mean over seeds with its 95% t interval (large
    points). The supervised mean is a dashed line; ``band`` draws a dotted reference line (e.g. 0.2)."""
    from fairssl.report.tables import setup_comparison

    if summary.empty or column not in summary.columns:
        return _empty(f"no {ylabel} values")
    order = setup_order(summary["setup"].astype(str).unique())
    colors = setup_colors(order)
    comp = {str(r["setup"]): r for r in setup_comparison(summary).to_dict("records")}
    key = {
        "auroc": ("auroc", "auroc_low", "auroc_high"),
        "parity_deviation": ("parity_deviation", "pd_low", "pd_high"),
    }
    fig, ax = plt.subplots(figsize=(7.2, 3.6), dpi=DPI)
    for i, setup in enumerate(order):
        own = summary[summary["setup"].astype(str) == setup].sort_values("seed")
        vals = _col(own, column)
        xs = i - 0.22 + np.linspace(-0.06, 0.06, max(len(vals), 1))[: len(vals)]
        if low and high:
            ax.errorbar(
                xs,
                vals,
                yerr=_yerr(vals, _col(own, low), _col(own, high)),
                fmt="none",
                ecolor="0.65",
                elinewidth=0.9,
                zorder=2,
            )
        ax.scatter(
            xs, vals, s=14, color="0.55", zorder=3, label="one seed (bootstrap 95% CI)" if i == 0 else None
        )
        if column in key:
            m, lo_c, hi_c = key[column]
            mean = np.array([comp[setup][m]], dtype=float)
            lo = np.array([comp[setup][lo_c]], dtype=float)
            hi = np.array([comp[setup][hi_c]], dtype=float)
        else:
            mean = np.array([np.nanmean(vals)]) if np.isfinite(vals).any() else np.array([np.nan])
            lo = hi = np.array([np.nan])
        ax.errorbar([i + 0.08], mean, yerr=_yerr(mean, lo, hi), fmt="none", ecolor="k", capsize=4, zorder=4)
        ax.scatter(
            [i + 0.08],
            mean,
            s=70,
            color=colors[setup],
            edgecolor="k",
            zorder=5,
            label="mean over seeds (95% CI)" if i == 0 else None,
        )
    if column in key and SUPERVISED in comp:
        sup_mean = float(comp[SUPERVISED][key[column][0]])
        if np.isfinite(sup_mean):
            ax.axhline(sup_mean, ls="--", color=_SUPERVISED_COLOR, lw=1, label="supervised mean")
    if band is not None:
        ax.axhline(band, color=_BAND_COLOR, lw=1.2, ls=":", label=f"four-fifths band edge ({band:g})")
    ax.set_xticks(range(len(order)), order, rotation=20)
    ax.set_xlabel("setup (number = frozen encoder layers)")
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=4, frameon=False)
    fig.tight_layout()
    return fig


def improvement_by_setup(summary: pd.DataFrame) -> Figure:
    """Relative parity-deviation improvement over supervised, (PD_sup - PD_setup) / PD_sup, per SSL setup.

    Small points: each seed's paired improvement with its paired-bootstrap 95% interval; large points: the
    improvement of the seed means with the across-seed interval (one seed: its bootstrap interval).
    Above 0 the setup is fairer; an interval crossing 0 is not distinguishable from supervised.
    """
    from fairssl.report.tables import setup_comparison

    comp = setup_comparison(summary)
    ssl = comp[(comp["setup"] != SUPERVISED) & np.isfinite(_col(comp, "improvement"))]
    if ssl.empty:
        return _empty(
            "no improvement to show: needs the supervised baseline and an SSL setup of the same seed"
        )
    colors = setup_colors(comp["setup"])
    fig, ax = plt.subplots(figsize=(7.2, 3.4), dpi=DPI)
    for i, setup in enumerate(ssl["setup"]):
        own = summary[summary["setup"].astype(str) == setup].sort_values("seed")
        vals = _col(own, "improvement")
        xs = i - 0.22 + np.linspace(-0.06, 0.06, max(len(vals), 1))[: len(vals)]
        err = _yerr(
            vals, _col(own, "relative_improvement_diff_low"), _col(own, "relative_improvement_diff_high")
        )
        ax.errorbar(xs, 100 * vals, yerr=100 * err, fmt="none", ecolor="0.65", elinewidth=0.9, zorder=2)
        ax.scatter(
            xs,
            100 * vals,
            s=14,
            color="0.55",
            zorder=3,
            label="one seed (paired bootstrap 95% CI)" if i == 0 else None,
        )
        r = ssl[ssl["setup"] == setup].iloc[0]
        mean = np.array([r["improvement"]], dtype=float)
        err = _yerr(
            mean,
            np.array([r["improvement_low"]], dtype=float),
            np.array([r["improvement_high"]], dtype=float),
        )
        ax.errorbar([i + 0.08], 100 * mean, yerr=100 * err, fmt="none", ecolor="k", capsize=4, zorder=4)
        ax.scatter(
            [i + 0.08],
            100 * mean,
            s=70,
            color=colors[setup],
            edgecolor="k",
            zorder=5,
            label="seed means (95% CI)" if i == 0 else None,
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
        return _empty("no per-group AUROC values")
    setups = setup_order(table["setup"].unique())
    colors = setup_colors(setups)
    attrs = list(dict.fromkeys(table["attribute"]))
    attrs = (["overall"] if "overall" in attrs else []) + [a for a in attrs if a != "overall"]
    n_groups = max(table[table["attribute"] == a]["group"].nunique() for a in attrs)
    fig, axes = _grid(
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
            est = _col(rows, "estimate")
            ax.errorbar(
                xs,
                est,
                yerr=_yerr(est, _col(rows, "ci_low"), _col(rows, "ci_high")),
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
        return _empty("no parity ratios (every ratio undefined?)")
    setups = setup_order(cells["setup"].unique())
    colors = setup_colors(setups)
    data = [cells.loc[cells["setup"] == s, "deviation"].to_numpy(dtype=float) for s in setups]
    fig, ax = plt.subplots(figsize=(7.2, 3.8), dpi=DPI)
    ax.axhspan(0, FOUR_FIFTHS, color=_BAND_COLOR, alpha=0.12, lw=0)
    ax.axhline(FOUR_FIFTHS, color=_BAND_COLOR, lw=1.2, ls=":")
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
            Patch(color=_BAND_COLOR, alpha=0.25, label="four-fifths band (|1 - ratio| <= 0.2)"),
            plt.Line2D(
                [], [], marker="D", color="w", markeredgecolor="k", ls="", label="parity deviation (mean)"
            ),
            plt.Line2D([], [], marker="o", color="0.35", ls="", ms=3, label="one attribute x group x ratio"),
        ],
        loc="upper left",
        frameon=False,
        ncol=3,
        bbox_to_anchor=(0, 1.12),
    )
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------- supervision level
def _level_positions(table: pd.DataFrame) -> tuple[np.ndarray, list[str], list[str]]:
    """x of each row (supervised at 0, k frozen layers at k + 1, setups sharing a level spread apart)."""
    base = np.where(table["setup"] == SUPERVISED, 0.0, _col(table, "frozen") + 1.0)
    xs = base.copy()
    for level in np.unique(base[np.isfinite(base)]):
        idx = np.flatnonzero(base == level)
        if len(idx) > 1:
            xs[idx] = level + np.linspace(-0.12, 0.12, len(idx))
    levels = sorted({int(v) for v in base[np.isfinite(base)]})
    labels = ["supervised" if v == 0 else f"{v - 1}" for v in levels]
    return xs, [str(v) for v in levels], labels


def _level_line(ax: Axes, table: pd.DataFrame, values: np.ndarray, *, color: str, label: str | None) -> None:
    base = np.where(table["setup"] == SUPERVISED, 0.0, _col(table, "frozen") + 1.0)
    frame = pd.DataFrame({"x": base, "v": values}).dropna()
    means = frame.groupby("x")["v"].mean()
    ax.plot(means.index, means.to_numpy(), color=color, lw=1.3, alpha=0.8, label=label, zorder=2)


def _level_axis(ax: Axes, table: pd.DataFrame) -> None:
    _, ticks, labels = _level_positions(table)
    ax.set_xticks([float(t) for t in ticks], labels)
    ax.set_xlabel("level of supervision (frozen encoder layers)")
    ax.grid(axis="y", alpha=0.3)


def auroc_vs_frozen(levels: pd.DataFrame) -> Figure:
    """Test AUROC against the number of frozen encoder layers (the paper's first supervision plot).

    ``levels`` is :func:`fairssl.report.tables.supervision_table`'s output. Each setup is a point (mean over
    seeds, 95% CI); the two 1- and the two 2-layer setups sit side by side; the line joins the level means.
    """
    if levels is None or levels.empty:
        return _empty("no setups with a known level of supervision")
    colors = setup_colors(levels["setup"])
    xs, _, _ = _level_positions(levels)
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=DPI)
    est = _col(levels, "auroc")
    _level_line(ax, levels, est, color="0.4", label="mean of the setups at a level")
    for x, (_, r) in zip(xs, levels.iterrows(), strict=True):
        m = np.array([r["auroc"]], dtype=float)
        ax.errorbar(
            [x],
            m,
            yerr=_yerr(m, np.array([r["auroc_low"]], dtype=float), np.array([r["auroc_high"]], dtype=float)),
            fmt="o",
            ms=7,
            color=colors[r["setup"]],
            mec="k",
            ecolor="k",
            capsize=3,
            label=r["setup"],
            zorder=4,
        )
    _level_axis(ax, levels)
    ax.set_ylabel("test AUROC (mean over seeds, 95% CI)")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return fig


def fairness_vs_frozen(levels: pd.DataFrame) -> Figure:
    """Fairness against the level of supervision (the paper's second supervision plot), two panels.

    Left: the AUROC gap between the best and the worst group of each attribute (``gap_<attribute>``
    columns of :func:`fairssl.report.tables.supervision_table`; 0 is ideal); right: parity deviation (mean
    over seeds, 95% CI; 0 ideal, the dotted line marks 0.2). Lines join the level means.
    """
    if levels is None or levels.empty:
        return _empty("no setups with a known level of supervision")
    colors = setup_colors(levels["setup"])
    xs, _, _ = _level_positions(levels)
    gap_cols = [c for c in levels.columns if c.startswith("gap_")]
    fig, (ax_gap, ax_pd) = plt.subplots(1, 2, figsize=(10.5, 3.6), dpi=DPI)
    markers = ["o", "s", "^", "v", "P", "X", "D", "*"]
    for k, col in enumerate(gap_cols):
        color = _PALETTE[(k + 3) % len(_PALETTE)]
        vals = _col(levels, col)
        _level_line(ax_gap, levels, vals, color=color, label=col.removeprefix("gap_"))
        ax_gap.scatter(xs, vals, marker=markers[k % len(markers)], color=color, edgecolor="k", s=30, zorder=4)
    if not gap_cols:
        ax_gap.text(0.5, 0.5, "no per-group AUROC", ha="center", va="center", transform=ax_gap.transAxes)
    _level_axis(ax_gap, levels)
    ax_gap.set_ylabel("AUROC gap, best - worst group")
    ax_gap.set_title("performance gap between groups (0 is ideal)")
    ax_gap.legend(title="attribute", frameon=False)
    est = _col(levels, "parity_deviation")
    _level_line(ax_pd, levels, est, color="0.4", label=None)
    for x, (_, r) in zip(xs, levels.iterrows(), strict=True):
        m = np.array([r["parity_deviation"]], dtype=float)
        ax_pd.errorbar(
            [x],
            m,
            yerr=_yerr(m, np.array([r["pd_low"]], dtype=float), np.array([r["pd_high"]], dtype=float)),
            fmt="o",
            ms=7,
            color=colors[r["setup"]],
            mec="k",
            ecolor="k",
            capsize=3,
            label=r["setup"],
            zorder=4,
        )
    ax_pd.axhline(FOUR_FIFTHS, color=_BAND_COLOR, lw=1.2, ls=":")
    _level_axis(ax_pd, levels)
    ax_pd.set_ylabel("parity deviation (95% CI)")
    ax_pd.set_title("parity deviation (0 is ideal)")
    ax_pd.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------- stage 4
def _heat(
    ax: Axes, mat: pd.DataFrame, *, vmin: float, vmax: float, cmap: str, marks: np.ndarray | None = None
) -> AxesImage:
    values = mat.to_numpy(dtype=float)  # (supervised layers, SSL layers)
    im = ax.imshow(values, vmin=vmin, vmax=vmax, cmap=cmap)
    mid = (vmin + vmax) / 2
    span = (vmax - vmin) or 1.0
    for (r, c), v in np.ndenumerate(values):
        if not np.isfinite(v):
            continue
        strong = abs(v - mid) > 0.3 * span if cmap == "RdBu_r" else v < vmin + 0.55 * span
        text = f"{v:.2f}" + ("*" if marks is not None and marks[r, c] else "")
        ax.text(c, r, text, ha="center", va="center", fontsize=7, color="w" if strong else "k")
    ax.set_xticks(range(mat.shape[1]), [str(c) for c in mat.columns], fontsize=7)
    ax.set_yticks(range(mat.shape[0]), [str(i) for i in mat.index], fontsize=7)
    return im


def cka_heatmaps(cka: pd.DataFrame, *, ncols: int = 4) -> Figure:
    """Mean (over seeds) CKA of supervised layers (rows) x SSL layers (columns), one panel per setup.

    ``cka`` is ``results/cka.csv`` (columns layer_a, layer_b, cka, setup[, seed]). 1 = the same
    representation up to rotation and scale, 0 = unrelated.
    """
    if cka is None or cka.empty:
        return _empty("no CKA values")
    setups = setup_order(cka["setup"].astype(str).unique())
    fig, axes = _grid(len(setups), ncols=ncols, width=2.5, height=2.5)
    im = None
    for ax, setup in zip(axes, setups, strict=True):
        mat = cka[cka["setup"].astype(str) == setup].pivot_table(
            index="layer_a", columns="layer_b", values="cka", aggfunc="mean"
        )
        im = _heat(ax, mat, vmin=0.0, vmax=1.0, cmap="viridis")
        ax.set_title(f"SSL setup {setup}")
        ax.set_xlabel("SSL layer", fontsize=7)
        ax.set_ylabel("supervised layer", fontsize=7)
    fig.tight_layout()
    if im is not None:
        fig.colorbar(im, ax=axes, shrink=0.75, label="debiased linear CKA")
    return fig


def cka_best_worst(table: pd.DataFrame) -> Figure:
    """Best- minus worst-performing group's CKA matrix, per attribute (rows) and SSL setup (columns).

    ``table`` is :func:`fairssl.report.tables.best_worst_table`'s output. Cells: mean over seeds of
    CKA_best - CKA_worst (supervised layers as rows, SSL layers as columns); ``*`` marks cells whose
    |difference| exceeds the permutation bound (what two random sets of windows of the same size already
    differ by), i.e. a signal rather than sampling noise.
    """
    if table is None or table.empty:
        return _empty("no conditioned CKA (needs >= 2 groups with a per-group AUROC per attribute)")
    setups = setup_order(table["setup"].unique())
    attrs = list(dict.fromkeys(table["attribute"]))
    lim = float(np.nanmax(np.abs(_col(table, "diff")))) if np.isfinite(_col(table, "diff")).any() else 1.0
    lim = max(lim, 1e-6)
    fig, axes = plt.subplots(
        len(attrs),
        len(setups),
        figsize=(2.1 * len(setups) + 1.2, 2.1 * len(attrs) + 0.4),
        dpi=DPI,
        squeeze=False,
    )
    im = None
    for i, attribute in enumerate(attrs):
        for j, setup in enumerate(setups):
            ax = axes[i][j]
            sub = table[(table["attribute"] == attribute) & (table["setup"] == setup)]
            if sub.empty:
                ax.axis("off")
                continue
            mat = sub.pivot_table(index="layer_a", columns="layer_b", values="diff", aggfunc="mean")
            marks = (
                sub.pivot_table(index="layer_a", columns="layer_b", values="exceeds", aggfunc="max")
                .reindex(index=mat.index, columns=mat.columns)
                .fillna(False)
                .to_numpy(dtype=bool)
            )
            im = _heat(ax, mat, vmin=-lim, vmax=lim, cmap="RdBu_r", marks=marks)
            r = sub.iloc[0]
            if i == 0:
                ax.set_title(f"SSL setup {setup}", fontsize=9)
            if j == 0:
                ax.set_ylabel(
                    f"{attribute}: {r['best_group']} - {r['worst_group']}\nsupervised layer", fontsize=8
                )
            if i == len(attrs) - 1:
                ax.set_xlabel("SSL layer", fontsize=7)
    fig.tight_layout()
    if im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.7, label="CKA best - worst group")
    return fig


# ------------------------------------------------------------------------------------------- stage 1
def label_bias(table: pd.DataFrame, *, ncols: int = 3) -> Figure:
    """Ground-truth prevalence P(y=1 | group) per attribute, the reference group's as a dashed line.

    ``table`` is :func:`fairssl.report.tables.label_bias_table`'s output; bars are annotated with the
    disparate impact (ratio to the reference; outside 0.8-1.25 in red).
    """
    if table is None or table.empty or "prevalence" not in table:
        return _empty("no audit tables")
    attrs = list(dict.fromkeys(table["attribute"]))
    fig, axes = _grid(len(attrs), ncols=ncols, width=3.3, height=2.7)
    for ax, attribute in zip(axes, attrs, strict=True):
        sub = table[table["attribute"] == attribute].reset_index(drop=True)
        ref = (
            sub["is_reference"].astype(bool).to_numpy() if "is_reference" in sub else np.zeros(len(sub), bool)
        )
        prev = _col(sub, "prevalence")
        ax.bar(range(len(sub)), prev, color=np.where(ref, _SUPERVISED_COLOR, "#1f77b4"), alpha=0.8)
        if ref.any():
            ax.axhline(float(prev[ref][0]), color="k", lw=0.8, ls="--")
        di = _col(sub, "disparate_impact")
        for k, (p, d) in enumerate(zip(prev, di, strict=True)):
            if np.isfinite(p) and np.isfinite(d) and not ref[k]:
                out = not 0.8 <= d <= 1.25
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


def save(fig: Figure, directory: Path, name: str, *, formats: Sequence[str] = FORMATS) -> Path:
    """Write ``name.<format>`` for each of ``formats`` (PNG first) and close the figure; returns the PNG."""
    directory.mkdir(parents=True, exist_ok=True)
    png = directory / f"{name}.png"
    for fmt in dict.fromkeys(["png", *formats]):
        fig.savefig(directory / f"{name}.{fmt}", bbox_inches="tight", dpi=DPI if fmt == "png" else None)
    plt.close(fig)
    return png
