"""Group metrics from confusion counts: the count-level functions of :mod:`fairssl.evaluation`, re-exported.

For users who already hold per-group confusion counts (a database query, a streaming job, a paper's
table). Counts are arrays whose last axis has length 4 in the order of :data:`CELLS`
(``tn, fp, fn, tp``); every function accepts any leading shape (e.g. (B, 4) for B resamples) and returns
that shape. Nothing here is a second implementation: the names point at the functions the pipeline uses.

    >>> import numpy as np
    >>> from fairssl.metrics import from_counts
    >>> female, male = np.array([40, 10, 5, 45]), np.array([70, 5, 15, 20])  # tn, fp, fn, tp
    >>> round(float(from_counts.disparate_impact(female, male)), 3)  # SR 55/100 over SR 25/110
    2.42
    >>> float(from_counts.group_rate(female, "true_positive_rate"))  # 45 / 50
    0.9
    >>> counts = {"sex": {"female": female, "male": male}}
    >>> gm = from_counts.group_metrics(counts, reference={"sex": "male"}, min_group_size=0)
    >>> round(float(gm.parity_deviation["value"].iloc[0]), 3)  # mean |1 - r| of the six ratios
    0.804

- :data:`CELLS`, :func:`confusion_counts` (arrays -> counts (G, 4));
- :func:`group_rate` (selection rate, TPR, FPR, ... of counts; NaN where 0/0), :func:`count_metrics`
  (accuracy, balanced accuracy, F1);
- :data:`PAIRWISE_METRICS`, :func:`pairwise_metric` / :func:`pairwise_reason` and one function per AIF360
  metric (``*_difference``: ideal 0; ``*_ratio`` and :func:`disparate_impact`: ideal 1; farther is
  worse), each ``f(counts_group, counts_reference)``;
- :data:`ATTRIBUTE_METRICS`, :func:`attribute_metric` / :func:`attribute_reason` (fairlearn's
  demographic parity and equalized odds over all groups: counts (..., G, 4));
- :data:`PARITY_RATIOS`, :func:`ratio_deviation` (``|1 - r|`` or ``|log r|`` of ratios);
- :func:`group_metrics`: a whole :class:`~fairssl.metrics.GroupMetrics` (comparisons against a reference,
  parity deviation per attribute and pooled) from counts per attribute and group.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from fairssl.errors import DataError
from fairssl.evaluation.attribute_metrics import ATTRIBUTE_METRICS, attribute_metric, attribute_reason
from fairssl.evaluation.counts import CELLS, confusion_counts
from fairssl.evaluation.parity import PARITY_RATIOS, ratio_deviation
from fairssl.evaluation.performance import count_metrics
from fairssl.evaluation.rates import (
    PAIRWISE_METRICS,
    average_abs_odds_difference,
    average_odds_difference,
    disparate_impact,
    equal_opportunity_difference,
    error_rate_difference,
    error_rate_ratio,
    false_discovery_rate_difference,
    false_discovery_rate_ratio,
    false_negative_rate_difference,
    false_negative_rate_ratio,
    false_omission_rate_difference,
    false_omission_rate_ratio,
    false_positive_rate_difference,
    false_positive_rate_ratio,
    group_rate,
    pairwise_metric,
    pairwise_reason,
    positive_predictive_value_ratio,
    statistical_parity_difference,
    true_negative_rate_ratio,
    true_positive_rate_ratio,
)
from fairssl.metrics._frame import GroupMetrics
from fairssl.metrics._tables import Options, build_group_metrics

__all__ = [
    "ATTRIBUTE_METRICS",
    "CELLS",
    "PAIRWISE_METRICS",
    "PARITY_RATIOS",
    "attribute_metric",
    "attribute_reason",
    "average_abs_odds_difference",
    "average_odds_difference",
    "confusion_counts",
    "count_metrics",
    "disparate_impact",
    "equal_opportunity_difference",
    "error_rate_difference",
    "error_rate_ratio",
    "false_discovery_rate_difference",
    "false_discovery_rate_ratio",
    "false_negative_rate_difference",
    "false_negative_rate_ratio",
    "false_omission_rate_difference",
    "false_omission_rate_ratio",
    "false_positive_rate_difference",
    "false_positive_rate_ratio",
    "group_metrics",
    "group_rate",
    "pairwise_metric",
    "pairwise_reason",
    "positive_predictive_value_ratio",
    "ratio_deviation",
    "statistical_parity_difference",
    "true_negative_rate_ratio",
    "true_positive_rate_ratio",
]


def _cells(values: object, where: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (4,) or not np.all(np.isfinite(arr)) or (arr < 0).any():
        raise DataError(
            f"counts of {where} must be 4 non-negative numbers (tn, fp, fn, tp); got {np.asarray(values)!r}"
        )
    return arr


def group_metrics(
    counts: Mapping[str, Mapping[str, object]],
    *,
    overall: object = None,
    reference: str | Mapping[str, str] = "majority",
    parity: str = "pairwise",
    privileged: Mapping[str, str] | None = None,
    min_group_size: int = 30,
    include_missing: bool = False,
    deviation: str = "abs",
) -> GroupMetrics:
    """A :class:`~fairssl.metrics.GroupMetrics` from confusion counts (no scores, so no AUROC; no intervals).

    Args:
        counts: attribute -> group -> (tn, fp, fn, tp). A group named ``"missing"`` is left out unless
            ``include_missing``.
        overall: (tn, fp, fn, tp) of all windows, or None (then ``.overall`` is empty: per-group counts
            do not say how many windows lack an attribute).
        reference, parity, privileged, min_group_size, include_missing, deviation: as in
            :func:`fairssl.metrics.group_metrics`.

    Equals :func:`fairssl.metrics.group_metrics` on windows with these counts (tested).
    """
    if not isinstance(counts, Mapping) or not counts:
        raise DataError(
            "counts must be a non-empty mapping attribute -> group -> (tn, fp, fn, tp); "
            f"got {type(counts).__name__}"
        )
    table = {}
    for attribute, groups in counts.items():
        if not isinstance(groups, Mapping) or not groups:
            raise DataError(f"counts[{attribute!r}] must be a non-empty mapping group -> (tn, fp, fn, tp)")
        names = tuple(str(g) for g in groups)
        cells = np.stack([_cells(v, f"{attribute}={g}") for g, v in groups.items()])  # (G, 4)
        table[str(attribute)] = (names, cells)
    options = Options(
        reference=reference,
        parity=parity,
        privileged=privileged,
        min_group_size=min_group_size,
        include_missing=include_missing,
        deviation=deviation,
    )
    total = None if overall is None else _cells(overall, "overall")
    return build_group_metrics(table, total, None, options)
