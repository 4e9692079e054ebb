"""Matplotlib plumbing shared by the report's figures: style, setup colours, error bars, panels, saving.

Every figure uses the same style (no top/right spines, small fonts, SVG text kept as text), gives each
setup one colour (:func:`setup_colors`: grey for supervised) and is saved as PNG and PDF by default
(:func:`save`, :data:`FORMATS`; SVG on request). Figures are built without pyplot (:func:`subplots`),
so drawing a report neither picks a matplotlib backend nor touches the caller's figures; the style
applies inside :func:`style` only (a notebook keeps its inline backend and its rcParams).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from fairssl.errors import ConfigError
from fairssl.report.conventions import SUPERVISED, setup_order

FORMATS = ("png", "pdf")
"""File formats every figure is saved in by default: PNG (always written: the report embeds it) and one
vector format, PDF (what LaTeX's ``\\includegraphics`` takes). Each format is a full draw of the figure
(``bbox_inches="tight"`` draws twice): the report's 12 figures cost about 2 s per format on one core, so
writing SVG too added a third of the figures' cost to every run; pass ``formats=("png", "svg", "pdf")``
(:func:`save`, :func:`fairssl.report.html.build_report`) for SVG (text kept as text, editable)."""
SUPPORTED_FORMATS = ("png", "svg", "pdf")
"""Formats :func:`save` writes."""
DPI = 120
SUPERVISED_COLOR = "#6b6b6b"
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
BAND_COLOR = "#2ca02c"
"""Colour of the four-fifths band and its edge line."""

STYLE: dict[str, Any] = {
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "svg.fonttype": "none",
}
"""The report's matplotlib style, applied within :func:`style` (never to the global rcParams)."""


@contextmanager
def style() -> Iterator[None]:
    """Draw and save the report's figures inside this block: matplotlib's defaults plus :data:`STYLE`
    apply here (whatever the caller's rcParams: a figure looks the same in any process) and the caller's
    settings are back after."""
    with matplotlib.rc_context():
        matplotlib.rcdefaults()  # keeps the backend (matplotlib leaves it out of the defaults it restores)
        matplotlib.rcParams.update(STYLE)  # type: ignore[arg-type]
        yield


def render(draw: Callable[[], Figure], directory: Path, name: str, formats: Sequence[str]) -> Path:
    """Draw ``draw()``'s figure in the report's :func:`style` and :func:`save` it; returns the PNG. A
    module-level function, so a worker process can run it (``draw`` then has to pickle:
    ``functools.partial`` of a module-level function, not a lambda)."""
    with style():
        return save(draw(), directory, name, formats=formats)


def subplots(
    nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float], **kwargs: Any
) -> tuple[Figure, Any]:
    """``(figure, axes)`` like ``pyplot.subplots`` but without pyplot: no backend, no global registry."""
    fig = Figure(figsize=figsize, dpi=kwargs.pop("dpi", DPI))
    return fig, fig.subplots(nrows, ncols, **kwargs)


def setup_colors(setups: Iterable[str]) -> dict[str, str]:
    """A colour per setup: grey for supervised, the palette in level-of-supervision order for the rest."""
    out: dict[str, str] = {}
    i = 0
    for s in setup_order(setups):
        if s == SUPERVISED:
            out[s] = SUPERVISED_COLOR
        else:
            out[s] = PALETTE[i % len(PALETTE)]
            i += 1
    return out


def empty_figure(message: str, *, size: tuple[float, float] = (6.0, 1.6)) -> Figure:
    """A figure holding only ``message`` (what is missing), drawn where there is nothing to plot."""
    fig, ax = subplots(figsize=size)
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=10, color="0.3", wrap=True)
    return fig


def error_bars(mean: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Asymmetric error bars (2, n) from intervals around (n,) means; 0 where the interval is missing."""
    below = np.where(np.isfinite(low), mean - low, 0.0)
    above = np.where(np.isfinite(high), high - mean, 0.0)
    return np.clip(np.vstack([below, above]), 0.0, None)  # (2, n)


def panel_grid(n_panels: int, *, ncols: int, width: float, height: float) -> tuple[Figure, list[Axes]]:
    """A figure of ``n_panels`` axes, ``ncols`` a row, each ``width`` x ``height`` inches; spare axes off."""
    ncols = max(1, min(ncols, n_panels))
    nrows = int(np.ceil(n_panels / ncols))
    fig, axes = subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n_panels:]:
        ax.axis("off")
    return fig, flat[:n_panels]


def save(fig: Figure, directory: Path, name: str, *, formats: Sequence[str] = FORMATS) -> Path:
    """Write ``name.<format>`` for each of ``formats`` (of :data:`SUPPORTED_FORMATS`; PNG always, first);
    returns the PNG."""
    unknown = sorted(set(formats) - set(SUPPORTED_FORMATS))
    if unknown:
        raise ConfigError(
            f"figure formats must be among {SUPPORTED_FORMATS}, got {unknown}; pass e.g. ('png', 'svg')"
        )
    directory.mkdir(parents=True, exist_ok=True)
    png = directory / f"{name}.png"
    for fmt in dict.fromkeys(["png", *formats]):
        fig.savefig(directory / f"{name}.{fmt}", bbox_inches="tight", dpi=DPI if fmt == "png" else None)
    return png
