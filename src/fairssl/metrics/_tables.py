"""Per-group confusion counts -> the tables of a :class:`~fairssl.metrics.GroupMetrics` (one code path).

Every value comes from the functions of :mod:`fairssl.evaluation`: group rates from
:func:`~fairssl.evaluation.rates.group_rate` and
:func:`~fairssl.evaluation.performance.count_metrics`, the comparisons from
:func:`~fairssl.evaluation.plans.plan_comparisons` / :func:`~fairssl.evaluation.plans.plan_table` (the
loop body of :func:`~fairssl.evaluation.fairness.fairness_table`), the parity deviation from
:mod:`~fairssl.evaluation.parity`, AUROC/AUPRC from
:func:`~fairssl.evaluation.performance.performance_table`. This module only arranges them, so
:func:`fairssl.metrics.group_metrics` (arrays), :class:`fairssl.metrics.GroupMetricsAccumulator`
(batches) and :func:`fairssl.metrics.from_counts.group_metrics` (counts) give identical tables.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from fairssl.data.dataset import MISSING
from fairssl.errors import DataError
from fairssl.evaluation.counts import FN, FP, TN, TP, GroupCodes
from fairssl.evaluation.fairness import TABLE_COLUMNS
from fairssl.evaluation.parity import attribute_parity_deviation, parity_deviation
from fairssl.evaluation.performance import _binary_reasons, count_metrics
from fairssl.evaluation.plans import plan_comparisons, plan_table
from fairssl.evaluation.rates import _RATES, group_rate
from fairssl.metrics._frame import GroupMetrics
from fairssl.metrics._options import Options

RATE_METRICS = (
    "selection_rate",
    "true_positive_rate",
    "false_positive_rate",
    "false_negative_rate",
    "true_negative_rate",
    "positive_predictive_value",
    "false_discovery_rate",
    "false_omission_rate",
    "error_rate",
    "accuracy",
)
"""Group rates of :func:`~fairssl.evaluation.rates.group_rate` shown per group (NaN where 0/0)."""
COUNT_METRICS = (*RATE_METRICS, "balanced_accuracy", "f1")
"""Every per-group metric that comes from the confusion counts, in table order."""
SCORE_METRICS = ("auroc", "auprc")
"""Per-group metrics that need scores (from :func:`~fairssl.evaluation.performance.performance_table`)."""
OVERALL = ("overall", "all")
"""(attribute, group) of the overall rows of the performance table."""


def rate_values(counts: np.ndarray) -> np.ndarray:
    """Every metric of :data:`COUNT_METRICS` from confusion counts (..., G, 4) -> (..., G, M)."""
    extra = count_metrics(counts)
    columns = [group_rate(counts, r) for r in RATE_METRICS]
    columns += [extra["balanced_accuracy"], extra["f1"]]
    return np.stack(columns, axis=-1)  # (..., G, M)


def _count_reasons(counts: np.ndarray) -> list[str]:
    """Reason codes of :data:`COUNT_METRICS` for one group's counts (4,): ``""`` where defined."""
    n_pos, n_neg = int(counts[FN] + counts[TP]), int(counts[TN] + counts[FP])
    binary = _binary_reasons(n_pos, n_neg, int(counts[FP] + counts[TP]))
    values = rate_values(counts[None, :])[0]  # (M,)
    reasons = []
    for metric, value in zip(COUNT_METRICS, values, strict=True):
        if not np.isnan(value):
            reasons.append("")
        elif metric in _RATES:
            reasons.append(f"{_RATES[metric][2]}_in_group")  # the rate's empty base, as in rates.py
        else:
            reasons.append(binary[metric])
    return reasons


def _group_rows(
    attribute: str,
    group: str,
    counts: np.ndarray,
    blocked: bool,
    performance: Mapping[tuple[str, str, str], tuple[float, str]] | None,
) -> list[tuple]:
    """Rows (attribute, group, n, positives, metric, value, reason) of one group's counts (4,)."""
    n, pos = int(counts.sum()), int(counts[FN] + counts[TP])
    values = rate_values(counts[None, :])[0]
    reasons = _count_reasons(counts)
    rows = []
    for metric, value, reason in zip(COUNT_METRICS, values, reasons, strict=True):
        why = "group_below_min_size" if blocked else reason
        rows.append((attribute, group, n, pos, metric, np.nan if why else float(value), why))
    if performance is not None:
        for metric in SCORE_METRICS:
            value, reason = performance[(attribute, group, metric)]
            rows.append((attribute, group, n, pos, metric, value, reason))
    return rows


