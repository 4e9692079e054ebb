"""Figures of the representation analysis (stage 4): CKA heatmaps, drawn from the stored CKA tables.

Rows are the supervised model's conv layers, columns the SSL model's; each cell is the mean over seeds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from fairssl.report.conventions import numeric_column, setup_order
from fairssl.report.plotting import DPI, empty_figure, panel_grid, subplots


def _heat(
    ax: Axes, mat: pd.DataFrame, *, vmin: float, vmax: float, cmap: str, marks: np.ndarray | None = None
) -> AxesImage:
    """Draw ``mat`` (rows x columns) as an annotated heatmap on ``ax``; ``marks`` (same shape) adds ``*``."""
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
        return empty_figure("no CKA values")
    setups = setup_order(cka["setup"].astype(str).unique())
    fig, axes = panel_grid(len(setups), ncols=ncols, width=2.5, height=2.5)
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
        return empty_figure("no conditioned CKA (needs >= 2 groups with a per-group AUROC per attribute)")
    setups = setup_order(table["setup"].unique())
    attrs = list(dict.fromkeys(table["attribute"]))
    lim = (
        float(np.nanmax(np.abs(numeric_column(table, "diff"))))
        if np.isfinite(numeric_column(table, "diff")).any()
        else 1.0
    )
    lim = max(lim, 1e-6)
    fig, axes = subplots(
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
