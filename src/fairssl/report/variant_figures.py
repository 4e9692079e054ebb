"""The figure and tables that compare a grid study's variants (e.g. pre-training pools) setup by setup.

A grid runs every setup and seed once per variant (``[grid]`` in the config, e.g. ``pretrain.pool =
["full", "balanced:race", "exclude:race=black"]``). Each variant keeps its own full report; the study's
page shows them side by side here: :func:`variant_comparison_table` (one row per variant x setup from
:func:`~fairssl.report.comparison.setup_comparison`), :func:`pool_share_table` (the pre-training pool's
group shares per variant) and :func:`fairness_across_variants` (parity deviation, AUROC and the
improvement over the same variant's supervised baseline, per setup, one colour per variant).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from fairssl.report.conventions import (
    SUPERVISED,
    VARIANT,
    numeric_column,
    setup_order,
    setup_rank,
    variant_names,
)
from fairssl.report.markdown import setup_table
from fairssl.report.plotting import DPI, empty_figure, error_bars, subplots

VARIANT_PALETTE = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]
"""One colour per variant (distinct from the per-setup palette: here colour means variant)."""

_PANELS = (
    ("parity_deviation", "pd_low", "pd_high", 1.0, "parity deviation\n(lower is fairer)"),
    ("auroc", "auroc_low", "auroc_high", 1.0, "AUROC"),
    ("improvement", "improvement_low", "improvement_high", 100.0, "PD improvement vs\nsupervised (%)"),
)


def variant_comparison_table(comparison: pd.DataFrame) -> pd.DataFrame:
    """Display table: one row per variant x setup with AUROC, parity deviation and the improvement over
    the same variant's supervised baseline, each ``mean [95% CI]`` across seeds, and the verdict.

    ``comparison`` is :func:`~fairssl.report.comparison.setup_comparison` of a grid's summary (it has a
    ``variant`` column). Rows: variants in grid order, setups in level-of-supervision order; the cells are
    :func:`~fairssl.report.markdown.setup_table`'s (``baseline`` as supervised's improvement).
    """
    columns = [VARIANT, "setup", "seeds", "AUROC", "parity deviation", "PD improvement", "verdict"]
    if comparison.empty or VARIANT not in comparison:
        return pd.DataFrame(columns=columns)
    frames = []
    for variant in variant_names(comparison):
        own = comparison[comparison[VARIANT].astype(str) == variant]
        own = own.sort_values("setup", key=lambda col: setup_rank(col.astype(str)), kind="stable")
        table = setup_table(own).assign(**{VARIANT: variant})
        table.loc[table["setup"] == SUPERVISED, "PD improvement"] = "baseline"
        frames.append(table[columns])
    return pd.concat(frames, ignore_index=True)


def pool_share_table(pool: pd.DataFrame) -> pd.DataFrame:
    """The pre-training pool's composition per variant: one row per attribute x group, one column per
    variant holding the group's share of the pool (mean over seeds, in %) and its window count.

    ``pool`` is the study's ``results/pool.csv`` (columns [variant,] seed, attribute, group, windows,
    share). A variant's shares of one attribute sum to 100%; ``balanced:<attr>`` gives equal shares of
    that attribute, ``group:``/``exclude:`` 100% / 0% (an excluded group has no row: shown as 0%).
    """
    if pool.empty or not {"attribute", "group", "share"} <= set(pool.columns):
        return pd.DataFrame(columns=["attribute", "group"])
    data = pool.copy()
    if VARIANT not in data:
        data[VARIANT] = "base"
    data[VARIANT] = data[VARIANT].astype(str)
    variants = list(dict.fromkeys(data[VARIANT]))
    mean = data.groupby([VARIANT, "attribute", "group"], sort=False)[["share", "windows"]].mean()
    cell = {
        (str(v), str(a), str(g)): f"{100 * share:.1f}% ({round(windows):,})"
        for (v, a, g), share, windows in zip(mean.index, mean["share"], mean["windows"], strict=True)
    }
    keys = sorted(set(zip(data["attribute"].astype(str), data["group"].astype(str), strict=True)))
    rows = [
        {"attribute": a, "group": g, **{v: cell.get((v, a, g), "0.0% (0)") for v in variants}}
        for a, g in keys
    ]
    return pd.DataFrame(rows, columns=["attribute", "group", *variants])


def fairness_across_variants(comparison: pd.DataFrame, *, legend_title: str = "variant") -> Figure:
    """Three panels sharing the setup axis: parity deviation, AUROC and the relative PD improvement over
    the same variant's supervised baseline (%, > 0: fairer), each the mean over seeds with its 95%
    interval, one colour per variant, variants side by side within a setup.

    Read across colours at one setup to see what the variant (e.g. the pre-training pool) changes; a
    variant whose intervals overlap the others' did not change that setup distinguishably. Supervised
    does not depend on the pre-training pool, so its points differ across pools only by chance.
    """
    variants = variant_names(comparison)
    if len(variants) < 2:
        return empty_figure("one variant only: nothing to compare across variants")
    setups = setup_order(comparison["setup"].astype(str).unique())
    width = 0.8 / len(variants)
    fig, axes = subplots(3, 1, figsize=(max(7.2, 1.1 * len(setups) + 2), 7.4), dpi=DPI, sharex=True)
    for k, variant in enumerate(variants):
        own = comparison[comparison[VARIANT].astype(str) == variant].copy()
        own["setup"] = own["setup"].astype(str)
        own = own.set_index("setup").reindex(setups)
        xs = np.arange(len(setups)) - 0.4 + width * (k + 0.5)
        color = VARIANT_PALETTE[k % len(VARIANT_PALETTE)]
        for ax, (col, lo, hi, scale, _label) in zip(axes, _PANELS, strict=True):
            mean = scale * numeric_column(own, col)
            err = error_bars(mean, scale * numeric_column(own, lo), scale * numeric_column(own, hi))
            ok = np.isfinite(mean)
            if not ok.any():
                continue
            ax.errorbar(xs[ok], mean[ok], yerr=err[:, ok], fmt="none", ecolor=color, capsize=3, lw=1)
            label = variant if col == "auroc" else None
            ax.scatter(xs[ok], mean[ok], s=40, color=color, edgecolor="k", zorder=3, label=label)
    for ax, (_col, _lo, _hi, _scale, label) in zip(axes, _PANELS, strict=True):
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
        for x in np.arange(len(setups) - 1) + 0.5:
            ax.axvline(x, color="0.9", lw=0.8, zorder=0)
    axes[2].axhline(0, color="k", lw=0.8)
    axes[2].set_xticks(range(len(setups)), setups, rotation=20)
    axes[2].set_xlabel("setup (number = frozen encoder layers)")
    axes[0].legend(
        *axes[1].get_legend_handles_labels(),
        title=legend_title,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncol=min(len(variants), 3),
        frameon=False,
    )
    fig.tight_layout()
    return fig
