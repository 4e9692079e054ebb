"""Fitting the linear probe: subject-disjoint folds and the out-of-fold probabilities of
``StandardScaler -> [PCA] -> LogisticRegression`` (see :mod:`fairssl.similarity.probes`).

A fit is split in two steps so that later probes can reuse the first:

1. :func:`_prepare`: standardise with the training rows' mean and standard deviation (as scikit-learn's
   ``StandardScaler``) and, for layers wider than ``max_features``, project onto the leading principal
   components of the standardised training rows (scikit-learn's ``PCA(random_state=seed)``, same solver
   choice). Both steps are label-free.
2. :func:`_logistic_proba`: L2 logistic regression (``C``, ``class_weight="balanced"``) on the prepared
   training rows, probabilities of the prepared test rows: by default solved in
   :mod:`~fairssl.similarity.probe_solver` (Newton's method), with ``solver="sklearn"`` by scikit-learn's
   lbfgs (:data:`MAX_ITER` iterations).

The group task probe fits step 1 once per fold (on the training windows of all groups) and reuses its
features for every group's own probe (:func:`fairssl.similarity.probe_task.group_task_probe`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from threadpoolctl import ThreadpoolController

from fairssl.errors import ConfigError, DataError
from fairssl.similarity.probe_common import _check_int, _check_options, _check_solver, _check_subjects
from fairssl.similarity.probe_solver import ridge_logistic_proba

MAX_ITER = 1000
"""lbfgs iterations of a ``solver="sklearn"`` probe; fits that do not converge (with either solver) are
counted in ``attrs["not_converged"]``."""

_SMALL_FIT_ELEMENTS = 20_000_000  # below this many training values a probe fit runs on one BLAS thread
_EPS64 = float(np.finfo(np.float64).eps)


def subject_folds(subjects: Any, strata: Any, *, n_splits: int = 5, seed: int = 0) -> np.ndarray:
    """Assign every window to one of ``n_splits`` subject-disjoint folds, stratified by subject.

    ``subjects`` (N,) and ``strata`` (N,) (the class to balance across folds, e.g. the group, or
    group x label) -> int64 (N,) fold ids in ``0 .. n_splits - 1``. All windows of a subject get the same
    fold, so no subject is ever in both the training and the test part of a split.

    Rule: each subject's stratum is its most frequent one (ties: the smallest in sorted order). Taking
    the strata in sorted order, the subjects of a stratum (sorted by id) are shuffled by
    ``default_rng(seed)`` (one permutation per stratum, in that order) and dealt round-robin to the folds,
    the deal continuing where the previous stratum stopped. So every stratum's subjects are split as evenly
    as possible (fold counts differ by at most one; a stratum with >= n_splits subjects is in every fold
    and every training part), fold sizes in subjects differ by at most one, and the result depends on
    subject ids and strata, not on the row order. O(N log N).
    """
    subj = np.asarray(subjects, dtype=object)
    strat = np.asarray(strata, dtype=object)
    if subj.ndim != 1 or strat.shape != subj.shape:
        raise DataError(
            f"subjects {subj.shape} and strata {strat.shape} must be 1-D of the same length; "
            "give one subject id and one stratum per window"
        )
    n_splits = _check_int(n_splits, "n_splits", 2, "pass e.g. 5")
    _check_int(seed, "seed", 0, "pass a non-negative integer")
    subj_ids, unit = np.unique(subj.astype(str), return_inverse=True)
    if len(subj_ids) < n_splits:
        raise ConfigError(
            f"subject-disjoint {n_splits}-fold cross-validation needs at least {n_splits} subjects, got "
            f"{len(subj_ids)}; lower n_splits or probe more subjects"
        )
    strata_ids, code = np.unique(strat.astype(str), return_inverse=True)
    counts = np.zeros((len(subj_ids), len(strata_ids)), dtype=np.int64)
    np.add.at(counts, (unit, code), 1)  # (S, strata) windows of each stratum per subject
    subject_stratum = counts.argmax(axis=1)  # (S,) modal stratum, ties to the smallest
    rng = np.random.default_rng(seed)
    subject_fold = np.empty(len(subj_ids), dtype=np.int64)
    start = 0
    for stratum in range(len(strata_ids)):
        members = np.flatnonzero(subject_stratum == stratum)  # sorted subject order
        order = members[rng.permutation(members.size)]
        subject_fold[order] = (start + np.arange(members.size)) % n_splits
        start = (start + members.size) % n_splits
    return subject_fold[unit]


_CONTROLLER: list[ThreadpoolController] = []


def _blas_threads(n_elements: int) -> AbstractContextManager[object]:
    """One BLAS thread for small fits: lbfgs on a few thousand rows ran 3x slower with threads spinning on a
    busy 2-core machine; large (wide-layer) fits keep the default threads."""
    if n_elements >= _SMALL_FIT_ELEMENTS:
        return nullcontext()
    if not _CONTROLLER:  # inspecting the loaded libraries is slow; do it once
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")


@dataclass
class _FitLog:
    """Counts of fits that hit ``MAX_ITER`` and of folds whose training part lacked a class."""

    not_converged: int = 0
    degenerate: int = 0


def _standardise(X_train: np.ndarray, X_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(X - mean) / sd with the training rows' statistics, bit for bit as ``StandardScaler`` (statistics
    in float64, applied in the input's float dtype; a feature constant on the training rows keeps scale 1).
    ``X_train`` (n, p), ``X_test`` (m, p) -> (n, p), (m, p)."""
    dtype = X_train.dtype if np.issubdtype(X_train.dtype, np.floating) else np.float64
    n = X_train.shape[0]
    mean = X_train.mean(axis=0, dtype=np.float64)  # (p,)
    var = X_train.var(axis=0, dtype=np.float64)  # (p,) ddof 0
    constant = var <= n * _EPS64 * var + (n * mean * _EPS64) ** 2  # indistinguishable from a constant
    scale = np.sqrt(var)
    scale[constant | (scale < 10 * _EPS64)] = 1.0
    out = []
    for X in (X_train, X_test):
        Z = np.array(X, dtype=dtype)  # a copy in the working dtype
        Z -= mean.astype(dtype)  # statistics cast to the working dtype, as StandardScaler.transform
        Z /= scale.astype(dtype)
        out.append(Z)
    return out[0], out[1]


