"""Group task probe: does a group need its own decision boundary? (:func:`group_task_probe`; the
estimator and the meaning of its intervals: :mod:`fairssl.similarity.probes`.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

import fairssl.similarity.probe_fit as probe_fit
from fairssl.errors import ConfigError
from fairssl.evaluation.performance import rank_scores, ranked_auroc_auprc
from fairssl.similarity.probe_common import (
    _check_acts,
    _check_binary_labels,
    _check_enough_subjects,
    _check_frame,
    _check_options,
    _check_solver,
    _check_subjects,
    _GroupSelection,
    _interval,
    _resamples,
    _select_attributes,
    _units,
)
from fairssl.similarity.probe_fit import _FitLog, _probe_table, subject_folds

TASK_PROBE_COLUMNS = [
    "layer",
    "attribute",
    "group",
    "n",
    "n_subjects",
    "n_pos",
    "metric",
    "estimate",
    "ci_low",
    "ci_high",
    "reference",
    "above_reference",
]
GROUP_PCA = ("own", "pooled")
"""Where a group's own probe takes its PCA from (:func:`group_task_probe`'s ``group_pca``)."""
_TASK_METRICS = ("auroc_group_probe", "auroc_pooled_probe", "gap")


def _pooled_and_own_proba(
    X: np.ndarray,
    labels: np.ndarray,
    group: np.ndarray,
    folds: np.ndarray,
    n_groups: int,
    *,
    C: float,
    max_features: int | None,
    seed: int,
    group_pca: str,
    log: _FitLog,
    solver: str = "newton",
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold P(y = 1) (n,) of the pooled probe and of each window's own-group probe.

    ``X`` (n, p) windows of the used groups, ``labels`` (n,) 0/1, ``group`` (n,) codes 0..G-1, ``folds``
    (n,). In fold k the pooled probe is fitted on the training windows of all groups. Each group's own
    probe is fitted on the group's training windows: with ``group_pca="own"`` from its raw features
    (its own standardisation and PCA), with ``"pooled"`` from the pooled fit's prepared features (the
    pooled fold's standardisation and PCA, then the group's own standardisation). Without PCA the two
    are the same probe; with PCA ``"pooled"`` fits one PCA per fold instead of one per group and fold.
    """
    pooled, own = np.full(X.shape[0], np.nan), np.full(X.shape[0], np.nan)
    fit: dict[str, Any] = {"C": C, "seed": seed, "log": log, "solver": solver}
    for k in np.unique(folds):
        test = folds == k
        train, test_rows = ~test, np.flatnonzero(test)
        y_train = labels[train]
        X_train, X_test = X[train], X[test]
        proba, Z_train, Z_test = probe_fit._fit_prepared(
            X_train, y_train, X_test, 2, max_features=max_features, **fit
        )
        pooled[test] = proba[:, 1]
        if group_pca == "own":
            Z_train, Z_test, reduce = X_train, X_test, max_features
        else:
            reduce = None  # already reduced by the pooled fold's PCA
        g_train, g_test = group[train], group[test]
        for g in range(n_groups):
            tr, te = g_train == g, g_test == g
            if not te.any():
                continue
            own[test_rows[te]] = probe_fit._fit_proba(
                Z_train[tr], y_train[tr], Z_test[te], 2, max_features=reduce, **fit
            )[:, 1]
    return pooled, own


