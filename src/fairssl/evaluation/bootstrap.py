"""Vectorised bootstrap confidence intervals for every fairness and performance row of one model.

Resampling unit. Windows of one subject are correlated, so the default unit is the cluster (pass subject
ids as ``clusters``); ``clusters=None`` resamples windows. A resample is a vector of multiplicities
(how often each of the S units was drawn, S draws with replacement); resample b is drawn by its own
generator ``SeedSequence(seed, spawn_key=(b,))``, so it does not depend on chunking.

Each chunk of resamples is evaluated in one vectorised pass by
:class:`~fairssl.evaluation.replicator.ModelReplicator`; the only Python loops here are over chunks.
References (``majority``/``best``/privileged), the minimum-size checks and the rows of the table are fixed
on the full data; a value undefined in a resample (e.g. a group without positives) is NaN there and left
out of its percentiles. Intervals are percentile intervals.

Parity deviation. Per resample, each attribute's parity deviation (mean deviation over its defined
parity-ratio rows) and the pooled one (mean over attributes, each weighing equally; see
:func:`fairssl.evaluation.parity.parity_deviation`). An attribute undefined in a resample is left out
of that resample's pooled value.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext

import numpy as np
import pandas as pd

from fairssl.errors import ConfigError
from fairssl.evaluation.replicator import ModelReplicator, prepare_inputs

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


def single_blas_thread() -> AbstractContextManager[object]:
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


def check_bootstrap_options(n_boot: int, confidence: float, min_valid_fraction: float) -> None:
    """ConfigError unless n_boot >= 1, 0 < confidence < 1 and 0 <= min_valid_fraction <= 1."""
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ConfigError(f"n_boot must be a positive integer; got {n_boot!r}")
    if not 0 < float(confidence) < 1:
        raise ConfigError(f"confidence must lie strictly between 0 and 1 (e.g. 0.95); got {confidence!r}")
    if not 0 <= float(min_valid_fraction) <= 1:
        raise ConfigError(f"min_valid_fraction must lie in [0, 1]; got {min_valid_fraction!r}")


def resample_chunks(n_boot: int, n: int) -> list[tuple[int, int]]:
    """(start, stop) ranges of resamples evaluated at once: ``(stop - start) * n`` stays near
    ``_CHUNK_ELEMENTS`` (n: windows times the arrays per window), at least one resample per chunk.
    """
    size = max(1, min(n_boot, _CHUNK_ELEMENTS // max(n, 1)))
    return [(start, min(n_boot, start + size)) for start in range(0, n_boot, size)]


def resample_multiplicities(
    n_units: int, *, n_boot: int, seed: int, elements_per_resample: int
) -> Iterator[np.ndarray]:
    """Multiplicities (b, S) of resamples 0 .. n_boot - 1 of S units, chunk by chunk
    (:func:`resample_chunks`; ``elements_per_resample``: windows times the arrays evaluated per window).
    Resample b is :func:`resample_indices`' row b whatever the chunking."""
    for start, stop in resample_chunks(n_boot, elements_per_resample):
        yield multiplicities(resample_indices(n_units, n_boot=stop - start, seed=seed, start=start), n_units)


def percentile_intervals(
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
    check_bootstrap_options(n_boot, confidence, min_valid_fraction)
    labels, (scores,), frame, units, n_units = prepare_inputs(
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
    model = ModelReplicator(
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
    with single_blas_thread():
        for mult in resample_multiplicities(
            n_units, n_boot=n_boot, seed=seed, elements_per_resample=len(labels) * (1 + frame.shape[1])
        ):
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
    stats = percentile_intervals(
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
