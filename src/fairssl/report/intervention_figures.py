"""The fairness-accuracy plane of a grid that varies ``finetune.mitigation``: every (setup, mitigation).

:func:`fairness_accuracy_plane` draws :func:`~fairssl.report.intervention_tables.intervention_points`:
x = AUROC, y = parity deviation, each point the variant's mean over seeds with its 95% interval on both
axes; colour = mitigation, marker = setup kind (square: supervised, circle: SSL setups, cross: ``random:``
controls), each point labelled with its setup; the Pareto front over the point estimates as a dashed step
line. Better is to the lower right (higher AUROC, lower PD).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from fairssl.report.conventions import numeric_column
from fairssl.report.plotting import DPI, empty_figure, error_bars, subplots
from fairssl.report.variant_figures import VARIANT_PALETTE

KIND_MARKERS = {"baseline": "s", "ssl": "o", "control": "X"}
"""Marker per setup kind (``comparison.csv``'s ``kind``): supervised, SSL setups, ``random:`` controls."""

KIND_LABELS = {"baseline": "supervised", "ssl": "SSL setup", "control": "random: control"}


def mitigation_colors(mitigations: list[str]) -> dict[str, str]:
    """A colour per mitigation in the given (grid) order, ``none`` always the first palette colour."""
    order = sorted(dict.fromkeys(mitigations), key=lambda m: m != "none")
    return {m: VARIANT_PALETTE[i % len(VARIANT_PALETTE)] for i, m in enumerate(order)}


def front_line(auroc: np.ndarray, pd_dev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The front's points sorted by AUROC, as (x, y) of a ``where="pre"`` step line: the lowest PD
    reachable at AUROC >= x is y. Front points trade off, so both coordinates increase along it."""
    order = np.argsort(auroc, kind="stable")
    return auroc[order], pd_dev[order]


def fairness_accuracy_plane(points: pd.DataFrame) -> Figure:
    """AUROC (x) against parity deviation (y) of every (setup, mitigation) with both intervals and the
    descriptive Pareto front (``on_front``). A point up-left of another is worse on both axes."""
    a = numeric_column(points, "auroc")
    p = numeric_column(points, "parity_deviation")
    ok = np.isfinite(a) & np.isfinite(p)
    if points.empty or not ok.any():
        return empty_figure("no (setup, mitigation) with both AUROC and parity deviation")
    xerr = error_bars(a, numeric_column(points, "auroc_low"), numeric_column(points, "auroc_high"))
    yerr = error_bars(p, numeric_column(points, "pd_low"), numeric_column(points, "pd_high"))
    mitigations = [str(m) for m in points["mitigation"]]
    colors = mitigation_colors(mitigations)
    kinds = [str(k) for k in points["kind"]]
    several = points["other"].astype(str).nunique() > 1
    fig, ax = subplots(figsize=(7.6, 5.6), dpi=DPI)
    for i in np.flatnonzero(ok):
        color = colors[mitigations[i]]
        ax.errorbar(
            a[i], p[i], xerr=xerr[:, [i]], yerr=yerr[:, [i]], fmt="none", ecolor=color, lw=0.9, alpha=0.6
        )
        ax.scatter(
            a[i], p[i], s=55, color=color, marker=KIND_MARKERS.get(kinds[i], "o"), edgecolor="k", zorder=3
        )
        label = str(points["setup"].iloc[i]) + (f"\n{points['other'].iloc[i]}" if several else "")
        ax.annotate(label, (a[i], p[i]), xytext=(4, 4), textcoords="offset points", fontsize=7, color="0.25")
    front = ok & points["on_front"].astype(bool).to_numpy()
    if front.any():
        fx, fy = front_line(a[front], p[front])
        ax.step(fx, fy, where="pre", color="k", ls="--", lw=1.1, zorder=2, label="Pareto front (descriptive)")
    for m, color in colors.items():
        ax.scatter([], [], s=55, color=color, marker="o", edgecolor="k", label=f"mitigation: {m}")
    for kind in dict.fromkeys(kinds):
        ax.scatter([], [], s=55, color="white", marker=KIND_MARKERS.get(kind, "o"), edgecolor="k",
                   label=KIND_LABELS.get(kind, kind))  # fmt: skip
    ax.set_xlabel("AUROC (higher is better)")
    ax.set_ylabel("parity deviation (lower is fairer)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
    fig.tight_layout()
    return fig
