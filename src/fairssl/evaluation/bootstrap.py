"""Vectorised bootstrap confidence intervals for every fairness and performance row.

Resampling unit. Windows of one subject are correlated, so the default unit is the cluster (pass subject
ids as ``clusters``); ``clusters=None`` resamples windows. A resample is a vector of multiplicities
(how often each of the S units was drawn, S draws with replacement); resample b is drawn by its own
generator ``SeedSequence(seed, spawn_key=(b,))``, so it does not depend on chunking.

What is vectorised. For a chunk of b resamples, with multiplicities M (b, S):

- confusion counts of every group of every attribute (and overall) are ONE product ``M @ table``
  (:func:`fairssl.evaluation.counts.cell_table`), so every fairness metric, parity deviation, accuracy,
  balanced accuracy and F1 of all b resamples come from array operations on (b, G, 4) counts;
- AUROC and AUPRC of each group use one sort of the scores made before resampling; per resample they are
  cumulative sums over the (b, n) window weights (:func:`~fairssl.evaluation.performance.ranked_auroc_auprc`).

The only Python loops are over chunks, attributes and groups, never over resamples or windows.
References (``majority``/``best``/privileged), the minimum-size checks and the rows of the table are fixed
on the full data; a value undefined in a resample (e.g. a group without positives) is NaN there and left
out of its percentiles. Intervals are percentile intervals.

Parity deviation. Per resample, each attribute's parity deviation (mean deviation over its defined
parity-ratio rows) and the pooled one (mean over attributes, each weighing equally; see
:func:`fairssl.evaluation.fairness.parity_deviation`). An attribute undefined in a resample is left out
of that resample's pooled value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext

import numpy as np
import pandas as pd

from fairssl.errors import ConfigError, DataError
from fairssl.evaluation.counts import (
    as_sensitive_frame,
    cell_table,
    check_min_group_size,
    confusion_cells,
    encode_groups,
    encode_subjects,
)
from fairssl.evaluation.fairness import (
    _attribute_means,
    _validate_reference,
    evaluate_plan,
    improvement,
    parity_layout,
    plan_comparisons,
    plan_table,
    pool_attributes,
    validate_parity_options,
)
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

BOOTSTRAP_COLUMNS = [
    "kind",
    "attribute",
    "group",
    "reference_group",
    "n_group",
    "n_reference",
    "metric",
    "estimate",
    "ci_low",
    "ci_high",
    "n_valid",
    "reason",
]
_CHUNK_ELEMENTS = 2_000_000  # resamples x windows processed at once (bounds memory to tens of MB)


def _single_blas_thread() -> AbstractContextManager[object]:
    """Run the small per-chunk matrix products on one BLAS thread.

    The products are (chunk, S) @ (S, 4G), too small to gain from threads; on a busy machine OpenBLAS
    threads spin-wait and slowed the whole bootstrap 5-10x in our benchmark.
    """
    try:
        from threadpoolctl import threadpool_limits  # a dependency of scikit-learn
    except ImportError:  # pragma: no cover
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


# ---------------------------------------------------------------------------------------------- resampling
def resample_indices(n_units: int, *, n_boot: int, seed: int = 0, start: int = 0) -> np.ndarray:
    """The units drawn by resamples ``start .. start + n_boot - 1``: int64 (n_boot, n_units).

    Row b holds ``n_units`` draws with replacement from ``0 .. n_units - 1`` by the generator
    ``default_rng(SeedSequence(seed, spawn_key=(start + b,)))``.
    """
    out = np.empty((n_boot, n_units), dtype=np.int64)
    for b in range(n_boot):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(start + b,)))
        out[b] = rng.integers(0, n_units, size=n_units)
    return out


def multiplicities(indices: np.ndarray, n_units: int) -> np.ndarray:
    """How often each unit was drawn: indices (B, n_draws) -> float64 (B, n_units)."""
    idx = np.asarray(indices, dtype=np.int64)
    b = idx.shape[0]
    flat = (np.arange(b)[:, None] * n_units + idx).ravel()  # (B * n_draws,) row-offset unit ids
    return np.bincount(flat, minlength=b * n_units).astype(np.float64).reshape(b, n_units)


def _units(clusters: np.ndarray | Sequence | None, n: int) -> tuple[np.ndarray, int]:
    codes = encode_subjects(clusters, n, name="clusters")
    return codes, int(codes.max()) + 1 if n else 0


def _check_options(n_boot: int, confidence: float, min_valid_fraction: float) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ConfigError(f"n_boot must be a positive integer; got {n_boot!r}")
    if not 0 < float(confidence) < 1:
        raise ConfigError(f"confidence must lie strictly between 0 and 1 (e.g. 0.95); got {confidence!r}")
    if not 0 <= float(min_valid_fraction) <= 1:
        raise ConfigError(f"min_valid_fraction must lie in [0, 1]; got {min_valid_fraction!r}")


# ------------------------------------------------------------------------------------- one model's rows
class _Replicator:
    """Everything fixed on the full data for one model, and its metric rows for any multiplicities.

    Args:
        labels: 0/1 (N,). scores: P(y=1) (N,). frame: N rows of attributes (normalised).
        units: int (N,) resampling unit (cluster) codes 0..S-1; n_units: S.
        threshold, reference, min_group_size, include_missing: as in :func:`bootstrap_ci`.
        parity, privileged, deviation, min_subjects, min_positives: as in :func:`bootstrap_ci`; the
            defaults reproduce the pairwise table without subject/positive minimums.
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
        return _attribute_means(fair, self._parity_index, len(self._attribute_names), self.deviation)

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


