"""Shared test-subject resamples of many models: the raw material of every study-level interval.

All fine-tuned models of a study are scored on the same test windows. :func:`resample_models` draws B
resamples of the test *subjects* (with replacement; a subject brings all its windows) ONCE and evaluates
every model on every resample, so any two models' values are paired resample by resample: the difference
of two models' statistics under resample b is the paired bootstrap draw of their difference.

Quantities (:data:`QUANTITIES`): ``auroc`` (overall AUROC, 0.5 = chance, higher is better) and
``parity_deviation`` (pooled parity deviation, 0 = parity, higher is less fair); with per-attribute parity
available, ``parity_deviation:<attribute>`` too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fairssl.errors import ConfigError, DataError
from fairssl.evaluation.bootstrap import (
    resample_multiplicities,
    single_blas_thread,
)
from fairssl.evaluation.replicator import ModelReplicator, prepare_inputs

QUANTITIES = ("auroc", "parity_deviation")
"""The study-level quantities every model gets (``parity_deviation:<attribute>`` may follow)."""


@dataclass(frozen=True)
class ModelDraws:
    """Plug-in values and bootstrap draws of K models on one test set.

    Attributes:
        quantities: Q names, e.g. ``("auroc", "parity_deviation", "parity_deviation:sex")``.
        values: float (K, Q) plug-in values on the full test set (NaN: undefined).
        draws: float (B, K, Q) the values under B shared resamples of test subjects (NaN where undefined
            in that resample).
        n_subjects: test subjects resampled.
    """

    quantities: tuple[str, ...]
    values: np.ndarray
    draws: np.ndarray
    n_subjects: int

    def column(self, quantity: str) -> int:
        """Index of ``quantity`` on the last axis."""
        if quantity not in self.quantities:
            raise DataError(f"unknown quantity {quantity!r}; the draws hold {list(self.quantities)}")
        return self.quantities.index(quantity)


def resample_models(
    y_true: np.ndarray | Sequence[int],
    scores: Sequence[np.ndarray],
    sensitive_features: pd.DataFrame | pd.Series,
    subjects: np.ndarray | Sequence,
    *,
    n_boot: int = 200,
    seed: int = 0,
    threshold: float = 0.5,
    reference: str | Mapping[str, str] = "majority",
    min_group_size: int = 30,
    include_missing: bool = False,
    fairness_options: Mapping[str, Any] | None = None,
) -> ModelDraws:
    """Evaluate K models (scores on the same N test windows) on B shared resamples of test subjects.

    Args:
        y_true: 0/1 labels (N,). scores: K arrays (N,) of P(y=1), one per model, aligned to ``y_true``.
        sensitive_features: DataFrame, N rows, one column per protected attribute.
        subjects: (N,) subject ids: the resampling unit (windows of one person are not independent).
        n_boot: B resamples (0: plug-in values only, no intervals); resample b is
            ``SeedSequence(seed, spawn_key=(b,))`` for every model.
        threshold, reference, min_group_size, include_missing: as in
            :func:`~fairssl.evaluation.fairness.fairness_table`; ``fairness_options`` are passed on to the
            per-model evaluator (parity definition, deviation, minimum subjects/positives).

    Returns:
        :class:`ModelDraws` with the per-model plug-in values (K, Q) and draws (B, K, Q).
    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise ConfigError(f"n_boot must be a non-negative integer (0: no intervals); got {n_boot!r}")
    if len(scores) == 0:
        raise DataError("no models to evaluate: give at least one score array")
    if subjects is None:
        raise DataError(
            "subject ids are required: the study's intervals resample subjects, since windows of one "
            "person are not independent"
        )
    options = dict(fairness_options or {})
    labels, checked, frame, units, n_units = prepare_inputs(
        y_true, list(scores), sensitive_features, subjects, reference, min_group_size, **options
    )
    models = [
        ModelReplicator(
            labels,
            s,
            frame,
            units,
            n_units,
            threshold=float(threshold),
            reference=reference,
            min_group_size=min_group_size,
            include_missing=include_missing,
            **options,
        )
        for s in checked
    ]
    attrs = list(models[0].attribute_names)
    quantities = (*QUANTITIES, *(f"parity_deviation:{a}" for a in attrs))
    values = np.array([_plugin(m, attrs) for m in models])  # (K, Q)
    chunks = [np.empty((0, len(models), len(quantities)))]
    with single_blas_thread():
        elements = elements_per_resample(len(models), len(labels), frame.shape[1])
        for mult in resample_multiplicities(
            n_units, n_boot=n_boot, seed=seed, elements_per_resample=elements
        ):
            per_model = []
            for m in models:
                fair, pdev, perf = m.replicate(mult)
                cols = [perf[:, 0], pdev]  # overall AUROC is the first performance column
                if attrs:
                    cols += list(np.asarray(m.attribute_parity(fair)).T)
                per_model.append(np.stack(cols, axis=1))  # (b, Q)
            chunks.append(np.stack(per_model, axis=1))  # (b, K, Q)
    return ModelDraws(
        quantities=quantities, values=values, draws=np.concatenate(chunks, axis=0), n_subjects=n_units
    )


def elements_per_resample(n_models: int, n_windows: int, n_attributes: int) -> int:
    """Array elements one resample costs at a time: ``n_windows * (1 + n_attributes)``.

    The models are evaluated one after another on a chunk of resamples, so the working arrays of a chunk
    are one model's (b, N) window weights of the overall set and of every attribute's groups; the number
    of models ``n_models`` does not multiply them (it only sizes the (b, K, Q) values kept, which are
    small). Counting it would shrink chunks to one resample in a study of tens of models, and every
    metric would then be evaluated resample by resample instead of on (b, ...) arrays. The chunking
    changes no value: resample b is the same draw whatever the chunk, and every value of a resample is
    computed from that resample's row alone (tested).
    """
    del n_models  # evaluated one at a time: see above
    return n_windows * (1 + n_attributes)


def _plugin(model: ModelReplicator, attrs: list[str]) -> list[float]:
    perf = model.performance["value"].to_numpy(dtype=np.float64)
    out = [float(perf[0]), float(model.parity_estimate)]
    if attrs:
        out += [float(v) for v in np.asarray(model.attribute_parity_estimate, dtype=np.float64)]
    return out
