"""The fairness-accuracy plane: every setup's AUROC and parity deviation against the supervised model's
group-blind accuracy-fairness curve.

Parity deviation falls as a model loses accuracy even with no bias, so a setup is fairer *at equal
accuracy* only if it sits below the curve the supervised model traces as its scores are degraded towards
noise without regard to groups (``results/accuracy_curve.csv``; :mod:`fairssl.evaluation.matching`).
Beside it, where the supervised runs stored their training trajectory, the curve its epochs trace (rows
of ``kind = "trajectory"``): the trained references ``checkpoint:<setup>`` are points of that curve.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from fairssl.report.comparison import setup_comparison
from fairssl.report.conventions import FOUR_FIFTHS, SUPERVISED, numeric_column
from fairssl.report.plotting import (
    BAND_COLOR,
    DPI,
    SUPERVISED_COLOR,
    empty_figure,
    error_bars,
    setup_colors,
    subplots,
)


def fairness_accuracy(comparison: pd.DataFrame, curve: pd.DataFrame | None) -> Figure:
    """x = test AUROC, y = parity deviation, one point per setup with its two intervals (``comparison``),
    the supervised models' degradation curve (mean over seeds per lambda; ``curve`` columns seed, lambda,
    auroc, parity_deviation and ``kind``; rows without a kind are degradation rows) and, from the rows of
    kind ``trajectory``, their training trajectory (mean over seeds per epoch, solid). Lower at the same x
    is fairer at equal accuracy; 0.2 is dotted."""
    comp = setup_comparison(comparison)
    if comp.empty or not np.isfinite(numeric_column(comp, "auroc")).any():
        return empty_figure("no setup has an AUROC and a parity deviation yet")
    fig, ax = subplots(figsize=(6.4, 4.2), dpi=DPI)
    degradation, trajectory = _curves(curve)
    if not degradation.empty:
        mean = degradation.groupby("lambda", sort=True)[["auroc", "parity_deviation"]].mean()
        ax.plot(
            mean["auroc"],
            mean["parity_deviation"],
            ls="--",
            marker=".",
            color=SUPERVISED_COLOR,
            lw=1,
            label="supervised, degraded without regard to groups",
        )
    if not trajectory.empty:
        mean = trajectory.groupby("epoch", sort=True)[["auroc", "parity_deviation"]].mean()
        ax.plot(
            mean["auroc"],
            mean["parity_deviation"],
            ls="-",
            marker="^",
            ms=3,
            color=SUPERVISED_COLOR,
            lw=1,
            alpha=0.7,
            label="supervised, training trajectory (per epoch)",
        )
    colors = setup_colors(comp["setup"])
    for r in comp.to_dict("records"):
        x, y = np.array([float(r["auroc"])]), np.array([float(r["parity_deviation"])])
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            continue
        xerr = error_bars(x, np.array([float(r["auroc_low"])]), np.array([float(r["auroc_high"])]))
        yerr = error_bars(y, np.array([float(r["pd_low"])]), np.array([float(r["pd_high"])]))
        setup = str(r["setup"])
        marker = "s" if setup == SUPERVISED else ("x" if str(r.get("kind", "")) == "control" else "o")
        ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt=marker, color=colors[setup], capsize=3, label=setup)
    ax.axhline(
        FOUR_FIFTHS, color=BAND_COLOR, lw=1.2, ls=":", label=f"four-fifths band edge ({FOUR_FIFTHS:g})"
    )
    ax.set_xlabel("test AUROC")
    ax.set_ylabel("parity deviation (lower is fairer)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def _curves(curve: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(degradation rows, trajectory rows) of ``accuracy_curve.csv``; a table without ``kind`` (written
    before trajectories existed) is all degradation rows. Either may be empty."""
    empty = pd.DataFrame(columns=["lambda", "epoch", "auroc", "parity_deviation"])
    if curve is None or curve.empty or not {"auroc", "parity_deviation"} <= set(curve.columns):
        return empty, empty
    kind = (
        curve["kind"].astype(str) if "kind" in curve.columns else pd.Series("degradation", index=curve.index)
    )
    degradation = curve[kind == "degradation"]
    trajectory = curve[kind == "trajectory"]
    if "lambda" not in curve.columns:
        degradation = empty
    if "epoch" not in curve.columns:
        trajectory = empty
    return degradation, trajectory
