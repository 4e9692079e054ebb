"""Time gaps inside windows of a long table: which windows span a gap, and how large it is.

A long table is cut into windows of consecutive *rows*; when a subject's rows are irregular (a diary
with days left out, a sensor switched off), one window may cover 3 days and the next 20. This module
measures, for each window, the *steps* between its consecutive rows (``t[r] - t[r-1]``, in the units of
the time column; nanoseconds internally for datetimes) and flags two kinds of gap:

- ``max_gap`` (the user's bound): a step larger than it; such windows are dropped by the loader.
- the *median rule*, always measured: a step larger than ``GAP_FACTOR`` (3) x the subject's median
  step. On a regular series no step is flagged; a daily diary with a 2-16 day hole is. Windows that
  span such a step are kept (unless ``max_gap`` drops them) and counted, so the audit can warn.

Times may be numbers, datetimes (tz-aware ones are compared in UTC) or ISO-8601 text; any other time
column cannot be measured (``TimeAxis.kind == "unknown"``): the median rule then reports nothing and
``max_gap`` is a :class:`~fairssl.errors.ConfigError`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from fairssl.errors import ConfigError, DataError

GAP_FACTOR = 3.0
GAP_RULE = f"a step between consecutive rows > {GAP_FACTOR:g} x the subject's median step"


@dataclass(frozen=True, eq=False)
class TimeAxis:
    """Row times in sorted order as numbers: ``kind`` "number" (units of the column), "datetime"
    (int64 nanoseconds) or "unknown" (``values`` None: the column cannot be measured)."""

    kind: str
    values: np.ndarray | None


def time_axis(column: pd.Series, order: np.ndarray) -> TimeAxis:
    """The time ``column`` (R,) as a :class:`TimeAxis`, rows taken in ``order`` (the sorted order)."""
    if pd.api.types.is_bool_dtype(column):
        return TimeAxis("unknown", None)
    if pd.api.types.is_numeric_dtype(column):
        return TimeAxis("number", column.to_numpy(dtype=float)[order])
    if isinstance(column.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(column):
        stamps = pd.to_datetime(column)
    else:
        try:
            stamps = pd.to_datetime(column.astype(str), format="ISO8601")
        except (ValueError, TypeError):
            return TimeAxis("unknown", None)
    if stamps.dt.tz is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return TimeAxis("datetime", stamps.to_numpy(dtype="datetime64[ns]").astype(np.int64)[order])


def gap_limit(max_gap: Any, axis: TimeAxis, time_col: str) -> float | None:
    """``max_gap`` in the axis' units (nanoseconds for datetimes), or None when not set.

    Numbers go with a numeric time column, durations (``"2D"``, ``"36h"``, a ``timedelta``) with a
    datetime one; anything else is a one-line :class:`ConfigError`.
    """
    if max_gap is None:
        return None
    if axis.kind == "unknown":
        raise ConfigError(
            f"max_gap needs a numeric or datetime time column, but {time_col!r} holds neither; "
            "store times as numbers or ISO dates (YYYY-MM-DD), or leave max_gap out"
        )
    is_number = isinstance(max_gap, int | float | np.integer | np.floating) and not isinstance(max_gap, bool)
    if axis.kind == "number":
        if not is_number:
            raise ConfigError(
                f"max_gap = {max_gap!r}: time column {time_col!r} is numeric, so give max_gap as a "
                "number in its units (e.g. 2)"
            )
        limit = float(max_gap)
    else:
        if is_number or not isinstance(max_gap, str | dt.timedelta | pd.Timedelta):
            raise ConfigError(
                f"max_gap = {max_gap!r}: time column {time_col!r} holds dates, so give max_gap as a "
                "duration such as '2D' or '36h'"
            )
        try:
            limit = pd.Timedelta(max_gap) / pd.Timedelta(1, "ns")
        except ValueError as exc:
            raise ConfigError(f"max_gap = {max_gap!r} is not a duration; use e.g. '2D' or '36h'") from exc
    if not (np.isfinite(limit) and limit > 0):
        raise ConfigError(f"max_gap = {max_gap!r} must be positive (or omitted to count rows only)")
    return limit


def row_steps(values: np.ndarray, starts: np.ndarray, time_col: str) -> np.ndarray:
    """(R,) float step from each row's previous row of the same subject; NaN at each subject's first row.

    Raises :class:`DataError` if a step is negative (text times that do not sort chronologically).
    """
    steps = np.empty(len(values))
    steps[0] = np.nan
    steps[1:] = np.diff(values).astype(float)
    steps[starts] = np.nan
    if (steps < 0).any():
        raise DataError(
            f"time column {time_col!r} holds text times that do not sort in time order as text; "
            "write them all in one ISO format (YYYY-MM-DD or YYYY-MM-DD HH:MM:SS)"
        )
    return steps


def long_steps(steps: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(R,) bool: steps larger than ``GAP_FACTOR`` x the median step of the row's subject."""
    subject_of_row = np.repeat(np.arange(len(starts)), lengths)
    medians = pd.Series(steps).groupby(subject_of_row).median().to_numpy()  # (S,), NaN-skipping
    with np.errstate(invalid="ignore"):
        return steps > GAP_FACTOR * medians[subject_of_row]


def count_in_windows(flags: np.ndarray, first: np.ndarray, window: int) -> np.ndarray:
    """(n,) number of flagged *steps* inside each window of one subject.

    ``flags`` (L,) marks row r when the step from row r-1 to r is flagged; the window starting at row s
    holds the steps into rows s+1 .. s+window-1 (the step into its first row is outside it).
    """
    cum = np.r_[0, np.cumsum(flags)]  # (L + 1,)
    return cum[first + window] - cum[first + 1]


def largest_step(steps: np.ndarray, first: np.ndarray, window: int) -> float:
    """The largest step inside the windows starting at ``first`` (one subject's ``steps`` (L,))."""
    if window < 2 or len(first) == 0:
        return float("nan")
    inner = sliding_window_view(steps[1:], window - 1)  # (L - window + 1, window - 1)
    return float(np.nanmax(inner[first]))


def format_step(value: float, kind: str) -> str | None:
    """A step for people: ``"16 days"`` for datetimes, ``"2.5"`` for numbers, None when NaN."""
    if not np.isfinite(value):
        return None
    if kind == "datetime":
        return str(pd.Timedelta(round(value), "ns")).replace(" 00:00:00", "")
    return f"{value:g}"


__all__ = [
    "GAP_FACTOR",
    "GAP_RULE",
    "TimeAxis",
    "count_in_windows",
    "format_step",
    "gap_limit",
    "largest_step",
    "long_steps",
    "row_steps",
    "time_axis",
]
