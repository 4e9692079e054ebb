"""Group rates and the AIF360 group-vs-reference metrics, with the rules that make a value undefined.

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
all eligible groups of an attribute at once (:mod:`~fairssl.evaluation.attribute_metrics`).

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
Per ratio of :data:`~fairssl.evaluation.parity.PARITY_RATIOS`, a side (u or p) makes the ratio NaN when
it has::

    disparate_impact            no windows, or no predicted positives
    error_rate_ratio            no windows, or no errors (fp + fn = 0)
    false_discovery_rate_ratio  no predicted positives, no positives, no negatives, or fp = 0
    false_negative_rate_ratio   no positives, or fn = 0
    false_omission_rate_ratio   no predicted negatives, no positives, no negatives, or fn = 0
    false_positive_rate_ratio   no negatives, or fp = 0

Reason codes of this module (``""`` when the value is valid): ``no_positives_in_group|reference``,
``no_negatives_in_group|reference``, ``no_predicted_positives_in_group|reference``,
``no_predicted_negatives_in_group|reference``, ``empty_group|reference`` (rules 1-2), ``zero_denominator``
/ ``zero_numerator`` (rule 3). The minimum-size codes are :mod:`~fairssl.evaluation.plans`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fairssl.errors import ConfigError
from fairssl.evaluation.counts import FN, FP, TN, TP

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


def cell_sum(counts: np.ndarray, cells: tuple[int, ...]) -> np.ndarray:
    """Sum of the given cells (e.g. ``(FN, TP)``: positives) of counts (..., 4) -> float64 (...)."""
    return np.asarray(counts, dtype=np.float64)[..., list(cells)].sum(axis=-1)


def group_rate(counts: np.ndarray, rate: str) -> np.ndarray:
    """A rate of :data:`_RATES` (e.g. ``"true_positive_rate"``) from counts (..., 4) -> (...), NaN if 0/0.

    The plain descriptive rate: rules 2-3 of the module docstring apply to comparisons, not here.
    """
    if rate not in _RATES:
        raise ConfigError(f"unknown rate {rate!r}; choose one of {', '.join(_RATES)}")
    num_cells, den_cells, _ = _RATES[rate]
    num, den = cell_sum(counts, num_cells), cell_sum(counts, den_cells)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


# ------------------------------------------------------------------------------------ pairwise metrics
def _undefined_checks(counts: np.ndarray, rate: str) -> list[tuple[np.ndarray, str]]:
    """(mask (...), reason stem) of rules 1-2 on one side's counts (..., 4): ``rate`` uninformative."""
    _, den_cells, stem = _RATES[rate]
    checks = [(cell_sum(counts, den_cells) <= 0, stem)]
    if rate in _BOTH_CLASSES:
        checks.append((cell_sum(counts, (FN, TP)) <= 0, "no_positives"))
        checks.append((cell_sum(counts, (TN, FP)) <= 0, "no_negatives"))
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
