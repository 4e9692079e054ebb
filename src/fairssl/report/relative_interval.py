"""When a relative parity-deviation interval can be read, and when it cannot.

A relative change divides a PD change by a parity deviation (the baseline's, or the control's). With few
seeds (t on 1 df) or a denominator near 0 its interval is true but unreadable (``-30571%``). The report's
sentences and tables then print "no usable relative interval" and the absolute PD change instead
(:func:`fairssl.report.sentences.change_text`, :func:`fairssl.report.summary.summary_table`).
"""

from __future__ import annotations

import numpy as np

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


__all__ = ["MAX_RELATIVE_BOUND", "unusable_relative"]
