"""Fairlearn's attribute-level metrics: all eligible groups of one attribute compared at once.

``method="between_groups"``, ``agg="worst_case"``: the spread (max - min, ideal 0) or the min/max ratio
(ideal 1) of a group rate of :mod:`~fairssl.evaluation.rates` over the eligible groups. Counts (..., G, 4)
-> (...), so one call evaluates all bootstrap resamples.

Reason codes (``""`` when the value is valid): ``fewer_than_two_groups``, ``no_positives_in_a_group`` /
``no_negatives_in_a_group`` (equalized odds), ``zero_denominator`` (the largest group rate is 0).
"""

from __future__ import annotations

import numpy as np

from fairssl.errors import ConfigError
from fairssl.evaluation.counts import FN, FP, TN, TP
from fairssl.evaluation.rates import cell_sum, group_rate

ATTRIBUTE_METRICS: tuple[str, ...] = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
)
"""Names of the fairlearn attribute-level metrics (all eligible groups at once), in table order."""


def _masked_range(rates: np.ndarray, eligible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(min, max) over the eligible groups (last axis) of rates (..., G)."""
    lo = np.where(eligible, rates, np.inf).min(axis=-1)
    hi = np.where(eligible, rates, -np.inf).max(axis=-1)
    return lo, hi


def _min_over_max(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(hi > 0, lo / np.where(hi > 0, hi, 1.0), np.nan)


def attribute_metric(metric: str, counts: np.ndarray, eligible: np.ndarray | None = None) -> np.ndarray:
    """A fairlearn metric over all eligible groups of one attribute. Counts (..., G, 4) -> (...).

    - ``demographic_parity_difference`` = max_g SR_g - min_g SR_g (ideal 0, larger is worse);
    - ``demographic_parity_ratio`` = min_g SR_g / max_g SR_g (ideal 1, smaller is worse);
    - ``equalized_odds_difference`` = max(TPR range, FPR range), range = max_g - min_g (ideal 0, larger
      is worse);
    - ``equalized_odds_ratio`` = min(min TPR / max TPR, min FPR / max FPR) (ideal 1, smaller is worse).

    These are fairlearn's definitions (``method="between_groups"``, ``agg="worst_case"``), except that a
    group without positives (negatives) makes equalized odds NaN instead of using TPR (FPR) = 0.

    Args:
        eligible: bool (G,) groups taking part (default all); fewer than two gives NaN.
    """
    counts = np.asarray(counts, dtype=np.float64)
    n_groups = counts.shape[-2]
    elig = np.ones(n_groups, dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
    out_shape = counts.shape[:-2]
    if elig.sum() < 2:
        return np.full(out_shape, np.nan)
    if metric.startswith("demographic_parity"):
        lo, hi = _masked_range(group_rate(counts, "selection_rate"), elig)
        return hi - lo if metric.endswith("difference") else _min_over_max(lo, hi)
    if metric.startswith("equalized_odds"):
        tpr = group_rate(counts, "true_positive_rate")  # (..., G), NaN where a group has no positives
        fpr = group_rate(counts, "false_positive_rate")
        undefined = (np.isnan(tpr) | np.isnan(fpr))[..., elig].any(axis=-1)
        t_lo, t_hi = _masked_range(tpr, elig)
        f_lo, f_hi = _masked_range(fpr, elig)
        if metric.endswith("difference"):
            value = np.maximum(t_hi - t_lo, f_hi - f_lo)
        else:
            value = np.minimum(_min_over_max(t_lo, t_hi), _min_over_max(f_lo, f_hi))
        return np.where(undefined, np.nan, value)
    raise ConfigError(
        f"unknown attribute-level metric {metric!r}; choose one of {', '.join(ATTRIBUTE_METRICS)}"
    )


def attribute_reason(metric: str, counts: np.ndarray, eligible: np.ndarray | None = None) -> str:
    """Reason code for :func:`attribute_metric` on counts (G, 4) of the full data; ``""`` when valid."""
    counts = np.asarray(counts, dtype=np.float64)
    elig = np.ones(counts.shape[0], dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
    if elig.sum() < 2:
        return "fewer_than_two_groups"
    sub = counts[elig]
    if metric.startswith("equalized_odds"):
        if (cell_sum(sub, (FN, TP)) <= 0).any():
            return "no_positives_in_a_group"
        if (cell_sum(sub, (TN, FP)) <= 0).any():
            return "no_negatives_in_a_group"
    value = attribute_metric(metric, counts, elig)
    return "zero_denominator" if np.isnan(value) else ""
