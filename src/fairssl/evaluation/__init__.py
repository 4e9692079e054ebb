"""fairssl.evaluation: stage 5, performance, group fairness and their uncertainty.

Pure maths on numpy/pandas/scipy (no torch, no training, no I/O). Every group metric comes from the
per-group confusion counts of :mod:`~fairssl.evaluation.counts`; the bootstrap evaluates all resamples in
one vectorised pass over those counts.
"""

from fairssl.evaluation.attribute_metrics import ATTRIBUTE_METRICS, attribute_metric
from fairssl.evaluation.auroc import binary_auroc
from fairssl.evaluation.bootstrap import bootstrap_ci, multiplicities, resample_indices
from fairssl.evaluation.counts import (
    CELLS,
    GroupCodes,
    cell_table,
    confusion_counts,
    counts_from_table,
    encode_groups,
)
from fairssl.evaluation.fairness import fairness_table, fairness_table_per_class, intersect
from fairssl.evaluation.paired import paired_bootstrap_difference
from fairssl.evaluation.parity import (
    PARITY_RATIOS,
    attribute_parity_deviation,
    attribute_parity_values,
    improvement,
    parity_deviation,
    ratio_deviation,
)
from fairssl.evaluation.performance import (
    PERFORMANCE_METRICS,
    choose_threshold,
    performance_table,
    weighted_auroc,
    weighted_average_precision,
)
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
    positive_predictive_value_ratio,
    statistical_parity_difference,
    true_negative_rate_ratio,
    true_positive_rate_ratio,
)
from fairssl.evaluation.references import ReferenceWarning
from fairssl.evaluation.testing import adjust_pvalues, t_interval

__all__ = [
    "ATTRIBUTE_METRICS",
    "CELLS",
    "PAIRWISE_METRICS",
    "PARITY_RATIOS",
    "PERFORMANCE_METRICS",
    "GroupCodes",
    "ReferenceWarning",
    "adjust_pvalues",
    "attribute_metric",
    "attribute_parity_deviation",
    "attribute_parity_values",
    "average_abs_odds_difference",
    "average_odds_difference",
    "binary_auroc",
    "bootstrap_ci",
    "cell_table",
    "choose_threshold",
    "confusion_counts",
    "counts_from_table",
    "disparate_impact",
    "encode_groups",
    "equal_opportunity_difference",
    "error_rate_difference",
    "error_rate_ratio",
    "fairness_table",
    "fairness_table_per_class",
    "false_discovery_rate_difference",
    "false_discovery_rate_ratio",
    "false_negative_rate_difference",
    "false_negative_rate_ratio",
    "false_omission_rate_difference",
    "false_omission_rate_ratio",
    "false_positive_rate_difference",
    "false_positive_rate_ratio",
    "group_rate",
    "improvement",
    "intersect",
    "multiplicities",
    "paired_bootstrap_difference",
    "pairwise_metric",
    "parity_deviation",
    "performance_table",
    "positive_predictive_value_ratio",
    "ratio_deviation",
    "resample_indices",
    "statistical_parity_difference",
    "t_interval",
    "true_negative_rate_ratio",
    "true_positive_rate_ratio",
    "weighted_auroc",
    "weighted_average_precision",
]
