"""Group-fairness metrics (AIF360 ClassificationMetric and fairlearn definitions) from confusion counts.

Vocabulary. ``u`` is the compared (AIF360: unprivileged) group, ``p`` the reference (AIF360: privileged)
group; the positive class is 1 (``pos_label`` selects it for multiclass labels, one-vs-rest). Every metric
is a function of the confusion counts of :mod:`fairssl.evaluation.counts` (last axis ``tn, fp, fn, tp``) and
works on any leading shape, so one call evaluates all bootstrap resamples at once.

Group rates (NaN where the denominator is 0)::

    selection_rate SR = (fp + tp) / n          true_positive_rate  TPR = tp / (tp + fn)
    error_rate    ERR = (fp + fn) / n          false_negative_rate FNR = fn / (tp + fn)
    false_positive_rate FPR = fp / (fp + tn)   true_negative_rate  TNR = tn / (fp + tn)
    false_discovery_rate FDR = fp / (fp + tp)  positive_predictive_value PPV = tp / (fp + tp)
    false_omission_rate  FOR = fn / (fn + tn)

Pairwise metrics: ``*_difference = rate_u - rate_p`` (ideal 0) and ``*_ratio = rate_u / rate_p`` (ideal
1), exactly as AIF360 defines them, except where a value rests on no information (below): there AIF360
returns inf, NaN, 0, or a number built on its 0/0 := 0 convention or on a rate fixed by the labels alone;
we return NaN plus a reason code. Attribute-level metrics (fairlearn, ``method="between_groups"``) compare
all eligible groups of an attribute at once.

Undefined values. A rate ``r = num / den`` counts events (its numerator cells) among a base (its
denominator cells). A pairwise value is NaN, with the first reason that applies, when in the compared
group u or in the reference p (checked in that order, rate by rate):

1. the base is empty (den = 0): ``empty_*`` (SR, ERR), ``no_positives_in_*`` (TPR, FNR),
   ``no_negatives_in_*`` (FPR, TNR), ``no_predicted_positives_in_*`` (FDR, PPV),
   ``no_predicted_negatives_in_*`` (FOR);
2. the rate is fixed by the side's labels, not by the model: FDR, PPV and FOR read both label classes,
   so a side without positives has FDR = 1, PPV = 0, FOR = 0 and a side without negatives FDR = 0,
   PPV = 1, FOR = 1 whatever the predictions: ``no_positives_in_*`` / ``no_negatives_in_*``;
3. ratios only: the ratio rests on zero events: r_p = 0 (``zero_denominator``; disparate impact:
   ``no_predicted_positives_in_reference``) or r_u = 0 (``zero_numerator``; disparate impact:
   ``no_predicted_positives_in_group``). With zero events on a side a ratio is 0 or infinite whatever
   the size of the gap (and its ``|log r|`` infinite); treating u and p alike keeps the ratio symmetric
   (swapping them turns r into 1/r and a NaN into a NaN).

Differences keep rules 1 and 2 only (a difference involving a zero rate is finite and meaningful).
Per ratio of :data:`PARITY_RATIOS`, a side (u or p) makes the ratio NaN when it has::

    disparate_impact            no windows, or no predicted positives
    error_rate_ratio            no windows, or no errors (fp + fn = 0)
    false_discovery_rate_ratio  no predicted positives, no positives, no negatives, or fp = 0
    false_negative_rate_ratio   no positives, or fn = 0
    false_omission_rate_ratio   no predicted negatives, no positives, no negatives, or fn = 0
    false_positive_rate_ratio   no negatives, or fp = 0

A group whose windows, subjects or positives fall below the minimum sizes is NaN in every pairwise row
(``group_below_min_size|min_subjects|min_positives``, ``reference_below_min_...``), checked before the
rules above.

Parity modes (:func:`plan_comparisons`). ``parity="pairwise"`` compares each group with a reference
chosen by ``reference`` (``majority``, ``rest``, ``best`` or named). ``parity="paper"`` is the paper's
binarised definition: per attribute the privileged group (``privileged[attribute]``) against all other
eligible non-missing groups pooled (``group="rest"``), one comparison per attribute, every ratio
``rate_rest / rate_privileged`` (AIF360: unprivileged over privileged).

Parity deviation (:func:`parity_deviation`): the six ratios of :data:`PARITY_RATIOS` turned into
deviations from parity, ``|1 - r|`` (``deviation="abs"``, the paper's) or ``|log r|`` (``"log"``,
symmetric: r and 1/r count alike); per attribute the mean deviation over its defined ratio rows; pooled,
the mean over attributes, so each attribute weighs equally whatever its number of groups (before this,
all ratio rows were pooled, so a five-group attribute outweighed a two-group one four to one). Ideal 0;
larger is worse.

Reason codes (``""`` when the value is valid):
``no_positives_in_group|reference``, ``no_negatives_in_group|reference``,
``no_predicted_positives_in_group|reference``, ``no_predicted_negatives_in_group|reference``,
``empty_group|reference`` (rules 1-2), ``zero_denominator`` / ``zero_numerator`` (rule 3; for fairlearn
ratios: the largest group rate is 0), ``group_below_min_size``, ``group_below_min_subjects``,
``group_below_min_positives`` and ``reference_below_min_size|min_subjects|min_positives``,
``no_eligible_group_in_rest`` (paper mode: no other group meets the minimum sizes),
``fewer_than_two_groups``, ``no_positives_in_a_group`` / ``no_negatives_in_a_group`` (fairlearn
equalized odds), ``no_valid_comparison`` (a worst-case row without any valid group row).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fairssl.data.dataset import MISSING
from fairssl.errors import ConfigError, DataError
from fairssl.evaluation.counts import (
    FN,
    FP,
    TN,
    TP,
    GroupCodes,
    as_sensitive_frame,
    binarise,
    check_min_group_size,
    check_min_size,
    confusion_counts,
    encode_groups,
    encode_subjects,
    group_subjects,
    subjects_in,
)

# ---------------------------------------------------------------------------------------------- group rates
_ALL = (TN, FP, FN, TP)
_RATES: dict[str, tuple[tuple[int, ...], tuple[int, ...], str]] = {
    # name: (numerator cells, denominator cells, reason stem when the denominator is 0)
    "selection_rate": ((FP, TP), _ALL, "empty"),
    "error_rate": ((FP, FN), _ALL, "empty"),
    "accuracy": ((TN, TP), _ALL, "empty"),
    "true_positive_rate": ((TP,), (FN, TP), "no_positives"),
    "false_negative_rate": ((FN,), (FN, TP), "no_positives"),
    "false_positive_rate": ((FP,), (TN, FP), "no_negatives"),
    "true_negative_rate": ((TN,), (TN, FP), "no_negatives"),
    "positive_predictive_value": ((TP,), (FP, TP), "no_predicted_positives"),
    "false_discovery_rate": ((FP,), (FP, TP), "no_predicted_positives"),
    "false_omission_rate": ((FN,), (TN, FN), "no_predicted_negatives"),
}
# rates that read both label classes: fixed by the labels alone in a side with only one class (rule 2)
_BOTH_CLASSES = frozenset({"false_discovery_rate", "positive_predictive_value", "false_omission_rate"})


def _cells(counts: np.ndarray, cells: tuple[int, ...]) -> np.ndarray:
    return np.asarray(counts, dtype=np.float64)[..., list(cells)].sum(axis=-1)


def group_rate(counts: np.ndarray, rate: str) -> np.ndarray:
    """A rate of :data:`_RATES` (e.g. ``"true_positive_rate"``) from counts (..., 4) -> (...), NaN if 0/0.

    The plain descriptive rate: rules 2-3 of the module docstring apply to comparisons, not here.
    """
    if rate not in _RATES:
        raise ConfigError(f"unknown rate {rate!r}; choose one of {', '.join(_RATES)}")
    num_cells, den_cells, _ = _RATES[rate]
    num, den = _cells(counts, num_cells), _cells(counts, den_cells)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


# ------------------------------------------------------------------------------------ pairwise metrics
def _undefined_checks(counts: np.ndarray, rate: str) -> list[tuple[np.ndarray, str]]:
    """(mask (...), reason stem) of rules 1-2 on one side's counts (..., 4): ``rate`` uninformative."""
    _, den_cells, stem = _RATES[rate]
    checks = [(_cells(counts, den_cells) <= 0, stem)]
    if rate in _BOTH_CLASSES:
        checks.append((_cells(counts, (FN, TP)) <= 0, "no_positives"))
        checks.append((_cells(counts, (TN, FP)) <= 0, "no_negatives"))
    return checks


