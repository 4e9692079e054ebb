"""AUROC values the reader must not over-read: estimates near chance and intervals that say nothing.

An AUROC of 0.5 is chance. Two marks are put beside an AUROC cell of the report (HTML and Markdown, with
the legend sentence :func:`legend` under the table):

- :data:`CHANCE_MARK` when the estimate lies within :data:`CHANCE_BAND` of 0.5 (the model ranks cases
  barely better than a coin; its fairness numbers describe noise);
- :data:`DEGENERATE_MARK` when the interval is degenerate: it covers [0, 1] (shown as ``[0.000, 1.000]``)
  or is at least :data:`DEGENERATE_WIDTH` wide, i.e. the test set held too few windows or positives
  for the value to mean anything.

The evaluation's own ``at_chance`` verdict (an interval at 1 - alpha that includes 0.5) is separate: it is
named in the report's caveats (:mod:`~fairssl.report.caveats`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from fairssl.report.conventions import to_float
from fairssl.report.formatting import DASH, fmt_ci
from fairssl.report.html_table import Cell

CHANCE_BAND = 0.05
"""|AUROC - 0.5| <= this is "within the chance band" (0.45-0.55)."""

DEGENERATE_WIDTH = 0.9
"""An AUROC interval at least this wide (of the [0, 1] range) is degenerate."""

CHANCE_MARK = "†"
DEGENERATE_MARK = "‡"

_EDGE = 5e-4
"""Bounds within this of 0 and 1 read ``0.000`` and ``1.000``: the interval covers [0, 1]."""


def near_chance(estimate: Any) -> bool:
    """True when the AUROC ``estimate`` lies within :data:`CHANCE_BAND` of 0.5 (False for NaN)."""
    e = to_float(estimate)
    return bool(np.isfinite(e) and abs(e - 0.5) <= CHANCE_BAND + 1e-12)


def degenerate(low: Any, high: Any) -> bool:
    """True when the interval [low, high] covers [0, 1] or is at least :data:`DEGENERATE_WIDTH` wide."""
    lo, hi = to_float(low), to_float(high)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return False
    return bool((lo <= _EDGE and hi >= 1 - _EDGE) or hi - lo >= DEGENERATE_WIDTH - 1e-12)


def auroc_marks(estimate: Any, low: Any, high: Any) -> str:
    """``""``, :data:`CHANCE_MARK`, :data:`DEGENERATE_MARK` or both, for one AUROC and its interval."""
    return (CHANCE_MARK if near_chance(estimate) else "") + (DEGENERATE_MARK if degenerate(low, high) else "")


def marked_text(estimate: Any, low: Any, high: Any, *, digits: int = 3, missing: str = "n/a") -> str:
    """``0.503 [0.000, 1.000] †‡``: :func:`~fairssl.report.formatting.fmt_ci` with the marks appended."""
    text = fmt_ci(estimate, low, high, digits=digits, missing=missing)
    marks = auroc_marks(estimate, low, high)
    return f"{text} {marks}" if marks else text


def auroc_cell(estimate: Any, low: Any, high: Any, *, digits: int = 3) -> Cell:
    """An HTML table cell of an AUROC with its interval and marks (CSS class ``flag`` when marked; the
    marks explained in its tooltip), sorting by the estimate."""
    e = to_float(estimate)
    marks = auroc_marks(estimate, low, high)
    title = " ".join(_MEANING[m] for m in marks)
    return Cell(
        marked_text(estimate, low, high, digits=digits, missing=DASH),
        e if np.isfinite(e) else None,
        "flag" if marks else "",
        title,
    )


_MEANING = {
    CHANCE_MARK: f"{CHANCE_MARK} AUROC within {CHANCE_BAND:g} of 0.5 (chance).",
    DEGENERATE_MARK: f"{DEGENERATE_MARK} interval spans {DEGENERATE_WIDTH:g} or more of [0, 1].",
}


def legend(texts: Iterable[Any]) -> str:
    """The legend sentence for the marks found in ``texts`` (cells or strings), "" when none is."""
    seen = "".join(str(t.text if isinstance(t, Cell) else t) for t in texts)
    parts = []
    if CHANCE_MARK in seen:
        parts.append(
            f"{CHANCE_MARK} AUROC within the chance band {0.5 - CHANCE_BAND:.2f}-{0.5 + CHANCE_BAND:.2f} "
            "(0.5 = chance): the model barely ranks cases, and its fairness numbers describe noise"
        )
    if DEGENERATE_MARK in seen:
        parts.append(
            f"{DEGENERATE_MARK} degenerate interval (covers [0, 1] or is {DEGENERATE_WIDTH:g} wide or more): "
            "too few test windows or positives for the value to mean anything (evaluation.min_group_size, "
            "evaluation.min_positives, more test subjects)"
        )
    return "; ".join(parts) + "." if parts else ""


def count_marks(rows: Iterable[tuple[Any, Any, Any]]) -> tuple[int, int]:
    """(near-chance estimates, degenerate intervals) among (estimate, low, high) triples."""
    chance = degenerate_n = 0
    for est, low, high in rows:
        chance += near_chance(est)
        degenerate_n += degenerate(low, high)
    return chance, degenerate_n
