"""Numbers and intervals as the report's text: ``0.704 [0.626, 0.783]``, ``-0.9``, ``28%``, ``–``.

Shared by the plain-language summary (missing values read ``n/a``) and the HTML tables (missing values
read :data:`DASH`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fairssl.report.conventions import to_float

DASH = "–"
"""What an HTML table cell shows for a missing value."""


def fmt_bounds(low: Any, high: Any, *, digits: int = 3, missing: str = DASH) -> str:
    """``[low, high]`` with ``digits`` decimals; ``missing`` when either bound is missing or not finite."""
    lo, hi = to_float(low), to_float(high)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return missing
    return f"[{lo:.{digits}f}, {hi:.{digits}f}]"


def fmt_ci(
    value: Any,
    low: Any,
    high: Any,
    *,
    digits: int = 3,
    scale: float = 1.0,
    suffix: str = "",
    missing: str = "n/a",
) -> str:
    """``0.704 [0.626, 0.783]``; the value alone when the interval is missing; ``missing`` for NaN.

    All three are multiplied by ``scale`` first (100 for percent or AUROC points); ``suffix`` (e.g. ``%``)
    follows the value only.
    """
    v, lo, hi = (to_float(x) * scale for x in (value, low, high))
    if not np.isfinite(v):
        return missing
    text = f"{v:.{digits}f}{suffix}"
    if np.isfinite(lo) and np.isfinite(hi):
        text += " " + fmt_bounds(lo, hi, digits=digits)
    return text


def fmt_number(value: Any, digits: int = 3) -> str:
    """One table cell's text: ``digits`` decimals for floats (none for whole numbers when ``digits`` is 0),
    integers as they are, booleans as yes/no, :data:`DASH` for None and non-finite floats, else ``str``."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return DASH
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return str(int(v)) if digits == 0 and v.is_integer() and abs(v) < 1e15 else f"{v:.{digits}f}"
    return str(value)
