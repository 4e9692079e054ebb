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
1), exactly as AIF360 defines them. Where AIF360 would return inf, NaN, or a number built on its 0/0 := 0
convention (PPV, FDR, FOR of a group without predicted positives/negatives), we return NaN plus a reason
code. Attribute-level metrics (fairlearn, ``method="between_groups"``) compare all eligible groups of an
attribute at once.

Reason codes (``""`` when the value is valid):
``no_positives_in_group|reference`` (no y=1: TPR/FNR undefined), ``no_negatives_in_group|reference``
(no y=0: FPR/TNR undefined), ``no_predicted_positives_in_group|reference`` (FDR/PPV undefined; for
disparate impact: the reference selects nobody), ``no_predicted_negatives_in_group|reference`` (FOR
undefined), ``zero_denominator`` (a ratio whose reference rate is exactly 0, or a fairlearn ratio whose
largest group rate is 0), ``group_below_min_size``, ``reference_below_min_size``, ``fewer_than_two_groups``,
``no_positives_in_a_group`` / ``no_negatives_in_a_group`` (fairlearn equalized odds), ``no_valid_comparison``
(a worst-case row without any valid group row), ``empty_group|reference``.
"""

from __future__ import annotations

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
    confusion_counts,
    encode_groups,
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


def _cells(counts: np.ndarray, cells: tuple[int, ...]) -> np.ndarray:
    return np.asarray(counts, dtype=np.float64)[..., list(cells)].sum(axis=-1)


def group_rate(counts: np.ndarray, rate: str) -> np.ndarray:
    """A rate of :data:`_RATES` (e.g. ``"true_positive_rate"``) from counts (..., 4) -> (...), NaN if 0/0."""
    if rate not in _RATES:
        raise ConfigError(f"unknown rate {rate!r}; choose one of {', '.join(_RATES)}")
    num_cells, den_cells, _ = _RATES[rate]
    num, den = _cells(counts, num_cells), _cells(counts, den_cells)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


# ------------------------------------------------------------------------------------ pairwise metrics
@dataclass(frozen=True)
class _Pairwise:
    kind: str  # "difference" | "ratio" | "average_odds" | "average_abs_odds"
    rates: tuple[str, ...]
    zero_reason: str = "zero_denominator"  # reason of a ratio whose reference rate is 0


_PAIRWISE: dict[str, _Pairwise] = {
    "statistical_parity_difference": _Pairwise("difference", ("selection_rate",)),
    "disparate_impact": _Pairwise("ratio", ("selection_rate",), "no_predicted_positives_in_reference"),
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

WORST_GROUP = "worst"
ALL_GROUPS = "all"


def is_ratio_metric(metric: str) -> bool:
    """True for metrics whose ideal value is 1 (ratios), False for differences (ideal 0)."""
    if metric in _PAIRWISE:
        return _PAIRWISE[metric].kind == "ratio"
    return metric.endswith("_ratio")


def pairwise_metric(metric: str, counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """Evaluate a pairwise metric of :data:`PAIRWISE_METRICS` from counts (..., 4) of u and p -> (...).

    NaN where the metric is undefined; :func:`pairwise_reason` says why.
    """
    if metric not in _PAIRWISE:
        raise ConfigError(f"unknown fairness metric {metric!r}; choose one of {', '.join(_PAIRWISE)}")
    spec = _PAIRWISE[metric]
    r_u = [group_rate(counts_group, r) for r in spec.rates]
    r_p = [group_rate(counts_reference, r) for r in spec.rates]
    if spec.kind == "difference":
        return r_u[0] - r_p[0]
    if spec.kind == "ratio":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(r_p[0] != 0, r_u[0] / np.where(r_p[0] != 0, r_p[0], 1.0), np.nan)
    diffs = [a - b for a, b in zip(r_u, r_p, strict=True)]  # [FPR_u - FPR_p, TPR_u - TPR_p]
    if spec.kind == "average_odds":
        return 0.5 * (diffs[0] + diffs[1])
    return 0.5 * (np.abs(diffs[0]) + np.abs(diffs[1]))


def pairwise_reason(metric: str, counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """Reason codes (object array, shape (...)) for :func:`pairwise_metric`; ``""`` where valid."""
    spec = _PAIRWISE[metric]
    shape = np.broadcast_shapes(np.shape(counts_group)[:-1], np.shape(counts_reference)[:-1])
    reason = np.full(shape, "", dtype=object)
    for rate in spec.rates:
        _, den_cells, stem = _RATES[rate]
        for counts, where in ((counts_group, "group"), (counts_reference, "reference")):
            undefined = np.broadcast_to(_cells(counts, den_cells) <= 0, shape)
            reason = np.where((reason == "") & undefined, f"{stem}_in_{where}", reason)
    if spec.kind == "ratio":
        zero = np.broadcast_to(group_rate(counts_reference, spec.rates[0]) == 0, shape)
        reason = np.where((reason == "") & zero, spec.zero_reason, reason)
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
    (``no_predicted_positives_in_reference``) when the reference group has no predicted positives.
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

    Farther from 1 is worse; NaN (``zero_denominator``) when the reference makes no error.
    """
    return pairwise_metric("error_rate_ratio", counts_group, counts_reference)