def _chunks(n_boot: int, n: int) -> list[tuple[int, int]]:
    size = max(1, min(n_boot, _CHUNK_ELEMENTS // max(n, 1)))
    return [(start, min(n_boot, start + size)) for start in range(0, n_boot, size)]


def _percentiles(
    reps: np.ndarray, estimate: np.ndarray, reason: np.ndarray, confidence: float, min_valid_fraction: float
) -> pd.DataFrame:
    """Percentile intervals of replicates (B, R) -> DataFrame estimate, ci_low, ci_high, n_valid, reason."""
    b = reps.shape[0]
    valid = ~np.isnan(reps)
    n_valid = valid.sum(axis=0)
    alpha = 1.0 - confidence
    ok = (n_valid >= max(1, int(np.ceil(min_valid_fraction * b)))) & ~np.isnan(estimate)
    lo = np.full(reps.shape[1], np.nan)
    hi = np.full(reps.shape[1], np.nan)
    if ok.any():
        q = np.nanquantile(reps[:, ok], [alpha / 2, 1 - alpha / 2], axis=0)  # (2, R_ok)
        lo[ok], hi[ok] = q[0], q[1]
    reason = np.where(
        reason != "", reason, np.where(np.isnan(estimate) | ok, "", "undefined_in_most_resamples")
    )
    return pd.DataFrame(
        {
            "estimate": estimate,
            "ci_low": lo,
            "ci_high": hi,
            "n_valid": n_valid.astype(np.int64),
            "reason": reason,
        }
    )


def _prepare(
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
    _validate_reference(reference, list(frame.columns))
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


def _reference_label(reference: str | Mapping[str, str], parity: str) -> str:
    if parity == "paper":
        return "privileged"
    return reference if isinstance(reference, str) else "named"


def bootstrap_ci(
    y_true: np.ndarray | Sequence[int],
    y_score: np.ndarray | Sequence[float],
    sensitive_features: pd.DataFrame | pd.Series,
    *,
    clusters: np.ndarray | Sequence | None = None,
    n_boot: int = 1000,
    threshold: float = 0.5,
    confidence: float = 0.95,
    seed: int = 0,
    reference: str | Mapping[str, str] = "majority",
    min_group_size: int = 30,
    include_missing: bool = False,
    min_valid_fraction: float = 0.5,
    parity: str = "pairwise",
    privileged: Mapping[str, str] | None = None,
    deviation: str = "abs",
    min_subjects: int = 0,
    min_positives: int = 0,
    subjects: np.ndarray | Sequence | None = None,
) -> pd.DataFrame:
    """Point estimates and percentile bootstrap intervals of every fairness and performance row.

    Args:
        y_true: 0/1 labels (N,). y_score: P(y=1), (N,) or (N, 2).
        sensitive_features: DataFrame, N rows, one column per protected attribute.
        clusters: (N,) subject ids; resamples draw subjects with replacement and keep all their windows
            (recommended). None resamples windows.
        n_boot: B resamples. threshold: prediction rule ``y_score >= threshold``.
        confidence: interval level (percentiles ``(1 - confidence) / 2`` and ``(1 + confidence) / 2``).
        seed: resample b is drawn by ``SeedSequence(seed, spawn_key=(b,))`` (:func:`resample_indices`).
        reference, min_group_size, include_missing: as in
            :func:`~fairssl.evaluation.fairness.fairness_table`.
        min_valid_fraction: intervals need the value to be defined in at least this fraction of
            resamples (else NaN with reason ``undefined_in_most_resamples``).
        parity, privileged, min_subjects, min_positives: as in
            :func:`~fairssl.evaluation.fairness.fairness_table` (defaults: pairwise, no subject or
            positive minimum).
        deviation: ``"abs"`` (``|1 - r|``, default) or ``"log"`` (``|log r|``) for the parity deviation.
        subjects: (N,) subject ids counted by ``min_subjects``; None uses ``clusters`` (and with
            ``clusters=None`` each window counts as a subject).

    Returns:
        DataFrame (columns :data:`BOOTSTRAP_COLUMNS`): ``kind="fairness"`` rows in the order of
        :func:`~fairssl.evaluation.fairness.fairness_table`; ``kind="summary"`` rows with
        ``metric="parity_deviation"``: first the pooled one (``attribute = group = "all"``, attributes
        weighing equally), then one per attribute (``attribute=<name>, group="all"``, n_group =
        n_reference = windows in a kept group of that attribute); then ``kind="performance"`` rows in the
        order of :func:`~fairssl.evaluation.performance.performance_table` (``n_group`` = group size,
        ``n_reference`` = positives). ``estimate`` is the full-data value; ``n_valid`` counts resamples where
        the value is defined. Parity deviations: ideal 0, larger is worse.
    """
    _check_options(n_boot, confidence, min_valid_fraction)
    labels, (scores,), frame, units, n_units = _prepare(
        y_true,
        [y_score],
        sensitive_features,
        clusters,
        reference,
        min_group_size,
        parity,
        privileged,
        deviation,
        min_subjects,
        min_positives,
    )
    model = _Replicator(
        labels,
        scores,
        frame,
        units,
        n_units,
        threshold=float(threshold),
        reference=reference,
        min_group_size=min_group_size,
        include_missing=include_missing,
        parity=parity,
        privileged=privileged,
        deviation=deviation,
        min_subjects=min_subjects,
        min_positives=min_positives,
        subjects=None if subjects is None else np.asarray(subjects),
    )
    fair_reps, pd_reps, attr_reps, perf_reps = [], [], [], []
    with _single_blas_thread():
        for start, stop in _chunks(n_boot, len(labels) * (1 + frame.shape[1])):
            mult = multiplicities(
                resample_indices(n_units, n_boot=stop - start, seed=seed, start=start), n_units
            )
            f, p, q = model.replicate(mult)
            fair_reps.append(f)
            pd_reps.append(p)
            attr_reps.append(model.attribute_parity(f))
            perf_reps.append(q)
    fair = model.fairness
    perf = model.performance
    summary_est = np.concatenate([[model.parity_estimate], model.attribute_parity_estimate])  # (1 + A,)
    estimates = np.concatenate([fair["value"].to_numpy(), summary_est, perf["value"].to_numpy()])
    reasons = np.concatenate(
        [
            fair["reason"].to_numpy(dtype=object),
            np.where(np.isfinite(summary_est), "", "no_valid_ratio").astype(object),
            perf["reason"].to_numpy(dtype=object),
        ]
    )
    reps = np.concatenate(
        [
            np.vstack(fair_reps),
            np.concatenate(pd_reps)[:, None],
            np.vstack(attr_reps),
            np.vstack(perf_reps),
        ],
        axis=1,
    )
    stats = _percentiles(
        reps, estimates, reasons.astype(object), float(confidence), float(min_valid_fraction)
    )
    meta_f = fair[["attribute", "group", "reference_group", "n_group", "n_reference", "metric"]].assign(
        kind="fairness"
    )
    ref_label = _reference_label(reference, parity)
    meta_s = pd.DataFrame(
        [
            {
                "kind": "summary",
                "attribute": attribute,
                "group": "all",
                "reference_group": ref_label,
                "n_group": n,
                "n_reference": n,
                "metric": "parity_deviation",
            }
            for attribute, n in [
                ("all", len(labels)),
                *zip(model.attribute_names, model.attribute_windows.tolist(), strict=True),
            ]
        ]
    )
    meta_p = pd.DataFrame(
        {
            "kind": "performance",
            "attribute": perf["attribute"],
            "group": perf["group"],
            "reference_group": "",
            "n_group": perf["n"],
            "n_reference": perf["n_pos"],
            "metric": perf["metric"],
        }
    )
    meta = pd.concat([meta_f, meta_s, meta_p], ignore_index=True)
    out = pd.concat([meta.reset_index(drop=True), stats.reset_index(drop=True)], axis=1)
    out["n_group"] = out["n_group"].astype(np.int64)
    out["n_reference"] = out["n_reference"].astype(np.int64)
    return out[BOOTSTRAP_COLUMNS]


PAIRED_METRICS = (
    "auroc_difference",
    "auprc_difference",
    "parity_deviation_difference",
    "relative_improvement",
)


def paired_bootstrap_difference(
    y_true: np.ndarray | Sequence[int],
    score_a: np.ndarray | Sequence[float],
    score_b: np.ndarray | Sequence[float],
    sensitive_features: pd.DataFrame | pd.Series,
    *,
    clusters: np.ndarray | Sequence | None = None,
    n_boot: int = 1000,
    threshold: float | tuple[float, float] = 0.5,
    confidence: float = 0.95,
    seed: int = 0,
    reference: str | Mapping[str, str] = "majority",
    min_group_size: int = 30,
    include_missing: bool = False,
    parity: str = "pairwise",
    privileged: Mapping[str, str] | None = None,
    deviation: str = "abs",
    min_subjects: int = 0,
    min_positives: int = 0,
    subjects: np.ndarray | Sequence | None = None,
) -> pd.DataFrame:
    """Paired bootstrap of model A (a setup) against model B (the supervised baseline) on the same windows.

    Both models are scored on the SAME resamples (same units, same multiplicities), so the intervals are
    of the paired differences:

    - ``auroc_difference`` = AUROC_A - AUROC_B (overall; > 0: A more accurate);
    - ``auprc_difference`` = AUPRC_A - AUPRC_B;
    - ``parity_deviation_difference`` = PD_A - PD_B (< 0: A fairer);
    - ``relative_improvement`` = (PD_B - PD_A) / PD_B (> 0: A fairer; the paper's fairness improvement).

    PD is the pooled parity deviation (attributes weighing equally, ``deviation`` as chosen).

    Args:
        threshold: one threshold for both models, or ``(threshold_a, threshold_b)``.
        other arguments: as in :func:`bootstrap_ci` (the plan, e.g. the privileged or majority group and
            the minimum-size checks, is fixed per model on the full data, as there).

    Returns:
        DataFrame with columns metric, value_a, value_b, estimate, ci_low, ci_high, n_valid, reason.
    """
    _check_options(n_boot, confidence, 0.5)
    labels, (sa, sb), frame, units, n_units = _prepare(
        y_true,
        [score_a, score_b],
        sensitive_features,
        clusters,
        reference,
        min_group_size,
        parity,
        privileged,
        deviation,
        min_subjects,
        min_positives,
    )
    subject_codes = None if subjects is None else encode_subjects(subjects, len(labels))
    thr_a, thr_b = (threshold, threshold) if isinstance(threshold, (int, float)) else threshold
    model_a, model_b = (
        _Replicator(
            labels,
            s,
            frame,
            units,
            n_units,
            threshold=float(t),
            reference=reference,
            min_group_size=min_group_size,
            include_missing=include_missing,
            parity=parity,
            privileged=privileged,
            deviation=deviation,
            min_subjects=min_subjects,
            min_positives=min_positives,
            subjects=subject_codes,
        )
        for s, t in ((sa, thr_a), (sb, thr_b))
    )
    reps: list[np.ndarray] = []
    with _single_blas_thread():
        for start, stop in _chunks(n_boot, 2 * len(labels) * (1 + frame.shape[1])):
            mult = multiplicities(
                resample_indices(n_units, n_boot=stop - start, seed=seed, start=start), n_units
            )
            _, pd_a, perf_a = model_a.replicate(mult)
            _, pd_b, perf_b = model_b.replicate(mult)
            # overall rows come first in the performance block: column 0 = AUROC, 1 = AUPRC
            diffs = [
                perf_a[:, 0] - perf_b[:, 0],
                perf_a[:, 1] - perf_b[:, 1],
                pd_a - pd_b,
                improvement(pd_a, pd_b),
            ]
            reps.append(np.stack(diffs, axis=1))
    perf_a_est = model_a.performance["value"].to_numpy()
    perf_b_est = model_b.performance["value"].to_numpy()
    pa, pb = model_a.parity_estimate, model_b.parity_estimate
    value_a = np.array([perf_a_est[0], perf_a_est[1], pa, pa])
    value_b = np.array([perf_b_est[0], perf_b_est[1], pb, pb])
    estimates = np.array([value_a[0] - value_b[0], value_a[1] - value_b[1], pa - pb, improvement(pa, pb)])
    reasons = np.array(["" if np.isfinite(e) else "undefined_on_full_data" for e in estimates], dtype=object)
    stats = _percentiles(np.vstack(reps), estimates, reasons, float(confidence), 0.5)
    stats.insert(0, "metric", list(PAIRED_METRICS))
    stats.insert(1, "value_a", value_a)
    stats.insert(2, "value_b", value_b)
    return stats
