"""Bootstrap intervals of a :class:`~fairssl.metrics.GroupMetrics`, by the pipeline's own resampling.

One pass over B resamples of the units (subjects, or windows), resample b drawn by
``SeedSequence(seed, spawn_key=(b,))`` (:func:`~fairssl.evaluation.bootstrap.resample_multiplicities`,
the same draws as :func:`~fairssl.evaluation.bootstrap.bootstrap_ci` and the study's
:func:`~fairssl.evaluation.resampling.resample_models`). Per chunk of resamples:

- :class:`~fairssl.evaluation.replicator.ModelReplicator` gives every comparison row, the parity
  deviations and AUROC/AUPRC (references and minimum sizes fixed on the full data);
- the per-group count table times the multiplicities (:func:`~fairssl.evaluation.counts.counts_from_table`)
  gives every group's confusion counts, hence its rates (:func:`~fairssl.metrics._tables.rate_values`).

Intervals: percentile (:func:`~fairssl.evaluation.bootstrap.percentile_intervals`, as ``bootstrap_ci``)
for rates and comparisons; for the parity deviation, a mean of absolute deviations whose resampled values
sit above the estimate, the study's bias-aware interval (:func:`~fairssl.evaluation.components.components`
with one model: centre ``value - bias``, normal with the bootstrap SD, clipped at 0).
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd

from fairssl.evaluation.bootstrap import (
    check_bootstrap_options,
    percentile_intervals,
    resample_multiplicities,
    single_blas_thread,
)
from fairssl.evaluation.components import components
from fairssl.evaluation.counts import (
    cell_table,
    confusion_cells,
    counts_from_table,
    encode_groups,
    encode_subjects,
)
from fairssl.evaluation.inference import component_row
from fairssl.evaluation.performance import PERFORMANCE_METRICS
from fairssl.evaluation.references import ReferenceWarning
from fairssl.evaluation.replicator import ModelReplicator
from fairssl.metrics._frame import INTERVAL_COLUMNS, GroupMetrics
from fairssl.metrics._tables import COUNT_METRICS, SCORE_METRICS, rate_values


class WindowResamplingWarning(UserWarning):
    """Intervals resampled windows, not subjects: too narrow when a subject has several windows."""


MIN_VALID_FRACTION = 0.5
"""An interval needs its value defined in at least this fraction of resamples (else NaN)."""
KEYS = ["attribute", "group", "metric"]


def _percentile(reps: list[np.ndarray], values: np.ndarray, confidence: float) -> pd.DataFrame:
    """ci_low, ci_high, n_valid of replicate chunks (b, R) around full-data values (R,)."""
    stacked = np.vstack(reps)  # (B, R)
    stacked[:, np.isnan(values)] = np.nan  # an undefined full-data value gets no interval
    reasons = np.full(values.shape, "", dtype=object)
    stats = percentile_intervals(stacked, values, reasons, confidence, MIN_VALID_FRACTION)
    return stats[INTERVAL_COLUMNS]


def _parity_intervals(values: np.ndarray, draws: np.ndarray, confidence: float) -> pd.DataFrame:
    """The study's bias-aware interval of each parity deviation: values (P,), draws (B, P)."""
    rows = []
    for j, value in enumerate(values):
        comp = components(np.array([value]), draws[:, j : j + 1], min_valid_fraction=MIN_VALID_FRACTION)
        row = component_row(comp, confidence, "parity_deviation", change=False)
        rows.append(
            {
                "ci_low": row["ci_low"],
                "ci_high": row["ci_high"],
                "n_valid": int(np.isfinite(draws[:, j]).sum()),
                "bias": row["bias"],
                "estimate_bc": row["estimate_bc"],
            }
        )
    return pd.DataFrame(rows)