def group_task_probe(
    acts: Mapping[str, Any],
    y: Any,
    sensitive_features: pd.DataFrame,
    *,
    subjects: Any,
    attributes: Sequence[str] | None = None,
    n_splits: int = 5,
    min_group_size: int = 30,
    include_missing: bool = False,
    n_boot: int = 200,
    seed: int = 0,
    max_features: int | None = None,
    C: float = 1.0,
    confidence: float = 0.95,
    group_pca: str = "own",
    solver: str = "newton",
) -> pd.DataFrame:
    """Does a group need its own decision boundary? Group-specific vs pooled linear task probes.

    ``y`` (N,) binary task labels 0/1 of labelled windows; the other arguments as in
    :func:`demographic_probe` (a used group must also contain both classes, else status
    ``single_class``). For each layer and attribute with at least two used groups, one set of
    subject-disjoint folds is drawn, stratified by group x label, over the windows of the used groups. In
    each fold

    - the pooled probe is fitted on the training windows of all used groups, and
    - each group's own probe on the training windows of that group only,

    both the same standardised logistic regression as :func:`demographic_probe`. ``group_pca`` matters only
    for layers wider than ``max_features``: ``"own"`` (default) refits the PCA on each group's training
    windows; ``"pooled"`` reuses the fold's PCA fitted on the training windows of all groups (no test
    window, no label), so both probes work in the same components and one PCA is fitted per fold instead
    of one per group and fold (about 1.4x less CPU for both probes together). It is another estimator: the
    group probe gets a basis estimated on more windows, and its AUROC and the gap moved by about twice
    the seed-to-seed difference of the ``"own"`` estimator in ``benchmarks/probes.py``.

    ``solver`` as in :func:`demographic_probe`.

    On the out-of-fold scores, for each group g:

    - ``auroc_group_probe`` = AUROC of g's own probe on g's windows (reference 0.5),
    - ``auroc_pooled_probe`` = AUROC of the pooled probe on g's windows (reference 0.5),
    - ``gap`` = auroc_group_probe - auroc_pooled_probe (reference 0).

    A positive gap whose interval excludes 0 (``above_reference``) means the group's labels follow a
    different linear boundary in this representation than the pooled data's. The test is conservative:
    the group's own probe sees fewer training windows, so under one common boundary the gap is slightly
    negative. Intervals resample the attribute's subjects; the gap is paired (both probes on the same
    resample); like :func:`demographic_probe`'s they leave out refitting variability (module docstring), so
    read a gap whose interval barely excludes 0 with care.

    Returns:
        DataFrame with columns :data:`TASK_PROBE_COLUMNS`, one row per (layer, attribute, group, metric);
        ``n``, ``n_subjects``, ``n_pos`` describe the group. ``attrs`` as in :func:`demographic_probe`.
    """
    frame = _check_frame(sensitive_features)
    _check_options(n_splits, min_group_size, n_boot, seed, max_features, C, confidence)
    solver = _check_solver(solver)
    if group_pca not in GROUP_PCA:
        raise ConfigError(f"group_pca must be one of {GROUP_PCA}, got {group_pca!r}; pass 'own' (default)")
    n_rows = len(frame)
    labels_all = _check_binary_labels(y, n_rows)
    arrays = _check_acts(acts, n_rows)
    subj = _check_subjects(subjects, n_rows)
    chosen = _select_attributes(frame, attributes)
    _check_enough_subjects(subj, n_splits)
    log = _FitLog()
    records: list[dict[str, Any]] = []
    selection = _GroupSelection()
    for attribute, used, rows, group in selection.usable(
        frame,
        chosen,
        subj,
        min_group_size=min_group_size,
        n_splits=n_splits,
        include_missing=include_missing,
        labels=labels_all,
    ):
        labels = labels_all[rows]
        units, n_units = _units(subj[rows])
        folds = subject_folds(subj[rows], group * 2 + labels, n_splits=n_splits, seed=seed)
        chunks = _resamples(n_units, n_boot, seed, rows.size)
        for layer, X_all in arrays.items():
            X = X_all[rows]
            pooled, own = _pooled_and_own_proba(
                X,
                labels,
                group,
                folds,
                len(used),
                C=C,
                max_features=max_features,
                seed=seed,
                group_pca=group_pca,
                log=log,
                solver=solver,
            )
            for g, name in enumerate(used):
                member = group == g
                r_own = rank_scores(labels[member], own[member], units=units[member])
                r_pool = rank_scores(labels[member], pooled[member], units=units[member])
                ones = np.ones((1, n_units))
                est_own = float(ranked_auroc_auprc(r_own, ones)[0][0])
                est_pool = float(ranked_auroc_auprc(r_pool, ones)[0][0])
                rep_own = np.concatenate([ranked_auroc_auprc(r_own, m)[0] for m in chunks])  # (B,)
                rep_pool = np.concatenate([ranked_auroc_auprc(r_pool, m)[0] for m in chunks])  # (B,)
                values_by_metric = (
                    (est_own, rep_own, 0.5),
                    (est_pool, rep_pool, 0.5),
                    (est_own - est_pool, rep_own - rep_pool, 0.0),
                )
                for metric, (est, reps, ref) in zip(_TASK_METRICS, values_by_metric, strict=True):
                    lo, hi = _interval(reps, confidence)
                    records.append(
                        {
                            "layer": layer,
                            "attribute": attribute,
                            "group": name,
                            "n": int(member.sum()),
                            "n_subjects": len(np.unique(units[member])),
                            "n_pos": int(labels[member].sum()),
                            "metric": metric,
                            "estimate": est,
                            "ci_low": lo,
                            "ci_high": hi,
                            "reference": ref,
                            "above_reference": bool(lo > ref),
                        }
                    )
    return _probe_table(records, TASK_PROBE_COLUMNS, selection, arrays, max_features, log)