def _prepare(
    X_train: np.ndarray, X_test: np.ndarray, *, max_features: int | None, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Label-free step of the probe: standardised (n_train, p), (n_test, p), or their leading
    ``min(max_features, n_train)`` principal-component scores when p is larger (PCA fitted on the
    standardised training rows, ``random_state=seed``, scikit-learn's solver choice)."""
    Z_train, Z_test = _standardise(X_train, X_test)
    n_comp = None if max_features is None else min(max_features, X_train.shape[0])
    if n_comp is not None and X_train.shape[1] > n_comp:
        pca = PCA(n_components=n_comp, random_state=seed)
        # fit_transform, as in a Pipeline: with the randomized solver the training scores (U S) differ
        # from transform(Z_train) (Z_train V) by the part of Z_train outside the sketched range
        Z_train, Z_test = pca.fit_transform(Z_train), pca.transform(Z_test)
    return Z_train, Z_test


def _logistic_proba(
    Z_train: np.ndarray,
    y_train: np.ndarray,
    Z_test: np.ndarray,
    n_classes: int,
    *,
    C: float,
    log: _FitLog,
    solver: str = "newton",
) -> np.ndarray:
    """Fit the logistic regression on prepared (Z_train, y_train in 0..K-1); P(class | Z_test) (n_test, K).

    ``solver``: ``"newton"`` (:func:`~fairssl.similarity.probe_solver.ridge_logistic_proba`, the default)
    or ``"sklearn"`` (scikit-learn's lbfgs, the reference): the same optimum, to lbfgs's tolerance.
    A training set with a single class (or none) cannot be fitted: the prediction is then constant
    (that class, or uniform), which ranks all test windows as ties.
    """
    out = np.zeros((Z_test.shape[0], n_classes))
    present = np.unique(y_train)
    if present.size < 2:
        log.degenerate += 1
        if present.size == 1:
            out[:, int(present[0])] = 1.0
        else:
            out[:] = 1.0 / n_classes
        return out
    if solver == "newton":
        proba, converged = ridge_logistic_proba(Z_train, y_train, Z_test, C=C)
        log.not_converged += not converged
        out[:, present] = proba  # columns follow the sorted classes present
        return out
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=MAX_ITER)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(Z_train, y_train)
    log.not_converged += sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    out[:, present] = model.predict_proba(Z_test)  # columns follow model.classes_ == present
    return out


def _fit_prepared(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    n_classes: int,
    *,
    C: float,
    max_features: int | None,
    seed: int,
    log: _FitLog,
    solver: str = "newton",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The probe on raw features: (P(class | X_test) (n_test, K), prepared train, prepared test)."""
    with _blas_threads(X_train.size):
        Z_train, Z_test = _prepare(X_train, X_test, max_features=max_features, seed=seed)
        proba = _logistic_proba(Z_train, y_train, Z_test, n_classes, C=C, log=log, solver=solver)
    return proba, Z_train, Z_test


def _fit_proba(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    n_classes: int,
    *,
    C: float,
    max_features: int | None,
    seed: int,
    log: _FitLog,
    solver: str = "newton",
) -> np.ndarray:
    """Fit the probe on (X_train, y_train in 0..K-1) and return P(class | X_test): (n_test, K)."""
    if np.unique(y_train).size < 2:  # nothing to fit (constant prediction), nothing to prepare
        return _logistic_proba(X_train, y_train, X_test, n_classes, C=C, log=log, solver=solver)
    return _fit_prepared(
        X_train, y_train, X_test, n_classes, C=C, max_features=max_features, seed=seed, log=log, solver=solver
    )[0]


def _oof(
    X: np.ndarray,
    labels: np.ndarray,
    folds: np.ndarray,
    n_classes: int,
    *,
    C: float,
    max_features: int | None,
    seed: int,
    log: _FitLog,
    solver: str = "newton",
) -> np.ndarray:
    """Out-of-fold probabilities (N, K): rows of fold k from the probe fitted on the other folds."""
    out = np.full((X.shape[0], n_classes), np.nan)
    for k in np.unique(folds):
        test = folds == k
        train = ~test
        out[test] = _fit_proba(
            X[train],
            labels[train],
            X[test],
            n_classes,
            C=C,
            max_features=max_features,
            seed=seed,
            log=log,
            solver=solver,
        )
    return out


def out_of_fold_proba(
    features: Any,
    labels: Any,
    *,
    subjects: Any,
    n_splits: int = 5,
    seed: int = 0,
    max_features: int | None = None,
    C: float = 1.0,
    solver: str = "newton",
) -> tuple[np.ndarray, np.ndarray]:
    """Subject-disjoint cross-validated probabilities of a linear probe.

    ``features`` (N, p) and integer ``labels`` (N,) in ``0 .. K-1``; ``subjects`` (N,). Folds come from
    :func:`subject_folds` stratified by ``labels``; for each fold the probe
    ``StandardScaler -> [PCA(max_features)] -> LogisticRegression(C, class_weight="balanced")`` is fitted
    on the other folds. PCA is applied only when p > max_features and is fitted on the training folds.

    ``solver``: ``"newton"`` (default) or ``"sklearn"`` (:data:`~fairssl.similarity.probe_common.SOLVERS`;
    the same optimum, see :mod:`fairssl.similarity.probe_solver`).

    Returns ``(proba (N, K), folds (N,))``; row i of ``proba`` comes from the model that never saw
    subject ``subjects[i]``.
    """
    X = np.asarray(features)
    y = np.asarray(labels)
    if X.ndim != 2 or y.shape != (X.shape[0],) or not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
        raise DataError(
            f"features {X.shape} must be (N, p) and labels {y.shape} integer class codes (N,) >= 0; "
            "pass e.g. np.unique(values, return_inverse=True)[1]"
        )
    _check_options(n_splits, 1, 1, seed, max_features, C, 0.95)
    subj = _check_subjects(subjects, X.shape[0])
    folds = subject_folds(subj, y, n_splits=n_splits, seed=seed)
    solver = _check_solver(solver)
    proba = _oof(
        X, y, folds, int(y.max()) + 1, C=C, max_features=max_features, seed=seed, log=_FitLog(), solver=solver
    )
    return proba, folds


def _probe_table(
    records: list[dict[str, Any]],
    columns: Sequence[str],
    selection: Any,
    arrays: Mapping[str, np.ndarray],
    max_features: int | None,
    log: _FitLog,
) -> pd.DataFrame:
    """A probe's result table (``columns``) with what it skipped, reduced and failed to fit in ``attrs``:
    ``skipped``, ``skipped_attributes``, ``groups`` (from the group ``selection``), ``reduced_layers``
    ({layer: features} reduced by PCA), ``not_converged`` and ``degenerate_fits`` (counts)."""
    out = pd.DataFrame(records, columns=list(columns))
    out.attrs.update(
        skipped=selection.skipped,
        skipped_attributes=selection.skipped_attributes,
        groups=selection.groups,
        reduced_layers={
            layer: int(a.shape[1])
            for layer, a in arrays.items()
            if max_features is not None and a.shape[1] > max_features
        },
        not_converged=log.not_converged,
        degenerate_fits=log.degenerate,
    )
    return out