def add_intervals(
    result: GroupMetrics,
    labels: np.ndarray,
    scores: np.ndarray | None,
    predictions: np.ndarray,
    frame: pd.DataFrame,
    clusters: np.ndarray | None,
    *,
    n_boot: int,
    seed: int,
    confidence: float,
) -> GroupMetrics:
    """``result`` with ci_low, ci_high and n_valid columns (parity deviation: also bias, estimate_bc).

    Args:
        labels: 0/1 (N,). scores: (N,) or None (hard predictions only). predictions: 0/1 (N,).
        frame: the normalised attributes (N rows). clusters: (N,) unit ids, None: windows.
    """
    check_bootstrap_options(n_boot, confidence, MIN_VALID_FRACTION)
    if clusters is None:
        warnings.warn(
            "intervals resample windows as if independent; when a subject has several windows they are "
            "too narrow: pass clusters=<subject id per window> (or clusters=range(N) if each window is a "
            "different subject)",
            WindowResamplingWarning,
            stacklevel=3,
        )
    options = result.options
    n = labels.shape[0]
    units = encode_subjects(clusters, n, name="clusters")  # (N,) codes 0..S-1
    n_units = int(units.max()) + 1
    # 0/1 predictions thresholded at 0.5 are themselves: the replicator sees the same predictions
    with warnings.catch_warnings():  # a nearly arbitrary reference was reported by the point estimates
        warnings.simplefilter("ignore", ReferenceWarning)
        model = ModelReplicator(
            labels,
            scores if scores is not None else predictions.astype(np.float64),
            frame,
            units,
            n_units,
            threshold=options.threshold if scores is not None else 0.5,
            reference=options.reference,
            min_group_size=options.min_group_size,
            include_missing=options.include_missing,
            parity=options.parity,
            privileged=options.privileged,
            deviation=options.deviation,
        )
    if not model.fairness[KEYS].astype(str).equals(result.fairness[KEYS].astype(str)):  # pragma: no cover
        raise RuntimeError("resampled rows do not line up with the comparison table; please report this")
    cells = confusion_cells(labels, predictions)
    blocks = [cell_table(cells, np.zeros(n, dtype=np.int64), n_groups=1, clusters=units, n_clusters=n_units)]
    group_keys: list[tuple[str, str]] = []
    for codes in encode_groups(frame, include_missing=options.include_missing):
        table = cell_table(cells, codes.codes, n_groups=codes.n_groups, clusters=units, n_clusters=n_units)
        blocks.append(table)
        group_keys.extend((codes.attribute, g) for g in codes.groups)
    count_table = np.hstack(blocks)  # (S, (1 + G_total) * 4): overall, then every group
    fair_reps, parity_reps, perf_reps, rate_reps = [], [], [], []
    with single_blas_thread():
        for mult in resample_multiplicities(
            n_units, n_boot=n_boot, seed=seed, elements_per_resample=n * (1 + frame.shape[1])
        ):
            fair, pooled, performance = model.replicate(mult)
            fair_reps.append(fair)
            parity_reps.append(np.column_stack([pooled, model.attribute_parity(fair)]))  # (b, 1 + A)
            perf_reps.append(performance)
            counts = counts_from_table(count_table, mult)  # (b, 1 + G_total, 4)
            rate_reps.append(rate_values(counts).reshape(mult.shape[0], -1))  # (b, (1 + G_total) * M)

    fairness = pd.concat(
        [result.fairness, _percentile(fair_reps, result.fairness["value"].to_numpy(), confidence)], axis=1
    )
    parity_values = result.parity_deviation["value"].to_numpy(dtype=np.float64)
    parity = pd.concat(
        [result.parity_deviation, _parity_intervals(parity_values, np.vstack(parity_reps), confidence)],
        axis=1,
    )
    # count metrics: overall then each group, metric-minor (the layout of rate_values' reshape)
    by_group = dict(
        zip(
            result.by_group[KEYS].itertuples(index=False, name=None),
            result.by_group["value"].to_numpy(dtype=np.float64),
            strict=True,
        )
    )
    overall = dict(zip(result.overall.index, result.overall["value"].to_numpy(dtype=np.float64), strict=True))
    overall_point = [overall[m] for m in COUNT_METRICS]
    group_point = [by_group[(a, g, m)] for a, g in group_keys for m in COUNT_METRICS]
    rate_ci = _percentile(rate_reps, np.array(overall_point + group_point), confidence)
    m = len(COUNT_METRICS)
    overall_ci = [rate_ci.iloc[:m].set_axis(list(COUNT_METRICS))]
    group_rows = pd.DataFrame(
        [(a, g, metric) for a, g in group_keys for metric in COUNT_METRICS], columns=KEYS
    )
    group_ci = [pd.concat([group_rows, rate_ci.iloc[m:].reset_index(drop=True)], axis=1)]
    if scores is not None:
        perf = model.performance  # performance_table: the overall rows first, then every group
        perf_ci = pd.concat(
            [perf[KEYS], _percentile(perf_reps, perf["value"].to_numpy(dtype=np.float64), confidence)], axis=1
        )
        first = np.arange(len(perf)) < len(PERFORMANCE_METRICS)
        wanted = perf_ci["metric"].isin(SCORE_METRICS).to_numpy()
        overall_ci.append(perf_ci[first & wanted].set_index("metric")[INTERVAL_COLUMNS])
        group_ci.append(perf_ci[~first & wanted])
    by_group_out = result.by_group.merge(
        pd.concat(group_ci, ignore_index=True), on=KEYS, how="left", validate="one_to_one"
    )
    overall_out = result.overall.join(pd.concat(overall_ci), how="left")
    return dataclasses.replace(
        result,
        by_group=by_group_out,
        fairness=fairness,
        parity_deviation=parity,
        overall=overall_out,
        n_boot=n_boot,
        confidence=float(confidence),
        clustered=clusters is not None,
    )
