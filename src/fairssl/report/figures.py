"""Figures of the assessment, drawn from the stored result tables (never from live models).

Each function takes tables from ``results/`` and returns a matplotlib Figure; :func:`save` writes PNG
and SVG. Setups are ordered by the level of supervision: supervised, 0, 1-*, 2-*, 3.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from fairssl.config import SETUP_NAMES

FOUR_FIFTHS = 0.2
"""Parity deviation |1 - ratio| of 0.2 marks the four-fifths band (ratios 0.8-1.25)."""


def setup_order(setups: Iterable[str]) -> list[str]:
    setups = [str(s) for s in setups]
    known = [s for s in SETUP_NAMES if s in set(setups)]
    return known + sorted(set(setups) - set(known))


def _per_setup(summary: pd.DataFrame, column: str) -> pd.DataFrame:
    order = setup_order(summary["setup"].astype(str).unique())
    g = summary.groupby("setup")[column]
    stats = pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=1), "n": g.count()}).reindex(order)
    return stats


def metric_by_setup(summary: pd.DataFrame, column: str, *, ylabel: str, band: float | None = None) -> Figure:
    """Points per seed, mean +- 95% CI (t) per setup; the supervised mean as a dashed line."""
    from scipy import stats as st

    table = _per_setup(summary, column)
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=110)
    xs = np.arange(len(table))
    for i, setup in enumerate(table.index):
        vals = summary.loc[summary["setup"] == setup, column].to_numpy(dtype=float)
        ax.scatter(
            np.full(len(vals), i) + np.linspace(-0.08, 0.08, len(vals)), vals, s=12, color="0.6", zorder=2
        )
    half = np.where(
        table["n"] > 1, st.t.ppf(0.975, np.maximum(table["n"] - 1, 1)) * table["std"] / np.sqrt(table["n"]), 0
    )
    colors = ["#7f7f7f" if s == "supervised" else "#1f77b4" for s in table.index]
    ax.errorbar(xs, table["mean"], yerr=np.nan_to_num(half), fmt="none", ecolor="k", capsize=4, zorder=3)
    ax.scatter(xs, table["mean"], s=60, c=colors, zorder=4, edgecolor="k")
    if "supervised" in table.index:
        ax.axhline(float(table["mean"].loc["supervised"]), ls="--", color="#7f7f7f", lw=1, label="supervised")
    if band is not None:
        ax.axhline(band, color="#d62728", lw=1, ls=":", label="four-fifths band (0.2)")
    ax.set_xticks(xs, list(table.index), rotation=20)
    ax.set_xlabel("setup (frozen encoder layers)")
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="best", fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def cka_heatmaps(cka: pd.DataFrame) -> Figure:
    """Mean (over seeds) CKA of supervised layers (rows) x SSL layers (columns), one panel per setup."""
    setups = setup_order(cka["setup"].astype(str).unique())
    fig, axes = plt.subplots(1, len(setups), figsize=(2.3 * len(setups) + 0.8, 2.6), dpi=110, squeeze=False)
    im = None
    for ax, setup in zip(axes[0], setups, strict=True):
        mat = cka[cka["setup"] == setup].pivot_table(
            index="layer_a", columns="layer_b", values="cka", aggfunc="mean"
        )
        im = ax.imshow(mat.to_numpy(), vmin=0, vmax=1, cmap="viridis")
        for (r, c), v in np.ndenumerate(mat.to_numpy()):
            ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=7, color="w" if v < 0.6 else "k")
        ax.set_xticks(range(mat.shape[1]), list(mat.columns), fontsize=7)
        ax.set_yticks(range(mat.shape[0]), list(mat.index), fontsize=7)
        ax.set_title(f"SSL {setup}", fontsize=9)
        ax.set_xlabel("SSL layer", fontsize=7)
    axes[0][0].set_ylabel("supervised layer", fontsize=7)
    if im is not None:
        fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="debiased CKA")
    return fig


def save(fig: Figure, directory: Path, name: str) -> Path:
    """Write ``name.png`` and ``name.svg``; returns the PNG path."""
    directory.mkdir(parents=True, exist_ok=True)
    png = directory / f"{name}.png"
    fig.savefig(png, bbox_inches="tight")
    fig.savefig(directory / f"{name}.svg", bbox_inches="tight")
    plt.close(fig)
    return png