BY_GROUP_COLUMNS = ["attribute", "group", "n", "positives", "metric", "value", "reason"]


def sorted_groups(
    groups: tuple[str, ...] | list[str], counts: np.ndarray, include_missing: bool
) -> tuple[tuple[str, ...], np.ndarray]:
    """Groups sorted by name (as :func:`~fairssl.evaluation.counts.encode_groups` orders them) with their
    counts (G, 4); the :data:`~fairssl.data.dataset.MISSING` group dropped unless ``include_missing``."""
    c = np.asarray(counts, dtype=np.float64).reshape(len(groups), 4)
    keep = [
        i
        for i in np.argsort(np.asarray(groups, dtype=str), kind="stable")
        if include_missing or groups[i] != MISSING
    ]
    return tuple(str(groups[i]) for i in keep), c[keep]


def build_group_metrics(
    counts: Mapping[str, tuple[tuple[str, ...], np.ndarray]],
    overall: np.ndarray | None,
    performance: pd.DataFrame | None,
    options: Options,
) -> GroupMetrics:
    """All tables from per-attribute counts.

    Args:
        counts: attribute -> (group names, float (G, 4) confusion counts, last axis tn, fp, fn, tp); the
            groups in any order, :data:`~fairssl.data.dataset.MISSING` included or not.
        overall: (4,) counts of all windows, or None (no overall rows).
        performance: a :func:`~fairssl.evaluation.performance.performance_table` of the same windows
            (AUROC/AUPRC rows are read from it), or None without scores.
        options: the comparison options (validated here).
    """
    options.validate(list(counts))
    lookup = None
    if performance is not None:
        lookup = {
            (str(a), str(g), str(m)): (float(v), str(r))
            for a, g, m, v, r in performance[["attribute", "group", "metric", "value", "reason"]].itertuples(
                index=False
            )
        }
    blocks, group_rows = [], []
    for attribute, (raw_groups, raw_counts) in counts.items():
        groups, c = sorted_groups(raw_groups, raw_counts, options.include_missing)
        # the comparison plan reads group names and sizes only (codes.codes: per-window codes, unused here)
        codes = GroupCodes(
            attribute=str(attribute),
            groups=groups,
            codes=np.zeros(0, dtype=np.int64),
            sizes=c.sum(axis=1).astype(np.int64),
        )
        plan = plan_comparisons(
            codes,
            c,
            reference=options.reference,
            min_group_size=options.min_group_size,
            parity=options.parity,
            privileged=options.privileged,
        )
        blocks.append(plan_table(plan, c))
        for g, name in enumerate(groups):
            blocked = bool(codes.sizes[g] < options.min_group_size)
            group_rows.extend(_group_rows(str(attribute), name, c[g], blocked, lookup))
    if not blocks:
        raise DataError("no protected attribute given; give at least one column of sensitive_features")
    fairness = pd.concat(blocks, ignore_index=True)[TABLE_COLUMNS]
    per_attribute = attribute_parity_deviation(fairness, deviation=options.deviation)
    pooled = parity_deviation(fairness, deviation=options.deviation)
    parity = pd.DataFrame(
        {
            "attribute": ["all", *per_attribute.index.astype(str)],
            "value": [pooled, *per_attribute.to_numpy(dtype=np.float64)],
        }
    )
    parity["reason"] = np.where(np.isnan(parity["value"]), "no_valid_ratio", "")
    overall_rows: list[tuple] = []
    if overall is not None:
        overall_rows = _group_rows(*OVERALL, np.asarray(overall, dtype=np.float64).reshape(4), False, lookup)
    overall_table = pd.DataFrame(overall_rows, columns=BY_GROUP_COLUMNS).drop(columns=["attribute", "group"])
    return GroupMetrics(
        by_group=pd.DataFrame(group_rows, columns=BY_GROUP_COLUMNS),
        fairness=fairness,
        parity_deviation=parity,
        overall=overall_table.set_index("metric"),
        options=options,
    )
