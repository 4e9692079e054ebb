"""When a relative parity-deviation interval can be read, and when it cannot.

A relative change divides a PD change by a parity deviation (the baseline's, or the control's). With few
seeds (t on 1 df) or a denominator near 0 its interval is true but unreadable (``-30571%``). The report's
sentences and tables then print "no usable relative interval" and the absolute PD change instead
(:func:`fairssl.report.sentences.change_text`, :func:`fairssl.report.summary.summary_table`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fairssl.report.formatting import fmt_ci

MAX_RELATIVE_BOUND = 10.0
"""A relative PD-change bound beyond +-1000% (as a share: 10) is not printed."""


def unusable_relative(lo: float, hi: float, *, baseline_low: float | None = None) -> str:
    """Why a relative interval [lo, hi] (shares, 0.28 = 28%) cannot be read, or ``""`` when it can.

    A bound's magnitude above :data:`MAX_RELATIVE_BOUND` (1000%), or a denominator whose own interval
    reaches 0 (``baseline_low`` <= 0: its parity deviation may be 0, so any ratio is possible).
    """
    if baseline_low is not None and np.isfinite(baseline_low) and baseline_low <= 0:
        return "the parity deviation it is relative to has an interval reaching 0"
    if max(abs(lo), abs(hi)) > MAX_RELATIVE_BOUND:
        return f"a bound is beyond {100 * MAX_RELATIVE_BOUND:.0f}%"
    return ""


NO_USABLE = "no usable relative interval"


def improvement_text(row: Any, *, baseline_low: float | None = None, missing: str = "") -> str:
    """A comparison row's relative PD improvement for a table: ``28% [12, 41]`` (as
    :func:`~fairssl.report.formatting.fmt_ci` in %), or ``40% [no usable relative interval]`` when
    :func:`unusable_relative` says its interval cannot be read (``baseline_low``: the supervised
    model's ``pd_low``)."""
    value, lo, hi = (
        float(row.get(k, np.nan)) for k in ("improvement", "improvement_low", "improvement_high")
    )
    if (
        np.isfinite(value)
        and np.isfinite(lo)
        and np.isfinite(hi)
        and unusable_relative(lo, hi, baseline_low=baseline_low)
    ):
        point = fmt_ci(value, np.nan, np.nan, digits=0, scale=100, suffix="%")
        return f"{point} [{NO_USABLE}]"
    return fmt_ci(value, lo, hi, digits=0, scale=100, suffix="%", missing=missing)


def supervised_pd_low(comp: Any) -> float | None:
    """The supervised row's ``pd_low`` in a comparison frame (None without one)."""
    if comp is None or getattr(comp, "empty", True) or "setup" not in comp:
        return None
    rows = comp[comp["setup"].astype(str) == "supervised"]
    return float(rows["pd_low"].iloc[0]) if len(rows) and "pd_low" in rows else None


__all__ = ["MAX_RELATIVE_BOUND", "NO_USABLE", "improvement_text", "supervised_pd_low", "unusable_relative"]
