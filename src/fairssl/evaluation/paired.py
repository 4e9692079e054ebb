"""Paired bootstrap of two models (a setup against the supervised baseline) on the same resamples.

Both models are evaluated by :class:`~fairssl.evaluation.replicator.ModelReplicator` on the SAME resamples
of the same units (:func:`~fairssl.evaluation.bootstrap.resample_indices`), so the percentile intervals are
those of the paired differences.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from fairssl.evaluation.bootstrap import (
    check_bootstrap_options,
    percentile_intervals,
    resample_multiplicities,
    single_blas_thread,
)
from fairssl.evaluation.parity import improvement
from fairssl.evaluation.replicator import ModelReplicator, prepare_inputs

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
        other arguments: as in :func:`~fairssl.evaluation.bootstrap.bootstrap_ci` (the plan, e.g. the
            privileged or majority group and the minimum-size checks, is fixed per model on the full data,
            as there).

    Returns:
        DataFrame with columns metric, value_a, value_b, estimate, ci_low, ci_high, n_valid, reason.
    """
    check_bootstrap_options(n_boot, confidence, 0.5)
    labels, (sa, sb), frame, units, n_units = prepare_inputs(
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
    thr_a, thr_b = (threshold, threshold) if isinstance(threshold, (int, float)) else threshold
    model_a, model_b = (
        ModelReplicator(
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
            subjects=subjects,  # encoded by the replicator
        )
        for s, t in ((sa, thr_a), (sb, thr_b))
    )
    reps: list[np.ndarray] = []
    with single_blas_thread():
        for mult in resample_multiplicities(
            n_units, n_boot=n_boot, seed=seed, elements_per_resample=2 * len(labels) * (1 + frame.shape[1])
        ):
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
    stats = percentile_intervals(np.vstack(reps), estimates, reasons, float(confidence), 0.5)
    stats.insert(0, "metric", list(PAIRED_METRICS))
    stats.insert(1, "value_a", value_a)
    stats.insert(2, "value_b", value_b)
    return stats
