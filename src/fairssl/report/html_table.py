"""A data frame as a plain, sortable HTML table of the report (no external CSS or JS).

Cells are text with an optional numeric sort key and CSS class (:class:`Cell`); a frame may hold Cells or
plain values, which are formatted by :func:`~fairssl.report.formatting.fmt_number`. The page's inline
script sorts a table by a click on a header, numerically by each cell's ``data-v``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup

from fairssl.report.conventions import to_float
from fairssl.report.formatting import DASH, fmt_ci, fmt_number

_VERDICT_TEXT = {
    "baseline": "baseline",
    "fairer": "fairer",
    "not_distinguishable": "not distinguishable",
    "less_fair": "less fair",
    "no_interval": "no interval",
    "no_baseline": "no baseline",
    "at_chance": "no verdict: at chance",
    "one_seed": "no verdict: one seed",
    "not_tested": "not tested (outside the family)",
}


@dataclass
class Cell:
    """One table cell: its text, an optional numeric sort key, CSS class and tooltip."""

    text: str
    sort: float | None = None
    css: str = ""
    title: str = ""


def ci_cell(est: Any, low: Any, high: Any, *, digits: int = 3, scale: float = 1.0, suffix: str = "") -> Cell:
    """``est [low, high]`` (times ``scale``, as :func:`~fairssl.report.formatting.fmt_ci`), sorting by est."""
    e = to_float(est)
    text = fmt_ci(est, low, high, digits=digits, scale=scale, suffix=suffix, missing=DASH)
    return Cell(text, e if np.isfinite(e) else None)


def verdict_cell(verdict: Any) -> Cell:
    """A :data:`~fairssl.report.comparison.VERDICTS` entry in words, with the CSS class ``v-<verdict>``."""
    v = str(verdict)
    return Cell(_VERDICT_TEXT.get(v, v), None, f"v-{v}")


def as_cell(value: Any, *, digits: int = 3) -> Cell:
    """``value`` as a Cell: Cells unchanged; numbers (not booleans) sort by their value when finite."""
    if isinstance(value, Cell):
        return value
    sort = None
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        sort = float(value) if np.isfinite(float(value)) else None
    return Cell(fmt_number(value, digits), sort)


def html_table(
    frame: pd.DataFrame,
    *,
    table_id: str | None = None,
    sortable: bool = True,
    wrap: bool = False,
    digits: Mapping[str, int] | None = None,
    max_rows: int | None = None,
    numeric: Sequence[str] = (),
) -> Markup:
    """A plain HTML table of ``frame`` (cells may be :class:`Cell`); numbers right-aligned, NaN as '–'.

    ``sortable`` tables sort by a click on a header (inline script); each numeric cell carries its value
    in ``data-v`` so sorting is numeric.
    """
    if frame is None or frame.empty:
        return Markup('<p class="note">(empty table)</p>')
    digits = dict(digits or {})
    rows = frame if max_rows is None else frame.head(max_rows)
    attrs = f' id="{html.escape(table_id)}"' if table_id else ""
    cls = "t" + (" sortable" if sortable else "") + (" wrap" if wrap else "")
    out = [f'<div class="scroll"><table class="{cls}"{attrs}><thead><tr>']
    for col in rows.columns:
        out.append(f"<th>{html.escape(str(col))}</th>")
    out.append("</tr></thead><tbody>")
    numeric_cols = {str(c) for c in rows.columns if pd.api.types.is_numeric_dtype(rows[c])} | set(numeric)
    for rec in rows.itertuples(index=False):
        out.append("<tr>")
        for col, value in zip(rows.columns, rec, strict=True):
            cell = as_cell(value, digits=digits.get(str(col), 3))
            classes = [cell.css] if cell.css else []
            if cell.sort is not None or str(col) in numeric_cols:
                classes.append("num")
            cattr = f' class="{" ".join(classes)}"' if classes else ""
            sattr = f' data-v="{cell.sort:.12g}"' if cell.sort is not None else ""
            tattr = f' title="{html.escape(cell.title)}"' if cell.title else ""
            out.append(f"<td{cattr}{sattr}{tattr}>{html.escape(cell.text)}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return Markup("".join(out))