@dataclass(frozen=True)
class _Pairwise:
    kind: str  # "difference" | "ratio" | "average_odds" | "average_abs_odds"
    rates: tuple[str, ...]
    zero_reason: str = "zero_denominator"  # reason of a ratio whose reference rate is 0
    zero_numerator_reason: str = "zero_numerator"  # reason of a ratio whose group rate is 0


_PAIRWISE: dict[str, _Pairwise] = {
    "statistical_parity_difference": _Pairwise("difference", ("selection_rate",)),
    "disparate_impact": _Pairwise(
        "ratio",
        ("selection_rate",),
        "no_predicted_positives_in_reference",
        "no_predicted_positives_in_group",
    ),
    "equal_opportunity_difference": _Pairwise("difference", ("true_positive_rate",)),
    "average_odds_difference": _Pairwise("average_odds", ("false_positive_rate", "true_positive_rate")),
    "average_abs_odds_difference": _Pairwise(
        "average_abs_odds", ("false_positive_rate", "true_positive_rate")
    ),
    "error_rate_difference": _Pairwise("difference", ("error_rate",)),
    "error_rate_ratio": _Pairwise("ratio", ("error_rate",)),
    "false_discovery_rate_difference": _Pairwise("difference", ("false_discovery_rate",)),
    "false_discovery_rate_ratio": _Pairwise("ratio", ("false_discovery_rate",)),
    "false_negative_rate_difference": _Pairwise("difference", ("false_negative_rate",)),
    "false_negative_rate_ratio": _Pairwise("ratio", ("false_negative_rate",)),
    "false_omission_rate_difference": _Pairwise("difference", ("false_omission_rate",)),
    "false_omission_rate_ratio": _Pairwise("ratio", ("false_omission_rate",)),
    "false_positive_rate_difference": _Pairwise("difference", ("false_positive_rate",)),
    "false_positive_rate_ratio": _Pairwise("ratio", ("false_positive_rate",)),
    "true_positive_rate_ratio": _Pairwise("ratio", ("true_positive_rate",)),
    "true_negative_rate_ratio": _Pairwise("ratio", ("true_negative_rate",)),
    "positive_predictive_value_ratio": _Pairwise("ratio", ("positive_predictive_value",)),
}
PAIRWISE_METRICS: tuple[str, ...] = tuple(_PAIRWISE)
"""Names of the group-vs-reference metrics, in table order."""

ATTRIBUTE_METRICS: tuple[str, ...] = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
)
"""Names of the fairlearn attribute-level metrics (all eligible groups at once), in table order."""

PARITY_RATIOS: tuple[str, ...] = (
    "disparate_impact",
    "error_rate_ratio",
    "false_discovery_rate_ratio",
    "false_negative_rate_ratio",
    "false_omission_rate_ratio",
    "false_positive_rate_ratio",
)
"""The six ratios pooled by :func:`parity_deviation`."""

REFERENCE_STRATEGIES = ("majority", "rest", "best")
PARITY_MODES = ("pairwise", "paper")
"""``parity`` options: each group against a reference, or the paper's privileged group vs the rest."""
DEVIATIONS = ("abs", "log")
"""``deviation`` options of the parity deviation: ``|1 - r|`` or ``|log r|``."""
MAJORITY_TOLERANCE = 0.10
"""A majority reference within this relative size of another candidate triggers a ReferenceWarning."""
REST_GROUP = "rest"
"""Name of a pooled side: the reference of ``reference="rest"``, the compared side of paper mode."""

WORST_GROUP = "worst"
ALL_GROUPS = "all"


def is_ratio_metric(metric: str) -> bool:
    """True for metrics whose ideal value is 1 (ratios), False for differences (ideal 0)."""
    if metric in _PAIRWISE:
        return _PAIRWISE[metric].kind == "ratio"
    return metric.endswith("_ratio")


