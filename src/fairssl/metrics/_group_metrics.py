""":func:`group_metrics`: a model's predictions -> a :class:`~fairssl.metrics.GroupMetrics`.

Point estimates come from per-group confusion counts through
:func:`~fairssl.metrics._tables.build_group_metrics` (the accumulator's path too); intervals
(``n_boot > 0``) from :func:`~fairssl.metrics._intervals.add_intervals`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fairssl.errors import DataError
from fairssl.evaluation.counts import confusion_counts, encode_groups, encode_subjects
from fairssl.evaluation.performance import performance_table
from fairssl.metrics._frame import GroupMetrics
from fairssl.metrics._inputs import (
    check_both_classes,
    check_n_boot,
    check_threshold,
    check_y_pred,
    check_y_score,
    check_y_true,
    sensitive_frame,
)
from fairssl.metrics._intervals import add_intervals
from fairssl.metrics._tables import Options, build_group_metrics


def group_metrics(
    y_true: Any,
    y_pred: Any = None,
    *,
    y_score: Any = None,
    sensitive_features: Any,
    reference: str | Mapping[str, str] = "majority",
    parity: str = "pairwise",
    privileged: Mapping[str, str] | None = None,
    threshold: float = 0.5,
    clusters: Sequence | np.ndarray | None = None,
    n_boot: int = 0,
    seed: int = 0,
    confidence: float = 0.95,
    min_group_size: int = 30,
    include_missing: bool = False,
    deviation: str = "abs",
) -> GroupMetrics:
    """Group fairness and performance of one binary classifier's predictions.

    Args:
        y_true: 0/1 labels (N,) (list, array, Series or tensor).
        y_pred: 0/1 predictions (N,); or give ``y_score``, not both.
        y_score: scores (N,) (e.g. P(y=1); or (N, 2) class probabilities): predictions are
            ``y_score >= threshold`` and AUROC/AUPRC are added (y_true must then hold both classes).
        sensitive_features: protected attributes, N rows: a DataFrame (one column per attribute), a named
            Series, a dict name -> values or an array. NaN/None/'' form the ``missing`` group, left out
            unless ``include_missing``.
        reference: each group's reference: ``"majority"`` (largest group), ``"rest"`` (all other groups),
            ``"best"`` (highest accuracy) or a mapping attribute -> group; with ``parity="pairwise"``.
        parity: ``"pairwise"`` (each group against ``reference``) or ``"paper"`` (the privileged group
            against all others pooled; ``privileged``: attribute -> group, default the majority).
        threshold: the prediction rule for ``y_score`` (unused with ``y_pred``).
        clusters: (N,) subject ids: intervals resample subjects (all their windows together), which is
            right when a subject has several windows. None resamples windows.
        n_boot: bootstrap resamples for intervals (0: none; 1000 for a paper).
        seed: the resamples' seed (the same seed gives the same intervals).
        confidence: interval level.
        min_group_size: groups with fewer windows are NaN (``group_below_min_size``) everywhere.
        deviation: parity deviation ``"abs"`` (``|1 - r|``) or ``"log"`` (``|log r|``).

    Returns:
        a :class:`~fairssl.metrics.GroupMetrics` (tables ``by_group``, ``pairwise``,
        ``between_groups``, ``parity_deviation``, ``overall``).
    """
    labels = check_y_true(y_true)
    n = labels.shape[0]
    if (y_pred is None) == (y_score is None):
        got = "both" if y_pred is not None else "neither"
        raise DataError(
            f"give either y_pred (0/1 predictions) or y_score (scores, thresholded at threshold); got {got}"
        )
    n_boot = check_n_boot(n_boot)
    threshold = check_threshold(threshold)
    scores = None if y_score is None else check_y_score(y_score, n)
    if scores is not None:
        check_both_classes(labels)
        predictions = (scores >= threshold).astype(np.int64)
    else:
        predictions = check_y_pred(y_pred, n)
    frame = sensitive_frame(sensitive_features, n)
    unit_codes = None if clusters is None else encode_subjects(clusters, n, name="clusters")
    options = Options(
        reference=reference,
        parity=parity,
        privileged=privileged,
        threshold=threshold,
        min_group_size=min_group_size,
        include_missing=include_missing,
        deviation=deviation,
    )
    options.validate([str(c) for c in frame.columns])
    counts = {
        codes.attribute: (
            codes.groups,
            confusion_counts(labels, predictions, codes.codes, n_groups=codes.n_groups),  # (G, 4)
        )
        for codes in encode_groups(frame, include_missing=include_missing)
    }
    overall = confusion_counts(labels, predictions, np.zeros(n, dtype=np.int64), n_groups=1)[0]  # (4,)
    performance = None
    if scores is not None:
        performance = performance_table(
            labels,
            scores,
            frame,
            threshold=threshold,
            min_group_size=min_group_size,
            include_missing=include_missing,
        )
    result = build_group_metrics(counts, overall, performance, options)
    if n_boot == 0:
        return result
    return add_intervals(
        result,
        labels,
        scores,
        predictions,
        frame,
        unit_codes,
        n_boot=n_boot,
        seed=seed,
        confidence=confidence,
    )
