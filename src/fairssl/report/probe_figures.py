"""Figures of the representation probes: how much each layer says about each protected attribute."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from fairssl.report.conventions import setup_order
from fairssl.report.plotting import empty_figure, panel_grid, setup_colors


def demographic_probe_by_layer(table: pd.DataFrame) -> Figure:
    """One panel per attribute: probe balanced accuracy (y) by layer (x), a line per setup, chance dashed.

    ``table`` is :func:`~fairssl.report.probe_tables.demographic_probe_table`'s output. Higher means the
    representation encodes the attribute more; at chance it carries none a linear probe can find.
    """
    if table is None or table.empty:
        return empty_figure("no probe results (groups too small, or probes disabled)")
    attributes = list(dict.fromkeys(table["attribute"].astype(str)))
    setups = setup_order(table["setup"].astype(str).unique())
    colors = setup_colors(setups)
    fig, axes = panel_grid(len(attributes), ncols=3, width=3.6, height=2.8)
    for ax, attribute in zip(axes, attributes, strict=True):
        sub = table[table["attribute"].astype(str) == attribute]
        layers = list(dict.fromkeys(sub["layer"].astype(str)))
        xs = np.arange(len(layers))
        for setup in setups:
            rows = sub[sub["setup"].astype(str) == setup].set_index("layer").reindex(layers)
            ax.plot(
                xs,
                rows["estimate"].to_numpy(dtype=float),
                marker="o",
                ms=3,
                lw=1.2,
                color=colors[setup],
                label=setup,
                ls="--" if setup == "supervised" else "-",
            )
        chance = float(sub["chance"].mean())
        ax.axhline(chance, color="0.4", ls=":", lw=1)
        ax.set_xticks(xs, layers, fontsize=7)
        ax.set_title(attribute)
        ax.set_ylabel("probe balanced accuracy", fontsize=7)
    axes[0].legend(fontsize=6, frameon=False, ncol=2)
    fig.tight_layout()
    return fig
