"""A streaming accumulator of group metrics for training and validation loops.

Per batch it adds each group's confusion counts (at the threshold) to running totals; with
``auroc=True`` it also keeps the labels, scores and attributes (AUROC needs the scores' ranking, which no
fixed-size summary preserves exactly). :meth:`GroupMetricsAccumulator.compute` builds the tables with the
same code as :func:`fairssl.metrics.group_metrics`, so the result equals ``group_metrics`` on the
concatenated batches (tested).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from fairssl.errors import ConfigError, DataError
from fairssl.evaluation.counts import confusion_counts, encode_groups
from fairssl.evaluation.performance import performance_table
from fairssl.metrics._frame import GroupMetrics
from fairssl.metrics._inputs import (
    check_both_classes,
    check_threshold,
    check_y_score,
    check_y_true,
    raw_frame,
)
from fairssl.metrics._tables import Options, build_group_metrics


class GroupMetricsAccumulator:
    """Accumulates per-group confusion counts over batches; :meth:`compute` gives a :class:`GroupMetrics`.

    Example (inside an evaluation loop; ``batch_attrs`` is a DataFrame or dict with the named columns)::

        acc = GroupMetricsAccumulator(["sex", "age"], threshold=0.5, auroc=True, min_group_size=0)
        for x, y, batch_attrs in loader:
            acc.update(y, model(x).sigmoid(), batch_attrs)
        acc.compute().parity_deviation
        acc.reset()

    Args:
        sensitive_features: the names of the protected attributes each batch gives (in this order).
        threshold: predictions are ``y_score_or_pred >= threshold`` (0/1 predictions pass unchanged for
            any threshold in (0, 1]).
        auroc: keep scores for AUROC/AUPRC (memory grows with the windows seen); False keeps only counts
            (memory: 4 numbers per group).
        reference, parity, privileged, min_group_size, include_missing, deviation: as in
            :func:`fairssl.metrics.group_metrics`.

    No intervals: resampling subjects needs every window; collect the arrays and call
    :func:`~fairssl.metrics.group_metrics` with ``n_boot`` for a final evaluation.
    """

    def __init__(
        self,
        sensitive_features: Sequence[str],
        *,
        threshold: float = 0.5,
        auroc: bool = False,
        reference: str | Mapping[str, str] = "majority",
        parity: str = "pairwise",
        privileged: Mapping[str, str] | None = None,
        min_group_size: int = 30,
        include_missing: bool = False,
        deviation: str = "abs",
    ) -> None:
        if isinstance(sensitive_features, str):
            sensitive_features = [sensitive_features]
        names = [str(s) for s in sensitive_features]
        if not names or len(set(names)) != len(names):
            raise ConfigError(
                "sensitive_features must name one or more distinct attributes; "
                f"got {list(sensitive_features)}"
            )
        self.names = tuple(names)
        self.auroc = bool(auroc)
        self.options = Options(
            reference=reference,
            parity=parity,
            privileged=privileged,
            threshold=check_threshold(threshold),
            min_group_size=min_group_size,
            include_missing=include_missing,
            deviation=deviation,
        )
        self.options.validate(list(self.names))
        self.reset()

    def reset(self) -> None:
        """Forget every batch."""
        self._counts: dict[str, dict[str, np.ndarray]] = {name: {} for name in self.names}
        self._overall = np.zeros(4)
        self._labels: list[np.ndarray] = []
        self._scores: list[np.ndarray] = []
        self._frames: list[pd.DataFrame] = []
        self.n_seen = 0
        """Windows accumulated since the last :meth:`reset`."""

    def _batch_frame(self, sensitive_features: Any, n: int) -> pd.DataFrame:
        if isinstance(sensitive_features, pd.Series) and len(self.names) == 1:
            sensitive_features = sensitive_features.rename(self.names[0])
        if not isinstance(sensitive_features, (pd.DataFrame, pd.Series, Mapping)):
            if len(self.names) != 1:
                raise DataError(
                    f"give the batch's attributes as a DataFrame or dict with columns {list(self.names)}; "
                    f"got {type(sensitive_features).__name__}"
                )
            sensitive_features = {self.names[0]: sensitive_features}
        frame = raw_frame(sensitive_features)  # normalised once, by encode_groups
        if len(frame) != n:
            raise DataError(
                f"sensitive_features has {len(frame)} rows but the batch has {n} labels; "
                "give one row per window"
            )
        absent = [c for c in self.names if c not in frame.columns]
        if absent:
            raise DataError(
                f"the batch lacks attribute(s) {absent} (it has {list(frame.columns)}); give every "
                f"attribute named when the accumulator was made: {list(self.names)}"
            )
        return frame[list(self.names)]

    def update(self, y_true: Any, y_score_or_pred: Any, sensitive_features: Any) -> None:
        """Add one batch: labels (n,) 0/1, scores or 0/1 predictions (n,), attributes (n rows).

        Accepts NumPy arrays, lists, pandas objects and torch tensors (detached, moved to the CPU). An
        empty batch adds nothing.
        """
        labels = check_y_true(y_true, allow_empty=True)
        n = labels.shape[0]
        scores = check_y_score(y_score_or_pred, n)
        if n == 0:
            return
        frame = self._batch_frame(sensitive_features, n)
        predictions = (scores >= self.options.threshold).astype(np.int64)
        for codes in encode_groups(frame, include_missing=True):  # missing kept; dropped in compute
            counts = confusion_counts(labels, predictions, codes.codes, n_groups=codes.n_groups)  # (G, 4)
            totals = self._counts[codes.attribute]
            for g, name in enumerate(codes.groups):
                totals[name] = totals.get(name, np.zeros(4)) + counts[g]
        self._overall += confusion_counts(labels, predictions, np.zeros(n, dtype=np.int64), n_groups=1)[0]
        if self.auroc:
            self._labels.append(labels)
            self._scores.append(scores)
            self._frames.append(frame)
        self.n_seen += n

    def compute(self) -> GroupMetrics:
        """The tables of every window seen since the last :meth:`reset` (no intervals)."""
        if self.n_seen == 0:
            raise DataError("the accumulator holds no windows; call update with a batch before compute")
        performance = None
        if self.auroc:
            labels = np.concatenate(self._labels)
            check_both_classes(labels)
            performance = performance_table(
                labels,
                np.concatenate(self._scores),
                pd.concat(self._frames, ignore_index=True),
                threshold=self.options.threshold,
                min_group_size=self.options.min_group_size,
                include_missing=self.options.include_missing,
            )
        counts = {
            name: (tuple(groups), np.array([groups[g] for g in groups]).reshape(len(groups), 4))
            for name, groups in self._counts.items()
        }
        return build_group_metrics(counts, self._overall.copy(), performance, self.options)

    def __repr__(self) -> str:
        return (
            f"GroupMetricsAccumulator({list(self.names)}, threshold={self.options.threshold}, "
            f"auroc={self.auroc}; {self.n_seen} windows)"
        )
