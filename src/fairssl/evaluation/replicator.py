"""One model's evaluator: every fairness and performance row for any resample multiplicities at once.

A :class:`ModelReplicator` fixes everything on the full data (comparison plans with their references and
minimum-size checks, the rows of the fairness and performance tables, one sort of the scores) and then
evaluates a chunk of b resamples, given as multiplicities M (b, S) of the S resampling units:

- confusion counts of every group of every attribute (and overall) are ONE product ``M @ table``
  (:func:`fairssl.evaluation.counts.cell_table`), so every fairness metric, parity deviation, accuracy,
  balanced accuracy and F1 of all b resamples come from array operations on (b, G, 4) counts;
- AUROC and AUPRC of each group use the sort made before resampling; per resample they are cumulative
  sums over the (b, n) window weights (:func:`~fairssl.evaluation.performance.ranked_auroc_auprc`).

The only Python loops are over attributes and groups, never over resamples or windows.
:func:`prepare_inputs` checks and encodes the inputs shared by the models of one test set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from fairssl.errors import DataError
from fairssl.evaluation.counts import (
    as_sensitive_frame,
    cell_table,
    check_min_group_size,
    confusion_cells,
    encode_groups,
    encode_subjects,
)
from fairssl.evaluation.parity import attribute_means, parity_layout, pool_attributes
from fairssl.evaluation.performance import (
    COUNT_METRICS,
    PERFORMANCE_METRICS,
    check_scores,
    count_metrics,
    performance_sets,
    performance_table,
    rank_scores,
    ranked_auroc_auprc,
)
from fairssl.evaluation.plans import evaluate_plan, plan_comparisons, plan_table
from fairssl.evaluation.references import validate_parity_options, validate_reference


def _units(clusters: np.ndarray | Sequence | None, n: int) -> tuple[np.ndarray, int]:
    codes = encode_subjects(clusters, n, name="clusters")
    return codes, int(codes.max()) + 1 if n else 0


def prepare_inputs(
    y_true: np.ndarray | Sequence[int],
    scores: list[np.ndarray | Sequence[float]],
    sensitive_features: pd.DataFrame | pd.Series,
    clusters: np.ndarray | Sequence | None,
    reference: str | Mapping[str, str],
    min_group_size: int,
    parity: str = "pairwise",
    privileged: Mapping[str, str] | None = None,
    deviation: str = "abs",
    min_subjects: int = 0,
    min_positives: int = 0,
) -> tuple[np.ndarray, list[np.ndarray], pd.DataFrame, np.ndarray, int]:
    """Check and encode the inputs shared by K models scored on the same N windows.

    Args:
        y_true: 0/1 labels (N,). scores: K arrays of P(y=1), each (N,) or (N, 2).
        sensitive_features: N rows, one column per protected attribute.
        clusters: (N,) resampling unit ids (subjects); None: each window is a unit.
        other arguments: the fairness options, checked here once (as in
            :func:`~fairssl.evaluation.bootstrap.bootstrap_ci`).

    Returns:
        labels int (N,), K scores float (N,), the normalised attribute frame (N rows), unit codes int (N,)
        in 0..S-1, and S.
    """
    checked = [check_scores(y_true, s) for s in scores]
    labels = checked[0][0]
    out_scores = [c[1] for c in checked]
    if any(s.ndim != 1 for s in out_scores):
        raise DataError(
            f"the bootstrap supports binary scores of shape (N,) or (N, 2); got shape {out_scores[0].shape}: "
            "bootstrap each class one-vs-rest"
        )
    check_min_group_size(min_group_size)
    frame = as_sensitive_frame(sensitive_features, len(labels))
    validate_reference(reference, list(frame.columns))
    validate_parity_options(
        parity,
        privileged,
        list(frame.columns),
        deviation=deviation,
        min_subjects=min_subjects,
        min_positives=min_positives,
    )
    units, n_units = _units(clusters, len(labels))
    return labels, out_scores, frame, units, n_units


class ModelReplicator:
    """Everything fixed on the full data for one model, and its metric rows for any multiplicities.

    Args:
        labels: 0/1 (N,). scores: P(y=1) (N,). frame: N rows of attributes (normalised).
        units: int (N,) resampling unit (cluster) codes 0..S-1; n_units: S.
        threshold, reference, min_group_size, include_missing: as in
            :func:`~fairssl.evaluation.bootstrap.bootstrap_ci`.
        parity, privileged, deviation, min_subjects, min_positives: as there; the defaults reproduce the
            pairwise table without subject/positive minimums.
        subjects: (N,) subject ids for ``min_subjects`` (any hashable ids); None uses ``units``.
    """

    def __init__(
        self,
        labels: np.ndarray,
        scores: np.ndarray,
        frame: pd.DataFrame,
        units: np.ndarray,
        n_units: int,
        *,
        threshold: float,
        reference: str | Mapping[str, str],
        min_group_size: int,
        include_missing: bool,
        parity: str = "pairwise",
        privileged: Mapping[str, str] | None = None,
        deviation: str = "abs",
        min_subjects: int = 0,
        min_positives: int = 0,
        subjects: np.ndarray | Sequence | None = None,
    ) -> None:
        validate_parity_options(
            parity,
            privileged,
            [str(c) for c in frame.columns],
            deviation=deviation,
            min_subjects=min_subjects,
            min_positives=min_positives,
        )
        self.deviation = deviation
        subject_codes = units if subjects is None else encode_subjects(subjects, len(labels))
        y_pred = (scores >= threshold).astype(np.int64)
        cells = confusion_cells(labels, y_pred)
        encodings = encode_groups(frame, include_missing=include_missing)
        # fairness: one plan per attribute, fixed on full-data counts
        blocks, tables, self._plans, self._slices = [], [], [], []
        offset = 1  # group 0 of the stacked table is "overall"
        blocks.append(
            cell_table(
                cells, np.zeros(len(labels), dtype=np.int64), n_groups=1, clusters=units, n_clusters=n_units
            )
        )
        for codes in encodings:
            table = cell_table(
                cells, codes.codes, n_groups=codes.n_groups, clusters=units, n_clusters=n_units
            )
            full = table.sum(axis=0).reshape(codes.n_groups, 4)  # (G, 4) full-data counts
            plan = plan_comparisons(
                codes,
                full,
                reference=reference,
                min_group_size=min_group_size,
                parity=parity,
                privileged=privileged,
                min_subjects=min_subjects,
                min_positives=min_positives,
                subjects=subject_codes,
            )
            blocks.append(table)
            tables.append(plan_table(plan, full))
            self._plans.append(plan)
            self._slices.append(slice(offset, offset + codes.n_groups))
            offset += codes.n_groups
        self._table = np.hstack(blocks)  # (S, G_total * 4), column (group, cell)
        self.fairness = pd.concat(tables, ignore_index=True)
        self._parity_index, self._attribute_names = parity_layout(self.fairness)
        self.attribute_windows = np.array([int((c.codes >= 0).sum()) for c in encodings], dtype=np.int64)
        """int (A,): windows in a (kept) group of each attribute."""
        # performance: sets in performance_table order, each sorted once
        self._sets = performance_sets(frame, min_group_size=min_group_size, include_missing=include_missing)
        self._ranked = [
            rank_scores(labels[s.index], scores[s.index], units=units[s.index]) for s in self._sets
        ]
        self._blocked = np.array([s.status != "" for s in self._sets], dtype=bool)
        self.performance = performance_table(
            labels,
            scores,
            frame,
            threshold=threshold,
            min_group_size=min_group_size,
            include_missing=include_missing,
        )

    @property
    def attribute_names(self) -> tuple[str, ...]:
        """(A,) the attributes, in the order of :meth:`attribute_parity`'s columns."""
        return self._attribute_names

    def attribute_parity(self, fair: np.ndarray) -> np.ndarray:
        """Per-attribute parity deviation of fairness rows (b, R_f) from :meth:`replicate` -> (b, A).

        Per attribute: mean ``|1 - r|`` (or ``|log r|``) over its defined parity-ratio rows; NaN where
        none is defined. Ideal 0; larger is worse.
        """
        return attribute_means(fair, self._parity_index, len(self._attribute_names), self.deviation)

    @property
    def attribute_parity_estimate(self) -> np.ndarray:
        """(A,) full-data per-attribute parity deviation."""
        return self.attribute_parity(self.fairness["value"].to_numpy(dtype=np.float64)[None, :])[0]

    @property
    def parity_estimate(self) -> float:
        """Full-data pooled parity deviation (mean over attributes of :attr:`attribute_parity_estimate`)."""
        return float(pool_attributes(self.attribute_parity_estimate[None, :])[0])

    def replicate(self, mult: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows for multiplicities (b, S): fairness (b, R_f), parity deviation (b,), performance (b, R_p).

        The parity deviation is the pooled one (attributes weighing equally); per attribute see
        :meth:`attribute_parity`.
        """
        counts = (mult @ self._table).reshape(mult.shape[0], -1, 4)  # (b, G_total*4) -> (b, G_total, 4)
        fair = np.concatenate(
            [evaluate_plan(p, counts[:, sl])[0] for p, sl in zip(self._plans, self._slices, strict=True)],
            axis=1,
        )
        pdev = pool_attributes(self.attribute_parity(fair))
        # count metrics of every set: overall is group 0, then the attributes' groups in order
        by_count = count_metrics(counts)  # name -> (b, G_total)
        perf = np.empty((mult.shape[0], len(self._sets), len(PERFORMANCE_METRICS)))  # (b, sets, metrics)
        for j, metric in enumerate(PERFORMANCE_METRICS):
            if metric in COUNT_METRICS:
                perf[:, :, j] = by_count[metric]
        for i, ranked in enumerate(self._ranked):
            if not self._blocked[i]:
                perf[:, i, 0], perf[:, i, 1] = ranked_auroc_auprc(ranked, mult)
        perf[:, self._blocked, :] = np.nan
        return fair, pdev, perf.reshape(mult.shape[0], -1)  # (b, sets * metrics), set-major like the table
