"""Figures against the level of supervision (the paper's two supervision plots).

x is the level of supervision: the supervised model at 0, then SSL with k frozen encoder layers at k + 1
(more frozen layers = less supervised fine-tuning); setups that share a level (the two 1-layer and the two
2-layer setups) sit side by side, and a line joins the mean of the setups at each level. Input is
:func:`fairssl.report.tables.supervision_table`'s output.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from fairssl.report.conventions import FOUR_FIFTHS, SUPERVISED, numeric_column
from fairssl.report.plotting import BAND_COLOR, DPI, PALETTE, empty_figure, error_bars, setup_colors, subplots


def _level_positions(table: pd.DataFrame) -> tuple[np.ndarray, list[str], list[str]]:
    """x of each row (supervised at 0, k frozen layers at k + 1, setups sharing a level spread apart)."""
    base = np.where(table["setup"] == SUPERVISED, 0.0, numeric_column(table, "frozen") + 1.0)
    xs = base.copy()
    for level in np.unique(base[np.isfinite(base)]):
        idx = np.flatnonzero(base == level)
        if len(idx) > 1:
            xs[idx] = level + np.linspace(-0.12, 0.12, len(idx))
    levels = sorted({int(v) for v in base[np.isfinite(base)]})
    labels = ["supervised" if v == 0 else f"{v - 1}" for v in levels]
    return xs, [str(v) for v in levels], labels


def _level_line(ax: Axes, table: pd.DataFrame, values: np.ndarray, *, color: str, label: str | None) -> None:
    base = np.where(table["setup"] == SUPERVISED, 0.0, numeric_column(table, "frozen") + 1.0)
    frame = pd.DataFrame({"x": base, "v": values}).dropna()
    means = frame.groupby("x")["v"].mean()
    ax.plot(means.index, means.to_numpy(), color=color, lw=1.3, alpha=0.8, label=label, zorder=2)


def _level_points(
    ax: Axes, table: pd.DataFrame, xs: np.ndarray, colors: dict[str, str], columns: tuple[str, str, str]
) -> None:
    """Each setup's mean with its 95% interval (``columns``: mean, low, high) at its level position."""
    mean_c, low_c, high_c = columns
    for x, (_, r) in zip(xs, table.iterrows(), strict=True):
        m = np.array([r[mean_c]], dtype=float)
        ax.errorbar(
            [x],
            m,
            yerr=error_bars(m, np.array([r[low_c]], dtype=float), np.array([r[high_c]], dtype=float)),
            fmt="o",
            ms=7,
            color=colors[r["setup"]],
            mec="k",
            ecolor="k",
            capsize=3,
            label=r["setup"],
            zorder=4,
        )


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
        return empty_figure("no setups with a known level of supervision")
    colors = setup_colors(levels["setup"])
    xs, _, _ = _level_positions(levels)
    fig, ax = subplots(figsize=(6.4, 3.6), dpi=DPI)
    est = numeric_column(levels, "auroc")
    _level_line(ax, levels, est, color="0.4", label="mean of the setups at a level")
    _level_points(ax, levels, xs, colors, ("auroc", "auroc_low", "auroc_high"))
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
        return empty_figure("no setups with a known level of supervision")
    colors = setup_colors(levels["setup"])
    xs, _, _ = _level_positions(levels)
    gap_cols = [c for c in levels.columns if c.startswith("gap_")]
    fig, (ax_gap, ax_pd) = subplots(1, 2, figsize=(10.5, 3.6), dpi=DPI)
    markers = ["o", "s", "^", "v", "P", "X", "D", "*"]
    for k, col in enumerate(gap_cols):
        color = PALETTE[(k + 3) % len(PALETTE)]
        vals = numeric_column(levels, col)
        _level_line(ax_gap, levels, vals, color=color, label=col.removeprefix("gap_"))
        ax_gap.scatter(xs, vals, marker=markers[k % len(markers)], color=color, edgecolor="k", s=30, zorder=4)
    if not gap_cols:
        ax_gap.text(0.5, 0.5, "no per-group AUROC", ha="center", va="center", transform=ax_gap.transAxes)
    _level_axis(ax_gap, levels)
    ax_gap.set_ylabel("AUROC gap, best - worst group")
    ax_gap.set_title("performance gap between groups (0 is ideal)")
    if gap_cols:  # no labelled line to list otherwise (matplotlib would warn)
        ax_gap.legend(title="attribute", frameon=False)
    est = numeric_column(levels, "parity_deviation")
    _level_line(ax_pd, levels, est, color="0.4", label=None)
    _level_points(ax_pd, levels, xs, colors, ("parity_deviation", "pd_low", "pd_high"))
    ax_pd.axhline(FOUR_FIFTHS, color=BAND_COLOR, lw=1.2, ls=":")
    _level_axis(ax_pd, levels)
    ax_pd.set_ylabel("parity deviation (95% CI)")
    ax_pd.set_title("parity deviation (0 is ideal)")
    ax_pd.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return fig