def false_discovery_rate_difference(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """FDR_u - FDR_p with FDR = fp / (fp + tp). Counts (..., 4) -> (...).

    Ideal 0; larger ``|value|`` is worse.
    """
    return pairwise_metric("false_discovery_rate_difference", counts_group, counts_reference)


def false_discovery_rate_ratio(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """FDR_u / FDR_p with FDR = fp / (fp + tp). Counts (..., 4) -> (...). Ideal 1; farther from 1 is worse."""
    return pairwise_metric("false_discovery_rate_ratio", counts_group, counts_reference)


def false_negative_rate_difference(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """FNR_u - FNR_p with FNR = fn / (fn + tp). Counts (..., 4) -> (...).

    Ideal 0; larger ``|value|`` is worse.
    """
    return pairwise_metric("false_negative_rate_difference", counts_group, counts_reference)


def false_negative_rate_ratio(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """FNR_u / FNR_p with FNR = fn / (fn + tp). Counts (..., 4) -> (...). Ideal 1; farther from 1 is worse."""
    return pairwise_metric("false_negative_rate_ratio", counts_group, counts_reference)


def false_omission_rate_difference(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """FOR_u - FOR_p with FOR = fn / (fn + tn). Counts (..., 4) -> (...).

    Ideal 0; larger ``|value|`` is worse.
    """
    return pairwise_metric("false_omission_rate_difference", counts_group, counts_reference)


def false_omission_rate_ratio(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """FOR_u / FOR_p with FOR = fn / (fn + tn). Counts (..., 4) -> (...). Ideal 1; farther from 1 is worse."""
    return pairwise_metric("false_omission_rate_ratio", counts_group, counts_reference)


def false_positive_rate_difference(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """FPR_u - FPR_p with FPR = fp / (fp + tn). Counts (..., 4) -> (...).

    Ideal 0; larger ``|value|`` is worse.
    """
    return pairwise_metric("false_positive_rate_difference", counts_group, counts_reference)


def false_positive_rate_ratio(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """FPR_u / FPR_p with FPR = fp / (fp + tn). Counts (..., 4) -> (...). Ideal 1; farther from 1 is worse."""
    return pairwise_metric("false_positive_rate_ratio", counts_group, counts_reference)


def true_positive_rate_ratio(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """TPR_u / TPR_p (equal-opportunity ratio). Counts (..., 4) -> (...). Ideal 1; farther from 1 is worse."""
    return pairwise_metric("true_positive_rate_ratio", counts_group, counts_reference)


def true_negative_rate_ratio(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """TNR_u / TNR_p with TNR = tn / (tn + fp). Counts (..., 4) -> (...). Ideal 1; farther from 1 is worse."""
    return pairwise_metric("true_negative_rate_ratio", counts_group, counts_reference)


def positive_predictive_value_ratio(counts_group: np.ndarray, counts_reference: np.ndarray) -> np.ndarray:
    """PPV_u / PPV_p with PPV = tp / (tp + fp). Counts (..., 4) -> (...). Ideal 1; farther from 1 is worse."""
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
        labels: (C,) compared group names.
        reference_labels: (C,) reference names (a group name, or ``"rest"``).
        group_matrix, reference_matrix: float (C, G) indicators of the groups pooled on each side.
        status: (C,) ``""`` or the reason all metrics of that comparison are NaN (min size).
        eligible: bool (G,) groups with at least ``min_group_size`` windows (attribute-level metrics).
    """

    codes: GroupCodes
    labels: tuple[str, ...]
    reference_labels: tuple[str, ...]
    group_matrix: np.ndarray
    reference_matrix: np.ndarray
    status: tuple[str, ...]
    eligible: np.ndarray

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


def _pick_reference(codes: GroupCodes, counts: np.ndarray, strategy: str, eligible: np.ndarray) -> int:
    """Index of the reference group for ``majority`` / ``best`` among eligible non-missing groups."""
    candidates = [g for g in range(codes.n_groups) if codes.groups[g] != MISSING]
    pool = [g for g in candidates if eligible[g]] or candidates or list(range(codes.n_groups))
    if strategy == "majority":
        return max(pool, key=lambda g: (codes.sizes[g], -g))
    accuracy = group_rate(counts, "accuracy")
    return max(pool, key=lambda g: (accuracy[g], codes.sizes[g], -g))


def plan_comparisons(
    codes: GroupCodes,
    counts: np.ndarray,
    *,
    reference: str | Mapping[str, str] = "majority",
    min_group_size: int = 30,
) -> ComparisonPlan:
    """Decide the comparisons of one attribute from its full-data counts (G, 4).

    ``reference`` strategies: ``"majority"`` (the largest group), ``"best"`` (the group with the highest
    accuracy, ties to the larger group; choosing the best-served group makes every error ratio measure a
    gap to the best), ``"rest"`` (each group against all other groups pooled; with exactly two groups only
    the smaller one is compared, since the other row would mirror it), or a mapping attribute -> group name
    (attributes absent from the mapping use ``"majority"``). ``majority``/``best`` pick among groups with at
    least ``min_group_size`` windows (any group if none is that large) and never pick :data:`MISSING`.
    """
    g_count = codes.n_groups
    sizes = codes.sizes
    eligible = sizes >= min_group_size
    strategy = reference if isinstance(reference, str) else "named"
    named = None
    if isinstance(reference, Mapping):
        if codes.attribute in reference:
            named = str(reference[codes.attribute])
            if named not in codes.groups:
                raise DataError(
                    f"reference group {named!r} of attribute {codes.attribute!r} is not among its groups "
                    f"{list(codes.groups)}; name one of them (missing values count only with include_missing)"
                )
        else:
            strategy = "majority"
    labels: list[str] = []
    ref_labels: list[str] = []
    u_rows: list[np.ndarray] = []
    p_rows: list[np.ndarray] = []
    status: list[str] = []
    if g_count >= 2:
        if strategy == "rest":
            compared = list(range(g_count))
            if g_count == 2:
                compared = [min(compared, key=lambda g: (sizes[g], -g))]
            for g in compared:
                u = np.zeros(g_count)
                u[g] = 1.0
                labels.append(codes.groups[g])
                ref_labels.append("rest")
                u_rows.append(u)
                p_rows.append(1.0 - u)
                n_rest = int(sizes.sum() - sizes[g])
                status.append(
                    "group_below_min_size"
                    if sizes[g] < min_group_size
                    else ("reference_below_min_size" if n_rest < min_group_size else "")
                )
        else:
            ref = (
                codes.groups.index(named)
                if named is not None
                else _pick_reference(codes, counts, strategy, eligible)
            )
            for g in range(g_count):
                if g == ref:
                    continue
                u = np.zeros(g_count)
                u[g] = 1.0
                p = np.zeros(g_count)
                p[ref] = 1.0
                labels.append(codes.groups[g])
                ref_labels.append(codes.groups[ref])
                u_rows.append(u)
                p_rows.append(p)
                status.append(
                    "group_below_min_size"
                    if sizes[g] < min_group_size
                    else ("reference_below_min_size" if sizes[ref] < min_group_size else "")
                )
    n_comp = len(labels)
    return ComparisonPlan(
        codes=codes,
        labels=tuple(labels),
        reference_labels=tuple(ref_labels),
        group_matrix=np.array(u_rows).reshape(n_comp, g_count),
        reference_matrix=np.array(p_rows).reshape(n_comp, g_count),
        status=tuple(status),
        eligible=eligible,
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
) -> pd.DataFrame:
    """Group-fairness metrics of hard predictions, one row per (attribute, compared group, metric).

    Args:
        y_true, y_pred: class labels (N,); binarised one-vs-rest as ``label == pos_label``.
        sensitive_features: DataFrame, N rows, one column per protected attribute (see :func:`intersect`
            for intersectional groups). NaN/None/'' and :data:`MISSING` form the ``missing`` group, which
            is left out of every comparison unless ``include_missing``.
        reference: ``"majority"``, ``"rest"``, ``"best"`` or a mapping attribute -> reference group (see
            :func:`plan_comparisons`).
        min_group_size: groups (and references) with fewer windows get NaN with a reason code.

    Returns:
        DataFrame with columns attribute, group, reference_group, n_group, n_reference, metric, value,
        reason. Per attribute: each compared group against its reference for every metric of
        :data:`PAIRWISE_METRICS` (AIF360 definitions), a ``group="worst"`` row per metric when an attribute
        has more than one comparison (the valid value farthest from the ideal: largest ``|difference|`` or
        ``|log ratio|``; n_group/reference_group name the comparison attaining it), and the fairlearn
        attribute-level metrics (:data:`ATTRIBUTE_METRICS`, ``group = reference_group = "all"``, n_group =
        n_reference = windows in eligible groups). ``value`` is NaN exactly where ``reason`` is not ``""``.
    """
    n = _check_labels(np.asarray(y_true), np.asarray(y_pred))
    check_min_group_size(min_group_size)
    frame = as_sensitive_frame(sensitive_features, n)
    _validate_reference(reference, list(frame.columns))
    yt = binarise(y_true, pos_label=pos_label, name="y_true")
    yp = binarise(y_pred, pos_label=pos_label, name="y_pred")
    blocks = []
    for codes in encode_groups(frame, include_missing=include_missing):
        counts = confusion_counts(yt, yp, codes.codes, n_groups=codes.n_groups)
        plan = plan_comparisons(codes, counts, reference=reference, min_group_size=min_group_size)
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
) -> pd.DataFrame:
    """Multiclass labels: :func:`fairness_table` one-vs-rest per class, with a leading ``pos_label`` column.

    ``classes`` defaults to the sorted labels present in ``y_true``.
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
        )
        table.insert(0, "pos_label", int(k))
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def parity_mask(table: pd.DataFrame) -> np.ndarray:
    """bool (R,): rows pooled by :func:`parity_deviation` (the six ratios, not ``worst`` rows)."""
    return np.asarray(table["metric"].isin(PARITY_RATIOS) & (table["group"] != WORST_GROUP), dtype=bool)


def parity_deviation_values(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Parity deviation of B value vectors: mean |1 - value| over masked non-NaN entries, (B, R) -> (B,)."""
    v = np.asarray(values, dtype=np.float64)[:, np.asarray(mask, dtype=bool)]  # (B, R_parity)
    dev = np.abs(1.0 - v)
    valid = ~np.isnan(dev)
    n_valid = valid.sum(axis=1)
    total = np.where(valid, dev, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n_valid > 0, total / np.maximum(n_valid, 1), np.nan)


def parity_deviation(table: pd.DataFrame) -> float:
    """The paper's single fairness score of a model: mean |1 - ratio| over the six ratios.

    Pools the rows of :func:`fairness_table` whose metric is one of :data:`PARITY_RATIOS` (disparate
    impact, error-rate, FDR, FNR, FOR and FPR ratios) over all attributes and compared groups, leaving out
    ``worst`` rows and NaN values. Ideal 0; larger is worse; 0.2 marks the edge of the four-fifths band
    (0.8-1.25). NaN when no ratio is defined.
    """
    missing = [c for c in ("metric", "group", "value") if c not in table.columns]
    if missing:
        raise DataError(
            f"parity_deviation needs a fairness_table with columns metric, group, value; missing {missing}"
        )
    values = table["value"].to_numpy(dtype=np.float64)[None, :]  # (1, R)
    return float(parity_deviation_values(values, parity_mask(table))[0])


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