def pairwise_metric(metric: str, counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """Evaluate a pairwise metric of :data:`PAIRWISE_METRICS` from counts (..., 4) of u and p -> (...).

    ``rate_u - rate_p`` for differences, ``rate_u / rate_p`` for ratios. NaN where the metric is undefined
    (rules 1-3 of the module docstring: an empty base, a rate fixed by one side's labels, a ratio resting
    on zero events); :func:`pairwise_reason` says why.
    """
    if metric not in _PAIRWISE:
        raise ConfigError(f"unknown fairness metric {metric!r}; choose one of {', '.join(_PAIRWISE)}")
    spec = _PAIRWISE[metric]
    r_u = [group_rate(counts_group, r) for r in spec.rates]
    r_p = [group_rate(counts_reference, r) for r in spec.rates]
    if spec.kind == "difference":
        value = r_u[0] - r_p[0]
    elif spec.kind == "ratio":
        ok = (r_p[0] != 0) & (r_u[0] != 0)  # rule 3: zero events on either side
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(ok, r_u[0] / np.where(ok, r_p[0], 1.0), np.nan)
    else:
        diffs = [a - b for a, b in zip(r_u, r_p, strict=True)]  # [FPR_u - FPR_p, TPR_u - TPR_p]
        if spec.kind == "average_odds":
            value = 0.5 * (diffs[0] + diffs[1])
        else:
            value = 0.5 * (np.abs(diffs[0]) + np.abs(diffs[1]))
    for rate in spec.rates:
        if rate in _BOTH_CLASSES:  # rule 2 (rule 1 already gives NaN through the rates)
            for counts in (counts_group, counts_reference):
                for mask, _ in _undefined_checks(counts, rate)[1:]:
                    value = np.where(mask, np.nan, value)
    return np.asarray(value, dtype=np.float64)


def pairwise_reason(metric: str, counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """Reason codes (object array, shape (...)) for :func:`pairwise_metric`; ``""`` where valid.

    The first rule of the module docstring that applies: per rate, the group's then the reference's empty
    base, then label classes (rules 1-2); for ratios then ``zero_denominator`` (r_p = 0) before
    ``zero_numerator`` (r_u = 0) (rule 3).
    """
    spec = _PAIRWISE[metric]
    shape = np.broadcast_shapes(np.shape(counts_group)[:-1], np.shape(counts_reference)[:-1])
    reason = np.full(shape, "", dtype=object)

    def mark(mask: np.ndarray, code: str) -> None:
        nonlocal reason
        reason = np.where((reason == "") & np.broadcast_to(mask, shape), code, reason)

    for rate in spec.rates:
        sides = ((counts_group, "group"), (counts_reference, "reference"))
        checks = [(_undefined_checks(counts, rate), where) for counts, where in sides]
        for found, where in checks:
            mask, stem = found[0]
            mark(mask, f"{stem}_in_{where}")
        for found, where in checks:
            for mask, stem in found[1:]:
                mark(mask, f"{stem}_in_{where}")
    if spec.kind == "ratio":
        mark(group_rate(counts_reference, spec.rates[0]) == 0, spec.zero_reason)
        mark(group_rate(counts_group, spec.rates[0]) == 0, spec.zero_numerator_reason)
    return np.asarray(reason, dtype=object)


def statistical_parity_difference(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """P(yhat=1 | u) - P(yhat=1 | p). Counts (..., 4) -> (...).

    Ideal 0; negative means the compared group is selected less often, positive more often; the larger
    ``|value|`` the worse.
    """
    return pairwise_metric("statistical_parity_difference", counts_group, counts_reference)


def disparate_impact(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """P(yhat=1 | u) / P(yhat=1 | p). Counts (..., 4) -> (...).

    Ideal 1; below 0.8 or above 1.25 falls outside the four-fifths band; farther from 1 is worse. NaN
    (``no_predicted_positives_in_reference`` / ``_in_group``) when the reference group or the compared
    group has no predicted positives.
    """
    return pairwise_metric("disparate_impact", counts_group, counts_reference)


def equal_opportunity_difference(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """TPR_u - TPR_p with TPR = tp / (tp + fn). Counts (..., 4) -> (...).

    Ideal 0; negative means the compared group's positives are missed more often; larger ``|value|`` is worse.
    """
    return pairwise_metric("equal_opportunity_difference", counts_group, counts_reference)


def average_odds_difference(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """((FPR_u - FPR_p) + (TPR_u - TPR_p)) / 2. Counts (..., 4) -> (...).

    Ideal 0; larger ``|value|`` is worse.
    """
    return pairwise_metric("average_odds_difference", counts_group, counts_reference)


def average_abs_odds_difference(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """(|FPR_u - FPR_p| + |TPR_u - TPR_p|) / 2. Counts (..., 4) -> (...). Ideal 0; larger is worse (>= 0)."""
    return pairwise_metric("average_abs_odds_difference", counts_group, counts_reference)


def error_rate_difference(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """ERR_u - ERR_p with ERR = (fp + fn) / n. Counts (..., 4) -> (...).

    Ideal 0; positive means the compared group suffers more errors; larger ``|value|`` is worse.
    """
    return pairwise_metric("error_rate_difference", counts_group, counts_reference)


def error_rate_ratio(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """ERR_u / ERR_p. Counts (..., 4) -> (...). Ideal 1; above 1 the compared group suffers more errors.

    Farther from 1 is worse; NaN (``zero_denominator`` / ``zero_numerator``) when the reference / the
    compared group makes no error.
    """
    return pairwise_metric("error_rate_ratio", counts_group, counts_reference)


def false_discovery_rate_difference(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """FDR_u - FDR_p with FDR = fp / (fp + tp). Counts (..., 4) -> (...).

    Ideal 0; larger ``|value|`` is worse.
    """
    return pairwise_metric("false_discovery_rate_difference", counts_group, counts_reference)


def false_discovery_rate_ratio(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """FDR_u / FDR_p with FDR = fp / (fp + tp). Counts (..., 4) -> (...).

    Ideal 1; farther from 1 is worse. NaN where undefined (rules 1-3 of the module docstring).
    """
    return pairwise_metric("false_discovery_rate_ratio", counts_group, counts_reference)


def false_negative_rate_difference(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """FNR_u - FNR_p with FNR = fn / (fn + tp). Counts (..., 4) -> (...).

    Ideal 0; larger ``|value|`` is worse.
    """
    return pairwise_metric("false_negative_rate_difference", counts_group, counts_reference)


def false_negative_rate_ratio(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """FNR_u / FNR_p with FNR = fn / (fn + tp). Counts (..., 4) -> (...).

    Ideal 1; farther from 1 is worse. NaN where undefined (rules 1-3 of the module docstring).
    """
    return pairwise_metric("false_negative_rate_ratio", counts_group, counts_reference)


def false_omission_rate_difference(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """FOR_u - FOR_p with FOR = fn / (fn + tn). Counts (..., 4) -> (...).

    Ideal 0; larger ``|value|`` is worse.
    """
    return pairwise_metric("false_omission_rate_difference", counts_group, counts_reference)


def false_omission_rate_ratio(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """FOR_u / FOR_p with FOR = fn / (fn + tn). Counts (..., 4) -> (...).

    Ideal 1; farther from 1 is worse. NaN where undefined (rules 1-3 of the module docstring).
    """
    return pairwise_metric("false_omission_rate_ratio", counts_group, counts_reference)


def false_positive_rate_difference(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """FPR_u - FPR_p with FPR = fp / (fp + tn). Counts (..., 4) -> (...).

    Ideal 0; larger ``|value|`` is worse.
    """
    return pairwise_metric("false_positive_rate_difference", counts_group, counts_reference)


def false_positive_rate_ratio(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """FPR_u / FPR_p with FPR = fp / (fp + tn). Counts (..., 4) -> (...).

    Ideal 1; farther from 1 is worse. NaN where undefined (rules 1-3 of the module docstring).
    """
    return pairwise_metric("false_positive_rate_ratio", counts_group, counts_reference)


def true_positive_rate_ratio(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """TPR_u / TPR_p (equal-opportunity ratio). Counts (..., 4) -> (...).

    Ideal 1; farther from 1 is worse. NaN where undefined (rules 1-3 of the module docstring).
    """
    return pairwise_metric("true_positive_rate_ratio", counts_group, counts_reference)


def true_negative_rate_ratio(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """TNR_u / TNR_p with TNR = tn / (tn + fp). Counts (..., 4) -> (...).

    Ideal 1; farther from 1 is worse. NaN where undefined (rules 1-3 of the module docstring).
    """
    return pairwise_metric("true_negative_rate_ratio", counts_group, counts_reference)


def positive_predictive_value_ratio(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """PPV_u / PPV_p with PPV = tp / (tp + fp). Counts (..., 4) -> (...).

    Ideal 1; farther from 1 is worse. NaN where undefined (rules 1-3 of the module docstring).
    """
    return pairwise_metric("positive_predictive_value_ratio", counts_group, counts_reference)


# ---------------------------------------------------------------------------- attribute-level (fairlearn)
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
        if (_cells(sub, (FN, TP)) <= 0).any():
            return "no_positives_in_a_group"
        if (_cells(sub, (TN, FP)) <= 0).any():
            return "no_negatives_in_a_group"
    value = attribute_metric(metric, counts, elig)
    return "zero_denominator" if np.isnan(value) else ""


# ---------------------------------------------------------------------------------------- comparison plan
@dataclass(frozen=True, eq=False)
class ComparisonPlan:
    """Which groups of one attribute are compared with which reference, fixed on the full data.

    Rows of the attribute's block of the fairness table, in order: for each comparison c, one row per
    metric of :data:`PAIRWISE_METRICS`; then, when there is more than one comparison, one ``worst`` row per
    pairwise metric; then one row per metric of :data:`ATTRIBUTE_METRICS`.

    Attributes:
        codes: the attribute's group encoding.
        labels: (C,) compared group names (``"rest"`` for the pooled unprivileged side of paper mode).
        reference_labels: (C,) reference names (a group name, or ``"rest"``).
        group_matrix, reference_matrix: float (C, G) indicators of the groups pooled on each side.
        status: (C,) ``""`` or the reason all metrics of that comparison are NaN (minimum sizes).
        eligible: bool (G,) groups meeting every minimum size (windows, subjects, positives); they take
            part in the attribute-level metrics and in the majority/best/paper choices.
        note: ``""`` or how a fallback chose the reference (e.g. paper mode without a privileged group
            for this attribute); the same text is issued as a :class:`ReferenceWarning`.
    """

    codes: GroupCodes
    labels: tuple[str, ...]
    reference_labels: tuple[str, ...]
    group_matrix: np.ndarray
    reference_matrix: np.ndarray
    status: tuple[str, ...]
    eligible: np.ndarray
    note: str = ""

    @property
    def n_comparisons(self) -> int:
        return len(self.labels)

    @property
    def has_worst(self) -> bool:
        return self.n_comparisons > 1

    @property
    def n_rows(self) -> int:
        m = len(PAIRWISE_METRICS)
        return self.n_comparisons * m + (m if self.has_worst else 0) + len(ATTRIBUTE_METRICS)


class ReferenceWarning(UserWarning):
    """The reference (or privileged) group of an attribute was chosen by a fallback or is nearly arbitrary."""


def _validate_reference(reference: str | Mapping[str, str], attributes: Sequence[str]) -> None:
    if isinstance(reference, str):
        if reference not in REFERENCE_STRATEGIES:
            raise ConfigError(
                f"reference must be one of {', '.join(REFERENCE_STRATEGIES)} or a mapping "
                f"attribute -> group; got {reference!r}"
            )
        return
    if not isinstance(reference, Mapping):
        raise ConfigError(
            f"reference must be a string or a mapping attribute -> group; got {type(reference).__name__}"
        )
    unknown = sorted(set(map(str, reference)) - set(attributes))
    if unknown:
        raise ConfigError(
            f"reference names attribute(s) {unknown} that are not columns of sensitive_features "
            f"{list(attributes)}; fix the names"
        )


def validate_parity_options(
    parity: str,
    privileged: Mapping[str, str] | None,
    attributes: Sequence[str] | None = None,
    *,
    deviation: str | None = None,
    min_subjects: int = 0,
    min_positives: int = 0,
) -> None:
    """Check the parity options once per call (ConfigError for a bad option, DataError for a mismatch).

    ``privileged`` is only read in paper mode; there it must name attributes among ``attributes`` (the
    columns of the data; DataError otherwise). Unknown group names are caught per attribute by
    :func:`plan_comparisons` (DataError naming the groups).
    """
    if parity not in PARITY_MODES:
        raise ConfigError(f"parity must be one of {', '.join(PARITY_MODES)}; got {parity!r}")
    if deviation is not None and deviation not in DEVIATIONS:
        raise ConfigError(f"deviation must be one of {', '.join(DEVIATIONS)}; got {deviation!r}")
    check_min_size(min_subjects, "min_subjects")
    check_min_size(min_positives, "min_positives")
    if privileged is None:
        return
    if not isinstance(privileged, Mapping):
        raise ConfigError(f"privileged must be a mapping attribute -> group; got {type(privileged).__name__}")
    if parity == "paper" and attributes is not None:
        unknown = sorted(set(map(str, privileged)) - set(map(str, attributes)))
        if unknown:
            raise DataError(
                f"privileged names attribute(s) {unknown} that are not columns of sensitive_features "
                f"{list(attributes)}; fix the names or evaluate those attributes"
            )


def _candidates(codes: GroupCodes, eligible: np.ndarray) -> list[int]:
    """Groups a reference may be picked from: eligible non-missing ones (else any non-missing, else any)."""
    candidates = [g for g in range(codes.n_groups) if codes.groups[g] != MISSING]
    return [g for g in candidates if eligible[g]] or candidates or list(range(codes.n_groups))


def _pick_reference(codes: GroupCodes, counts: np.ndarray, strategy: str, eligible: np.ndarray) -> int:
    """Index of the reference group for ``majority`` / ``best`` among eligible non-missing groups."""
    pool = _candidates(codes, eligible)
    if strategy == "majority":
        return max(pool, key=lambda g: (codes.sizes[g], -g))
    accuracy = group_rate(counts, "accuracy")
    return max(pool, key=lambda g: (accuracy[g], codes.sizes[g], -g))


def _close_to_majority(codes: GroupCodes, eligible: np.ndarray, ref: int) -> str:
    """``""``, or a sentence naming candidates within :data:`MAJORITY_TOLERANCE` of the majority's size."""
    sizes = codes.sizes
    pool = _candidates(codes, eligible)
    close = [g for g in pool if g != ref and sizes[ref] - sizes[g] < MAJORITY_TOLERANCE * sizes[ref]]
    if not close:
        return ""
    others = ", ".join(f"{codes.groups[g]!r} ({int(sizes[g])})" for g in close)
    return (
        f"{codes.groups[ref]!r} ({int(sizes[ref])} windows) is larger than {others} by less than "
        f"{MAJORITY_TOLERANCE:.0%}, so the choice is nearly arbitrary and the ratios depend on it"
    )


def _warn_reference(text: str) -> None:
    warnings.warn(text, ReferenceWarning, stacklevel=3)


def _named_group(codes: GroupCodes, name: str, what: str) -> int:
    """Index of a named reference (``what="reference"``) or privileged group; DataError naming the groups."""
    if name not in codes.groups or (what == "privileged" and name == MISSING):
        shown = [g for g in codes.groups if g != MISSING] if what == "privileged" else list(codes.groups)
        hint = "" if what == "privileged" else " (missing values count only with include_missing)"
        raise DataError(
            f"{what} group {name!r} of attribute {codes.attribute!r} is not among its groups {shown}; "
            f"name one of them{hint}"
        )
    return codes.groups.index(name)


@dataclass(frozen=True)
class _Sides:
    """Sizes of the pooled sides of comparisons: windows, distinct subjects, positives."""

    codes: GroupCodes
    positives: np.ndarray  # (G,) positive windows per group
    subjects: np.ndarray | None  # (N,) subject codes, None: each window its own subject
    min_group_size: int
    min_subjects: int
    min_positives: int

    def group_subjects(self) -> np.ndarray:
        if self.subjects is None:
            return self.codes.sizes
        return group_subjects(self.codes.codes, self.subjects, self.codes.n_groups)

    def status(self, u_row: np.ndarray, p_row: np.ndarray) -> str:
        """First unmet minimum: the compared side's windows, subjects, positives, then the reference's."""
        for row, where in ((u_row, "group"), (p_row, "reference")):
            n = float(row @ self.codes.sizes)
            if n < self.min_group_size:
                return f"{where}_below_min_size"
            if self.min_subjects > 0:
                n_subj = n if self.subjects is None else subjects_in(self.codes.codes, self.subjects, row > 0)
                if n_subj < self.min_subjects:
                    return f"{where}_below_min_subjects"
            if float(row @ self.positives) < self.min_positives:
                return f"{where}_below_min_positives"
        return ""


def plan_comparisons(
    codes: GroupCodes,
    counts: np.ndarray,
    *,
    reference: str | Mapping[str, str] = "majority",
    min_group_size: int = 30,
    parity: str = "pairwise",
    privileged: Mapping[str, str] | None = None,
    min_subjects: int = 0,
    min_positives: int = 0,
    subjects: np.ndarray | None = None,
) -> ComparisonPlan:
    """Decide the comparisons of one attribute from its full-data counts (G, 4).

    ``parity="pairwise"`` (default): every group against a reference chosen by ``reference``:
    ``"majority"`` (the largest group), ``"best"`` (the group with the highest accuracy, ties to the
    larger group; choosing the best-served group makes every error ratio measure a gap to the best),
    ``"rest"`` (each group against all other groups pooled; with exactly two groups only the smaller one
    is compared, since the other row would mirror it), or a mapping attribute -> group name (attributes
    absent from the mapping use ``"majority"``). ``majority``/``best`` pick among eligible groups (any
    group if none is eligible) and never pick :data:`MISSING`.

    ``parity="paper"``: ONE comparison, the privileged group ``privileged[attribute]`` (the reference,
    AIF360's privileged group) against all other eligible non-missing groups pooled (``group="rest"``;
    :data:`MISSING` never joins, even with ``include_missing``); ratios are ``rate_rest /
    rate_privileged``. ``reference`` is not used. An attribute absent from ``privileged`` falls back to
    its majority group, recorded in :attr:`ComparisonPlan.note` and issued as a :class:`ReferenceWarning`;
    a privileged name that is not a group of the attribute is a DataError naming the groups. With no
    other eligible group the row is NaN (``no_eligible_group_in_rest``); attributes with fewer than two
    non-missing groups get no comparison.

    Minimum sizes: a group is eligible when it has at least ``min_group_size`` windows,
    ``min_subjects`` distinct subjects and ``min_positives`` positive windows; a comparison whose
    compared side or reference (pooled sides counted as pooled, a subject in two pooled groups once)
    misses one is NaN with ``group_below_min_size|min_subjects|min_positives`` or
    ``reference_below_...`` (first unmet, compared side first).

    When ``majority`` is chosen (the strategy, a mapping's fallback, or paper mode's fallback) and
    another candidate's size is within 10% of the largest (:data:`MAJORITY_TOLERANCE`), a
    :class:`ReferenceWarning` names the attribute and the groups: the reference is then nearly arbitrary.

    Args:
        counts: float (G, 4) full-data confusion counts of the attribute's groups.
        subjects: int (N,) subject codes aligned with ``codes.codes`` (only read when ``min_subjects`` >
            0); None counts each window as its own subject.
    """
    if parity not in PARITY_MODES:
        raise ConfigError(f"parity must be one of {', '.join(PARITY_MODES)}; got {parity!r}")
    counts = np.asarray(counts, dtype=np.float64)
    g_count = codes.n_groups
    sides = _Sides(
        codes=codes,
        positives=counts[:, FN] + counts[:, TP] if g_count else np.zeros(0),
        subjects=None if subjects is None else np.asarray(subjects, dtype=np.int64),
        min_group_size=min_group_size,
        min_subjects=min_subjects,
        min_positives=min_positives,
    )
    eligible = codes.sizes >= min_group_size
    if min_subjects > 0:
        eligible &= sides.group_subjects() >= min_subjects
    if min_positives > 0:
        eligible &= sides.positives >= min_positives
    labels: list[str] = []
    ref_labels: list[str] = []
    u_rows: list[np.ndarray] = []
    p_rows: list[np.ndarray] = []
    status: list[str] = []
    note = ""

    def add(u: np.ndarray, p: np.ndarray, label: str, ref_label: str, blocked: str = "") -> None:
        labels.append(label)
        ref_labels.append(ref_label)
        u_rows.append(u)
        p_rows.append(p)
        status.append(blocked or sides.status(u, p))

    def indicator(members: Sequence[int]) -> np.ndarray:
        row = np.zeros(g_count)
        row[list(members)] = 1.0
        return row

    if parity == "paper":
        real = [g for g in range(g_count) if codes.groups[g] != MISSING]
        if len(real) >= 2:
            if privileged is not None and codes.attribute in privileged:
                priv = _named_group(codes, str(privileged[codes.attribute]), "privileged")
            else:
                priv = _pick_reference(codes, counts, "majority", eligible)
                close = _close_to_majority(codes, eligible, priv)
                note = (
                    f"attribute {codes.attribute!r}: parity='paper' without a privileged group for it, "
                    f"so the majority group {codes.groups[priv]!r} is used"
                    + (f" ({close})" if close else "")
                    + f"; name it with privileged={{{codes.attribute!r}: group}}"
                )
                _warn_reference(note)
            rest = [g for g in real if g != priv and eligible[g]]
            add(
                indicator(rest),
                indicator([priv]),
                REST_GROUP,
                codes.groups[priv],
                "" if rest else "no_eligible_group_in_rest",
            )
    elif g_count >= 2:
        strategy = reference if isinstance(reference, str) else "named"
        named = None
        if isinstance(reference, Mapping):
            if codes.attribute in reference:
                named = _named_group(codes, str(reference[codes.attribute]), "reference")
            else:
                strategy = "majority"
        if strategy == "rest":
            compared = list(range(g_count))
            if g_count == 2:
                compared = [min(compared, key=lambda g: (codes.sizes[g], -g))]
            for g in compared:
                u = indicator([g])
                add(u, 1.0 - u, codes.groups[g], REST_GROUP)
        else:
            if named is not None:
                ref = named
            else:
                ref = _pick_reference(codes, counts, strategy, eligible)
                close = _close_to_majority(codes, eligible, ref) if strategy == "majority" else ""
                if close:
                    note = (
                        f"attribute {codes.attribute!r}: reference='majority' picked the majority group, "
                        f"but {close}; name the reference with reference={{{codes.attribute!r}: group}}"
                    )
                    _warn_reference(note)
            for g in range(g_count):
                if g != ref:
                    add(indicator([g]), indicator([ref]), codes.groups[g], codes.groups[ref])
    n_comp = len(labels)
    return ComparisonPlan(
        codes=codes,
        labels=tuple(labels),
        reference_labels=tuple(ref_labels),
        group_matrix=np.array(u_rows).reshape(n_comp, g_count),
        reference_matrix=np.array(p_rows).reshape(n_comp, g_count),
        status=tuple(status),
        eligible=eligible,
        note=note,
    )


def _badness(values: np.ndarray, metric: str) -> np.ndarray:
    """Distance from the ideal: |log ratio| for ratios (0.5 and 2 equally bad), |difference| otherwise."""
    with np.errstate(divide="ignore", invalid="ignore"):
        bad = np.abs(np.log(values)) if is_ratio_metric(metric) else np.abs(values)
    return np.where(np.isnan(bad), -1.0, bad)


def evaluate_plan(plan: ComparisonPlan, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All metric values of one attribute's block for B count sets.

    Args:
        counts: (B, G, 4) confusion counts of the attribute's groups (B resamples, or B = 1).

    Returns:
        values float (B, R) in the row order of :class:`ComparisonPlan`, and worst_index int (B, M): the
        comparison attaining each ``worst`` row (-1 if none valid; empty (B, 0) without worst rows).
    """
    counts = np.asarray(counts, dtype=np.float64)
    b = counts.shape[0]
    c_u = np.einsum("bgk,cg->bck", counts, plan.group_matrix)  # (B, C, 4) counts of compared groups
    c_p = np.einsum("bgk,cg->bck", counts, plan.reference_matrix)  # (B, C, 4) counts of references
    blocked = np.array([s != "" for s in plan.status], dtype=bool)  # (C,)
    pair = np.stack([pairwise_metric(m, c_u, c_p) for m in PAIRWISE_METRICS], axis=-1)  # (B, C, M)
    pair[:, blocked, :] = np.nan
    blocks = [pair.reshape(b, -1)]  # (B, C*M), comparison-major
    worst_index = np.zeros((b, 0), dtype=np.int64)
    if plan.has_worst:
        worst = np.empty((b, len(PAIRWISE_METRICS)))
        worst_index = np.empty((b, len(PAIRWISE_METRICS)), dtype=np.int64)
        for j, metric in enumerate(PAIRWISE_METRICS):
            bad = _badness(pair[:, :, j], metric)  # (B, C), -1 where NaN
            idx = bad.argmax(axis=1)
            valid = bad.max(axis=1) >= 0
            worst[:, j] = np.where(valid, pair[np.arange(b), idx, j], np.nan)
            worst_index[:, j] = np.where(valid, idx, -1)
        blocks.append(worst)
    attr = np.stack(
        [attribute_metric(m, counts, plan.eligible) for m in ATTRIBUTE_METRICS], axis=-1
    )  # (B, 4)
    blocks.append(attr)
    return np.concatenate(blocks, axis=1), worst_index


def plan_table(plan: ComparisonPlan, counts: np.ndarray) -> pd.DataFrame:
    """The attribute's block of :func:`fairness_table` from full-data counts (G, 4)."""
    counts = np.asarray(counts, dtype=np.float64)
    values, worst_index = evaluate_plan(plan, counts[None])
    sizes = plan.codes.sizes
    n_u = (plan.group_matrix @ sizes).astype(np.int64)  # (C,)
    n_p = (plan.reference_matrix @ sizes).astype(np.int64)  # (C,)
    c_u = plan.group_matrix @ counts  # (C, 4)
    c_p = plan.reference_matrix @ counts  # (C, 4)
    rows: list[tuple[str, str, int, int, str, str]] = []
    for c in range(plan.n_comparisons):
        for metric in PAIRWISE_METRICS:
            reason = plan.status[c] or str(pairwise_reason(metric, c_u[c], c_p[c]))
            rows.append((plan.labels[c], plan.reference_labels[c], int(n_u[c]), int(n_p[c]), metric, reason))
    if plan.has_worst:
        for j, metric in enumerate(PAIRWISE_METRICS):
            c = int(worst_index[0, j])
            if c >= 0:
                rows.append((WORST_GROUP, plan.reference_labels[c], int(n_u[c]), int(n_p[c]), metric, ""))
            else:
                rows.append((WORST_GROUP, plan.reference_labels[0], 0, 0, metric, "no_valid_comparison"))
    n_all = int(sizes[plan.eligible].sum())
    for metric in ATTRIBUTE_METRICS:
        rows.append(
            (ALL_GROUPS, ALL_GROUPS, n_all, n_all, metric, attribute_reason(metric, counts, plan.eligible))
        )
    table = pd.DataFrame(
        rows, columns=["group", "reference_group", "n_group", "n_reference", "metric", "reason"]
    )
    table.insert(0, "attribute", plan.codes.attribute)
    table.insert(6, "value", values[0])
    return table


TABLE_COLUMNS = [
    "attribute",
    "group",
    "reference_group",
    "n_group",
    "n_reference",
    "metric",
    "value",
    "reason",
]


def _check_labels(y_true: np.ndarray, y_pred: np.ndarray) -> int:
    n = int(np.asarray(y_true).shape[0]) if np.asarray(y_true).ndim else 0
    if np.asarray(y_pred).shape != np.asarray(y_true).shape:
        raise DataError(
            f"y_true has shape {np.shape(y_true)} but y_pred has shape {np.shape(y_pred)}; "
            "give one prediction per window"
        )
    if n == 0:
        raise DataError("y_true is empty; give at least one window")
    return n


def fairness_table(
    y_true: np.ndarray | Sequence[int],
    y_pred: np.ndarray | Sequence[int],
    sensitive_features: pd.DataFrame | pd.Series,
    *,
    reference: str | Mapping[str, str] = "majority",
    min_group_size: int = 30,
    include_missing: bool = False,
    pos_label: int = 1,
    parity: str = "pairwise",
    privileged: Mapping[str, str] | None = None,
    min_subjects: int = 0,
    min_positives: int = 0,
    subjects: np.ndarray | Sequence | None = None,
) -> pd.DataFrame:
    """Group-fairness metrics of hard predictions, one row per (attribute, compared group, metric).

    Args:
        y_true, y_pred: class labels (N,); binarised one-vs-rest as ``label == pos_label``.
        sensitive_features: DataFrame, N rows, one column per protected attribute (see :func:`intersect`
            for intersectional groups). NaN/None/'' and :data:`MISSING` form the ``missing`` group, which
            is left out of every comparison unless ``include_missing``.
        reference: ``"majority"``, ``"rest"``, ``"best"`` or a mapping attribute -> reference group (see
            :func:`plan_comparisons`); used with ``parity="pairwise"``.
        min_group_size: groups (and references) with fewer windows get NaN with a reason code.
        parity: ``"pairwise"`` (each group against ``reference``) or ``"paper"`` (per attribute the
            privileged group against the pooled rest, one comparison; see :func:`plan_comparisons`).
        privileged: paper mode: attribute -> privileged group; attributes absent use their majority group
            (with a :class:`ReferenceWarning`); an attribute that is not a column is a DataError.
        min_subjects: groups (and references) with fewer distinct subjects get NaN
            (``group_below_min_subjects``); 0 (default) checks nothing. Needs ``subjects``, else each
            window counts as a subject.
        min_positives: groups (and references) with fewer positive windows get NaN
            (``group_below_min_positives``); 0 (default) checks nothing.
        subjects: (N,) subject ids of the windows (for ``min_subjects``).

    Returns:
        DataFrame with columns attribute, group, reference_group, n_group, n_reference, metric, value,
        reason. Per attribute: each compared group against its reference for every metric of
        :data:`PAIRWISE_METRICS` (AIF360 definitions; NaN rules in the module docstring), a
        ``group="worst"`` row per metric when an attribute has more than one comparison (the valid value
        farthest from the ideal: largest ``|difference|`` or ``|log ratio|``; n_group/reference_group name
        the comparison attaining it), and the fairlearn attribute-level metrics (:data:`ATTRIBUTE_METRICS`,
        ``group = reference_group = "all"``, n_group = n_reference = windows in eligible groups). In paper
        mode the compared group is ``"rest"`` and the reference the privileged group. ``value`` is NaN
        exactly where ``reason`` is not ``""``.
    """
    n = _check_labels(np.asarray(y_true), np.asarray(y_pred))
    check_min_group_size(min_group_size)
    frame = as_sensitive_frame(sensitive_features, n)
    _validate_reference(reference, list(frame.columns))
    validate_parity_options(
        parity, privileged, list(frame.columns), min_subjects=min_subjects, min_positives=min_positives
    )
    subject_codes = None if subjects is None else encode_subjects(subjects, n)
    yt = binarise(y_true, pos_label=pos_label, name="y_true")
    yp = binarise(y_pred, pos_label=pos_label, name="y_pred")
    blocks = []
    for codes in encode_groups(frame, include_missing=include_missing):
        counts = confusion_counts(yt, yp, codes.codes, n_groups=codes.n_groups)
        plan = plan_comparisons(
            codes,
            counts,
            reference=reference,
            min_group_size=min_group_size,
            parity=parity,
            privileged=privileged,
            min_subjects=min_subjects,
            min_positives=min_positives,
            subjects=subject_codes,
        )
        blocks.append(plan_table(plan, counts))
    return pd.concat(blocks, ignore_index=True)[TABLE_COLUMNS]


def fairness_table_per_class(
    y_true: np.ndarray | Sequence[int],
    y_pred: np.ndarray | Sequence[int],
    sensitive_features: pd.DataFrame | pd.Series,
    *,
    classes: Sequence[int] | None = None,
    reference: str | Mapping[str, str] = "majority",
    min_group_size: int = 30,
    include_missing: bool = False,
    parity: str = "pairwise",
    privileged: Mapping[str, str] | None = None,
    min_subjects: int = 0,
    min_positives: int = 0,
    subjects: np.ndarray | Sequence | None = None,
) -> pd.DataFrame:
    """Multiclass labels: :func:`fairness_table` one-vs-rest per class, with a leading ``pos_label`` column.

    ``classes`` defaults to the sorted labels present in ``y_true``; positives (``min_positives``) are the
    windows of the class in turn.
    """
    labels = np.unique(np.asarray(y_true)) if classes is None else np.asarray(list(classes))
    tables = []
    for k in labels:
        table = fairness_table(
            y_true,
            y_pred,
            sensitive_features,
            reference=reference,
            min_group_size=min_group_size,
            include_missing=include_missing,
            pos_label=int(k),
            parity=parity,
            privileged=privileged,
            min_subjects=min_subjects,
            min_positives=min_positives,
            subjects=subjects,
        )
        table.insert(0, "pos_label", int(k))
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


# ------------------------------------------------------------------------------------- parity deviation
def parity_mask(table: pd.DataFrame) -> np.ndarray:
    """bool (R,): rows pooled by :func:`parity_deviation` (the six ratios, not ``worst`` rows)."""
    return np.asarray(table["metric"].isin(PARITY_RATIOS) & (table["group"] != WORST_GROUP), dtype=bool)


def _check_deviation(deviation: str) -> None:
    if deviation not in DEVIATIONS:
        raise ConfigError(f"deviation must be one of {', '.join(DEVIATIONS)}; got {deviation!r}")


def ratio_deviation(ratios: np.ndarray, deviation: str = "abs") -> np.ndarray:
    """Distance of ratios from parity, element-wise, any shape -> same shape.

    ``"abs"``: ``|1 - r|`` (the paper's; 0.5 and 2 count 0.5 and 1). ``"log"``: ``|log r|`` (symmetric:
    r and 1/r count alike; 0.8 and 1.25 both about 0.22). Ideal 0; larger is worse. NaN stays NaN (and
    r <= 0, which :func:`pairwise_metric` never returns, gives NaN for ``"log"``).
    """
    _check_deviation(deviation)
    r = np.asarray(ratios, dtype=np.float64)
    if deviation == "abs":
        return np.abs(1.0 - r)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(r > 0, np.abs(np.log(np.where(r > 0, r, 1.0))), np.nan)


def parity_layout(table: pd.DataFrame) -> tuple[np.ndarray, tuple[str, ...]]:
    """Which attribute each parity row belongs to.

    Returns:
        index int (R,): for rows of :func:`parity_mask`, the position of the row's attribute in
        ``names``; -1 for every other row. names (A,): the table's attributes in order of first appearance
        (all of them, also those without parity rows, e.g. a single-group attribute).
    """
    missing = [c for c in ("attribute", "metric", "group", "value") if c not in table.columns]
    if missing:
        raise DataError(
            "parity_deviation needs a fairness_table with columns attribute, metric, group, value; "
            f"missing {missing}"
        )
    names = tuple(str(a) for a in pd.unique(table["attribute"].astype(str)))
    position = {name: i for i, name in enumerate(names)}
    index = table["attribute"].astype(str).map(position).to_numpy(dtype=np.int64)
    return np.where(parity_mask(table), index, -1), names


def _attribute_means(values: np.ndarray, index: np.ndarray, n_attributes: int, deviation: str) -> np.ndarray:
    """(B, R) values -> (B, A): per attribute the mean deviation over its non-NaN parity rows (or NaN)."""
    v = np.asarray(values, dtype=np.float64)
    out = np.full((v.shape[0], n_attributes), np.nan)
    for a in range(n_attributes):
        cols = np.flatnonzero(index == a)
        if cols.size == 0:
            continue
        dev = ratio_deviation(v[:, cols], deviation)  # (B, R_a)
        valid = ~np.isnan(dev)
        n_valid = valid.sum(axis=1)
        total = np.where(valid, dev, 0.0).sum(axis=1)
        out[:, a] = np.where(n_valid > 0, total / np.maximum(n_valid, 1), np.nan)
    return out


def pool_attributes(attribute_values: np.ndarray) -> np.ndarray:
    """Pooled parity deviation: (B, A) per-attribute values -> (B,), the mean over defined attributes.

    Each attribute weighs equally; an attribute without a defined ratio (NaN) is left out; NaN when none
    is defined.
    """
    a = np.asarray(attribute_values, dtype=np.float64)
    valid = ~np.isnan(a)
    n_valid = valid.sum(axis=1)
    total = np.where(valid, a, 0.0).sum(axis=1)
    return np.where(n_valid > 0, total / np.maximum(n_valid, 1), np.nan)


def attribute_parity_values(values: np.ndarray, table: pd.DataFrame, *, deviation: str = "abs") -> np.ndarray:
    """Per-attribute parity deviation of B value vectors laid out like ``table``: (B, R) -> (B, A).

    ``PD_a = mean over the defined parity-ratio rows i of attribute a of dev(r_i)``, with dev ``|1 - r|``
    (``"abs"``) or ``|log r|`` (``"log"``); the attributes (A,) are :func:`parity_layout`'s names. Ideal 0;
    larger is worse; NaN for an attribute without a defined ratio.
    """
    index, names = parity_layout(table)
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != len(table):
        raise DataError(f"values must have shape (B, {len(table)}) like the table; got {v.shape}")
    return _attribute_means(v, index, len(names), deviation)


def parity_deviation_values(
    values: np.ndarray,
    mask: np.ndarray,
    *,
    attributes: np.ndarray | Sequence[str] | None = None,
    deviation: str = "abs",
) -> np.ndarray:
    """Parity deviation of B value vectors: (B, R) -> (B,).

    Args:
        values: (B, R) rows of a fairness table (or B resamples of them).
        mask: bool (R,) the parity rows (:func:`parity_mask`).
        attributes: (R,) the attribute of each row. Given: attributes weigh equally (the mean over
            attributes of each attribute's mean deviation, as :func:`parity_deviation`). None: every
            masked row weighs equally (the pooling used before attributes were weighed equally; identical
            for a single attribute).
        deviation: ``"abs"`` (``|1 - r|``) or ``"log"`` (``|log r|``).

    Ideal 0; larger is worse; NaN when no masked entry is defined.
    """
    v = np.asarray(values, dtype=np.float64)
    m = np.asarray(mask, dtype=bool)
    if attributes is None:
        return _attribute_means(v, np.where(m, 0, -1), 1, deviation)[:, 0]
    names, index = np.unique(np.asarray(attributes).astype(str), return_inverse=True)
    return pool_attributes(_attribute_means(v, np.where(m, index, -1), len(names), deviation))


def attribute_parity_deviation(table: pd.DataFrame, *, deviation: str = "abs") -> pd.Series:
    """Per-attribute parity deviation of a :func:`fairness_table`: a float Series indexed by attribute.

    ``PD_a`` = mean ``|1 - r|`` (or ``|log r|``) over attribute a's defined rows of the six
    :data:`PARITY_RATIOS` (``worst`` rows and NaN values left out). Ideal 0; larger is worse; NaN for an
    attribute without a defined ratio.
    """
    index, names = parity_layout(table)
    values = table["value"].to_numpy(dtype=np.float64)[None, :]  # (1, R)
    per = _attribute_means(values, index, len(names), deviation)[0]
    return pd.Series(per, index=pd.Index(names, name="attribute"), name="parity_deviation")


def parity_deviation(table: pd.DataFrame, *, deviation: str = "abs") -> float:
    """The paper's single fairness score of a model: the mean deviation from parity of the six ratios.

    ``PD = mean over attributes a of PD_a``, ``PD_a = mean over a's defined ratio rows of |1 - r|``
    (``deviation="abs"``, the paper's) or ``|log r|`` (``"log"``, symmetric). The ratios are the rows of
    :func:`fairness_table` whose metric is one of :data:`PARITY_RATIOS` (disparate impact, error-rate,
    FDR, FNR, FOR and FPR ratios), ``worst`` rows and NaN values left out. Attributes weigh equally
    whatever their number of groups (a change: all rows used to be pooled, so an attribute with five
    groups counted four times as much as one with two); attributes without a defined ratio are left out
    (see :func:`attribute_parity_deviation` for the per-attribute values). Ideal 0; larger is worse; with
    ``"abs"``, 0.2 marks the edge of the four-fifths band (0.8-1.25). NaN when no ratio is defined.
    """
    return float(pool_attributes(attribute_parity_deviation(table, deviation=deviation).to_numpy()[None])[0])


def improvement(pd_setup: float | np.ndarray, pd_supervised: float | np.ndarray) -> float | np.ndarray:
    """Relative fairness improvement of a setup over the supervised baseline.

    ``(PD_supervised - PD_setup) / PD_supervised``: positive when the setup is fairer (0.3 = parity
    deviation 30% lower), negative when less fair; NaN when PD_supervised is 0 or NaN. Works element-wise
    on arrays (bootstrap resamples).
    """
    setup = np.asarray(pd_setup, dtype=np.float64)
    sup = np.asarray(pd_supervised, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(sup != 0, (sup - setup) / np.where(sup != 0, sup, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out


def intersect(
    sensitive_features: pd.DataFrame,
    columns: Sequence[str],
    *,
    sep: str = " & ",
    name: str | None = None,
) -> pd.Series:
    """Intersectional groups: one column joining the values of ``columns`` (e.g. ``"female & 65+"``).

    A window missing any of the attributes is :data:`MISSING`. Use the result as an extra column of
    ``sensitive_features``; ``min_group_size`` guards against tiny cells. The Series keeps the index of
    ``sensitive_features`` and is named ``name`` (default the column names joined by ``sep``).
    """
    if not isinstance(sensitive_features, pd.DataFrame):
        raise DataError(f"intersect needs a DataFrame of attributes; got {type(sensitive_features).__name__}")
    cols = [str(c) for c in columns]
    absent = [c for c in cols if c not in map(str, sensitive_features.columns)]
    if not cols or absent:
        raise DataError(
            f"intersect columns {absent or cols} are not columns of sensitive_features "
            f"{list(sensitive_features.columns)}; name at least one existing attribute"
        )
    frame = as_sensitive_frame(sensitive_features, len(sensitive_features))
    values = frame[cols].astype(str)
    joined = values.agg(sep.join, axis=1)
    any_missing = (values == MISSING).any(axis=1)
    out = joined.where(~any_missing, MISSING)
    out.index = sensitive_features.index
    out.name = name if name is not None else sep.join(cols)
    return out.astype(object)
