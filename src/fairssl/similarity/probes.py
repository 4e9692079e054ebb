"""Linear probes of frozen representations: what they encode about demographics, and whether groups need
their own decision boundary (paper.md, "Open questions": how much bias do representations encode?).

Three analyses of activations captured as ``{layer: (N, features)}`` (e.g. by
:func:`fairssl.similarity.activations.capture_activations`, or any extra representation such as a pooled
embedding), whose row i is row i of a ``sensitive_features`` DataFrame and belongs to subject
``subjects[i]``:

1. :func:`demographic_probe`: can a linear read-out recover a protected attribute from the frozen
   activations? Balanced accuracy and macro one-vs-rest AUROC against chance, with subject-resampled
   intervals. Above chance means the representation encodes group membership (a route for bias).
2. :func:`group_task_probe`: a task probe trained per group versus one pooled probe. A positive gap
   (group-specific minus pooled AUROC) means the group needs a different decision boundary in this
   representation.
3. :func:`relate_to_cka`: rank correlation, across attributes and layers, between the probe gaps and the
   best-vs-worst conditioned CKA difference (:func:`fairssl.similarity.conditioned.best_worst_difference`).

The probe (:func:`out_of_fold_proba`) is ``StandardScaler -> [PCA] -> LogisticRegression`` (L2, ``C``,
``class_weight="balanced"``, lbfgs; multinomial for more than two classes), fitted on the training folds
only. Cross-validation is **subject-disjoint** and stratified (:func:`subject_folds`): windows of one
subject never sit in both the training and the test folds, so a probe cannot score by recognising people
rather than groups.

Intervals resample subjects with replacement (all of a subject's windows together, resample b drawn by
``default_rng(SeedSequence(seed, spawn_key=(b,)))`` over the subjects in sorted id order, as
:func:`fairssl.evaluation.bootstrap.resample_indices`) and recompute the metrics on the fixed out-of-fold
predictions: they reflect which subjects were evaluated, not the variability of refitting the probe.
The same folds and resamples are used for every layer of an attribute, so layers are compared paired.

Caveat on these intervals. Out-of-fold predictions of different folds are not independent (each
subject's label helped fit the models that scored the other folds), so cross-validated metrics vary
more than a bootstrap of fixed predictions shows: for a random subject-level attribute on simulator
window features, the 95% intervals covered chance in only 65-75% of 30 repeats (bootstrap SD about 0.015
against 0.027 over repeats; close to nominal on i.i.d. noise features). ``ci_low > chance`` is
therefore a liberal screen. For a valid test that a layer encodes an attribute,
:func:`demographic_probe` offers a permutation test (``n_permutations``): groups are shuffled across
subjects, folds are redrawn and the probe is refitted, so the null includes all of this variability.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import ThreadpoolController

from fairssl.data.dataset import MISSING, normalise_attributes
from fairssl.errors import ConfigError, DataError
from fairssl.evaluation.bootstrap import resample_multiplicities
from fairssl.evaluation.performance import RankedScores, rank_scores, ranked_auroc_auprc

__all__ = [
    "MAX_ITER",
    "PROBE_COLUMNS",
    "TASK_PROBE_COLUMNS",
    "ProbeCkaRelation",
    "demographic_probe",
    "group_task_probe",
    "out_of_fold_proba",
    "relate_to_cka",
    "subject_folds",
]

MAX_ITER = 1000
"""lbfgs iterations of every probe; fits that do not converge are counted in ``attrs["not_converged"]``."""

PROBE_COLUMNS = [
    "layer",
    "attribute",
    "n",
    "n_subjects",
    "n_groups",
    "metric",
    "estimate",
    "ci_low",
    "ci_high",
    "chance",
    "above_chance",
    "p_value",
]
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
_DEMOGRAPHIC_METRICS = ("balanced_accuracy", "auroc", "accuracy")
_TASK_METRICS = ("auroc_group_probe", "auroc_pooled_probe", "gap")
_SMALL_FIT_ELEMENTS = 20_000_000  # below this many training values a probe fit runs on one BLAS thread
_PERM_DOMAIN = 7919  # keeps permutation streams apart from bootstrap streams of the same seed


# ---------------------------------------------------------------------------------------------- checks
def _check_int(value: Any, name: str, minimum: int, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}; {hint}")
    return int(value)


def _check_options(
    n_splits: int,
    min_group_size: int,
    n_boot: int,
    seed: int,
    max_features: int | None,
    C: float,
    conf: float,
) -> None:
    _check_int(n_splits, "n_splits", 2, "pass e.g. 5")
    _check_int(min_group_size, "min_group_size", 1, "pass e.g. 30")
    _check_int(n_boot, "n_boot", 1, "pass e.g. 200")
    _check_int(seed, "seed", 0, "pass a non-negative integer")
    if max_features is not None:
        _check_int(max_features, "max_features", 1, "pass e.g. 64, or None to keep every feature")
    if isinstance(C, bool) or not isinstance(C, (int, float)) or not C > 0 or not math.isfinite(C):
        raise ConfigError(f"C (inverse L2 strength) must be a positive number, got {C!r}; pass e.g. 1.0")
    if not isinstance(conf, (int, float)) or not 0.0 < conf < 1.0:
        raise ConfigError(f"confidence must lie strictly between 0 and 1, got {conf!r}; pass e.g. 0.95")


def _check_frame(sensitive_features: Any) -> pd.DataFrame:
    if not isinstance(sensitive_features, pd.DataFrame) or sensitive_features.shape[1] == 0:
        raise DataError(
            "sensitive_features must be a DataFrame with one column per protected attribute, got "
            f"{type(sensitive_features).__name__} with shape {getattr(sensitive_features, 'shape', '?')}; "
            "pass e.g. WindowDataset.attributes"
        )
    return sensitive_features


def _check_acts(acts: Any, n_rows: int) -> dict[str, np.ndarray]:
    """Validated ``{layer: (N, features)}``; trailing dimensions are flattened."""
    if not isinstance(acts, Mapping) or len(acts) == 0:
        raise DataError(
            f"acts must be a non-empty mapping of layer name -> activations (N, features), got "
            f"{type(acts).__name__}; pass e.g. the dict returned by capture_activations"
        )
    out: dict[str, np.ndarray] = {}
    for layer, values in acts.items():
        arr = np.asarray(values)
        if arr.ndim < 2 or arr.shape[0] != n_rows:
            raise DataError(
                f"acts[{layer!r}] has shape {arr.shape} but sensitive_features has {n_rows} rows; row i of "
                "every activation array must be window i of sensitive_features"
            )
        if not np.issubdtype(arr.dtype, np.number):
            raise DataError(f"acts[{layer!r}] has dtype {arr.dtype}; pass numeric activations")
        arr = arr.reshape(n_rows, -1)  # (N, d1, d2, ...) -> (N, features)
        if not np.isfinite(arr).all():
            raise DataError(
                f"acts[{layer!r}] holds {int((~np.isfinite(arr)).sum())} NaN/inf values; "
                "remove or impute them before probing"
            )
        out[str(layer)] = arr
    return out


def _check_subjects(subjects: Any, n_rows: int) -> np.ndarray:
    """Subject ids (N,) as strings."""
    arr = np.asarray(subjects, dtype=object)
    if arr.shape != (n_rows,):
        raise DataError(
            f"subjects has shape {arr.shape}, expected ({n_rows},) to match the rows of sensitive_features; "
            "give one subject id per window"
        )
    if pd.isna(pd.Series(arr)).any():
        raise DataError("subjects holds missing ids; give every window its subject id")
    return arr.astype(str)


def _select_attributes(frame: pd.DataFrame, attributes: Sequence[str] | None) -> list[str]:
    columns = [str(c) for c in frame.columns]
    if attributes is None:
        return columns
    if isinstance(attributes, str) or len(attributes) == 0:
        raise ConfigError(
            f"attributes must be a non-empty list of column names, got {attributes!r}; pass e.g. ['race']"
        )
    unknown = [a for a in attributes if str(a) not in columns]
    if unknown:
        raise ConfigError(
            f"unknown attribute(s) {unknown}; sensitive_features has columns {columns}; pass some of those"
        )
    return [str(a) for a in attributes]


def _attribute_values(frame: pd.DataFrame, attribute: str) -> np.ndarray:
    """One column as strings, NaN/None/'' mapped to :data:`MISSING` (as the data contract does)."""
    column = frame[next(c for c in frame.columns if str(c) == attribute)]
    return normalise_attributes(column.to_frame(attribute))[attribute].astype(str).to_numpy(dtype=object)


def _eligible_groups(
    attribute: str,
    values: np.ndarray,
    subjects: np.ndarray,
    *,
    min_group_size: int,
    n_splits: int,
    include_missing: bool,
    labels: np.ndarray | None = None,
) -> tuple[list[str], list[dict[str, Any]]]:
    """The groups used (sorted) and the skipped ones as records attribute, group, size, n_subjects, status."""
    used: list[str] = []
    skipped: list[dict[str, Any]] = []
    for group in sorted(set(values.tolist())):
        member = values == group
        size, n_subj = int(member.sum()), len(np.unique(subjects[member]))
        if group == MISSING and not include_missing:
            status = "missing_excluded"
        elif size < min_group_size:
            status = "too_small"
        elif n_subj < n_splits:
            status = "too_few_subjects"
        elif labels is not None and len(np.unique(labels[member])) < 2:
            status = "single_class"
        else:
            used.append(group)
            continue
        skipped.append(
            {"attribute": attribute, "group": group, "size": size, "n_subjects": n_subj, "status": status}
        )
    return used, skipped


@dataclass
class _GroupSelection:
    """Which groups of each attribute a probe uses, and what it skipped (reported in the output's attrs)."""

    skipped: list[dict[str, Any]] = field(default_factory=list)
    skipped_attributes: list[dict[str, str]] = field(default_factory=list)
    groups: dict[str, list[str]] = field(default_factory=dict)

    def usable(
        self,
        frame: pd.DataFrame,
        chosen: Sequence[str],
        subjects: np.ndarray,
        *,
        min_group_size: int,
        n_splits: int,
        include_missing: bool,
        labels: np.ndarray | None = None,
    ) -> Iterator[tuple[str, list[str], np.ndarray, np.ndarray]]:
        """(attribute, used groups, rows, group code per row 0..G-1) of each attribute with >= 2 usable
        groups; the rest is recorded as skipped."""
        for attribute in chosen:
            values = _attribute_values(frame, attribute)
            used, skip = _eligible_groups(
                attribute,
                values,
                subjects,
                min_group_size=min_group_size,
                n_splits=n_splits,
                include_missing=include_missing,
                labels=labels,
            )
            self.skipped += skip
            if len(used) < 2:
                self.skipped_attributes.append(
                    {"attribute": attribute, "reason": f"fewer than two usable groups ({used})"}
                )
                continue
            self.groups[attribute] = used
            rows = np.flatnonzero(np.isin(values, used))
            codes = np.searchsorted(np.array(used, dtype=object), values[rows]).astype(
                np.int64
            )  # (n,) 0..G-1
            yield attribute, used, rows, codes


# ------------------------------------------------------------------------------------------ folds and fits
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
) -> np.ndarray:
    """Fit the probe on (X_train, y_train in 0..K-1) and return P(class | X_test): (n_test, K).

    A training set with a single class (or none) cannot be fitted: the prediction is then constant
    (that class, or uniform), which ranks all test windows as ties.
    """
    out = np.zeros((X_test.shape[0], n_classes))
    present = np.unique(y_train)
    if present.size < 2:
        log.degenerate += 1
        if present.size == 1:
            out[:, int(present[0])] = 1.0
        else:
            out[:] = 1.0 / n_classes
        return out
    steps: list[tuple[str, Any]] = [("scale", StandardScaler())]
    n_comp = None if max_features is None else min(max_features, X_train.shape[0])
    if n_comp is not None and X_train.shape[1] > n_comp:
        steps.append(("pca", PCA(n_components=n_comp, random_state=seed)))
    steps.append(("logreg", LogisticRegression(C=C, class_weight="balanced", max_iter=MAX_ITER)))
    model = Pipeline(steps)
    with _blas_threads(X_train.size), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(X_train, y_train)
    log.not_converged += sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    out[:, present] = model.predict_proba(X_test)  # columns follow model.classes_ == present
    return out


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
) -> np.ndarray:
    """Out-of-fold probabilities (N, K): rows of fold k from the probe fitted on the other folds."""
    out = np.full((X.shape[0], n_classes), np.nan)
    for k in np.unique(folds):
        test = folds == k
        train = ~test
        out[test] = _fit_proba(
            X[train], labels[train], X[test], n_classes, C=C, max_features=max_features, seed=seed, log=log
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
) -> tuple[np.ndarray, np.ndarray]:
    """Subject-disjoint cross-validated probabilities of a linear probe.

    ``features`` (N, p) and integer ``labels`` (N,) in ``0 .. K-1``; ``subjects`` (N,). Folds come from
    :func:`subject_folds` stratified by ``labels``; for each fold the probe
    ``StandardScaler -> [PCA(max_features)] -> LogisticRegression(C, class_weight="balanced")`` is fitted
    on the other folds. PCA is applied only when p > max_features and is fitted on the training folds.

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
    proba = _oof(X, y, folds, int(y.max()) + 1, C=C, max_features=max_features, seed=seed, log=_FitLog())
    return proba, folds


# --------------------------------------------------------------------------------------- bootstrap helpers
def _units(subjects: np.ndarray) -> tuple[np.ndarray, int]:
    """Subject codes in sorted id order (row-order independent) and the number of subjects."""
    uniques, codes = np.unique(subjects, return_inverse=True)
    return codes.astype(np.int64), len(uniques)


def _interval(reps: np.ndarray, confidence: float) -> tuple[float, float]:
    """Percentile interval of replicates (B,), NaN when fewer than half are defined."""
    valid = reps[~np.isnan(reps)]
    if valid.size < max(1, math.ceil(0.5 * reps.size)):
        return float("nan"), float("nan")
    alpha = 1.0 - confidence
    lo, hi = np.quantile(valid, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def _resamples(n_units: int, n_boot: int, seed: int, n_rows: int) -> list[np.ndarray]:
    """Subject multiplicities (b, S) in chunks of resamples, b * n_rows bounded as in the bootstrap."""
    return list(resample_multiplicities(n_units, n_boot=n_boot, seed=seed, elements_per_resample=n_rows))


def _hits_and_ranks(
    labels: np.ndarray, proba: np.ndarray, units: np.ndarray, n_units: int
) -> tuple[np.ndarray, list[RankedScores]]:
    """Correct predictions per subject and class (S, K), and each class's one-vs-rest ranking."""
    k = proba.shape[1]
    correct = proba.argmax(axis=1) == labels
    hit = np.zeros((n_units, k))
    np.add.at(hit, (units[correct], labels[correct]), 1.0)  # (S, K) correctly predicted windows
    return hit, [rank_scores(labels == c, proba[:, c], units=units) for c in range(k)]


def _demographic_metrics(
    weights: np.ndarray, count: np.ndarray, hit: np.ndarray, ranked: list[RankedScores]
) -> np.ndarray:
    """Balanced accuracy, macro OvR AUROC and accuracy under subject weights (b, S) -> (b, 3).

    count/hit (S, K): windows of class k of each subject, and those predicted as k. With W = weights:
    recall_k = (W hit)_k / (W count)_k, balanced accuracy = mean_k recall_k, accuracy = sum hit / sum count,
    AUROC = mean_k AUROC(class k vs rest, P_k). NaN where a class carries no weight.
    """
    n_k = weights @ count  # (b, K)
    h_k = weights @ hit  # (b, K)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(n_k > 0, h_k / n_k, np.nan)
        acc = h_k.sum(axis=1) / n_k.sum(axis=1)
    auroc = np.stack([ranked_auroc_auprc(r, weights)[0] for r in ranked], axis=1)  # (b, K)
    return np.stack([recall.mean(axis=1), auroc.mean(axis=1), acc], axis=1)


# ---------------------------------------------------------------------------------------------- demographic
def _check_enough_subjects(subj: np.ndarray, n_splits: int) -> None:
    n_all = len(np.unique(subj))
    if n_all < n_splits:
        raise ConfigError(
            f"subject-disjoint {n_splits}-fold cross-validation needs at least {n_splits} subjects, got "
            f"{n_all}; lower n_splits or probe more subjects"
        )


def demographic_probe(
    acts: Mapping[str, Any],
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
    n_permutations: int = 0,
) -> pd.DataFrame:
    """How well a linear probe recovers each protected attribute from each layer's frozen activations.

    Args:
        acts: ``{layer: (N, features)}`` (trailing dimensions are flattened); any extra representation
            (e.g. ``"pooled"``) is probed like a layer.
        sensitive_features: N rows, one column per protected attribute; row i belongs to row i of every
            activation array (alignment is by row order).
        subjects: (N,) subject ids; folds and bootstrap resamples are by subject.
        attributes: the columns to probe (default all).
        n_splits: subject-disjoint folds (:func:`subject_folds`, stratified by group).
        min_group_size: groups with fewer windows are left out, as are groups with fewer than
            ``n_splits`` subjects and the explicit ``"missing"`` group unless ``include_missing``.
        n_boot, confidence: subject-resampled percentile intervals (see the module docstring).
        seed: seeds folds, PCA and resamples; the same seed gives the same table.
        max_features: for layers wider than this, the standardised activations are reduced to
            ``max_features`` principal components (fitted on the training folds only) before the logistic
            regression; this keeps wide convolutional layers (C_out * T_out features) tractable and less
            over-fitted, at the cost of missing group information outside the leading components.
            None keeps every feature.
        C: inverse L2 strength of the logistic regression.
        n_permutations: R > 0 adds a permutation test: R times, the subjects' groups (each subject's modal
            group, for all its windows) are shuffled across subjects with ``default_rng([seed, 7919, r])``,
            folds are redrawn and the probe refitted on every layer; ``p_value`` = (1 + #{null >= observed})
            / (1 + R), one-sided, valid under the null of no group information (use R >= 99 for p < 0.05
            to be attainable with room; costs R times the probe fits). 0 (default) leaves ``p_value`` NaN.

    For each layer and attribute with K >= 2 used groups, the out-of-fold probabilities P (n, K) of the
    probe (:func:`out_of_fold_proba`; multinomial for K > 2, balanced class weights) give, over the n windows
    of the used groups:

    - ``balanced_accuracy`` = mean over groups of recall(argmax P); chance 1/K, ideal 1;
    - ``auroc`` = mean over groups k of AUROC(group k vs rest, P_k) (macro one-vs-rest); chance 0.5, ideal 1;
    - ``accuracy`` of argmax P, whose ``chance`` is the majority group's share (the accuracy of always
      guessing the largest group), for reference; balanced weights trade it for balanced accuracy.

    Higher than chance means the layer linearly encodes group membership; ``above_chance`` =
    ``ci_low > chance`` and, when ``n_permutations`` > 0, the permutation ``p_value`` <= 1 - confidence
    (the valid test). Without permutations it is a liberal screen: the intervals ignore refitting
    variability and run narrow (see the module docstring).

    Returns:
        DataFrame with columns :data:`PROBE_COLUMNS`, one row per (layer, attribute, metric); ``n`` windows
        and ``n_subjects`` subjects of the ``n_groups`` used groups. ``attrs``: ``"skipped"`` (records
        attribute, group, size, n_subjects, status: ``missing_excluded``, ``too_small``,
        ``too_few_subjects``), ``"skipped_attributes"`` (fewer than two used groups), ``"groups"``
        ({attribute: used groups}), ``"reduced_layers"`` ({layer: features} reduced by PCA),
        ``"not_converged"`` and ``"degenerate_fits"`` (counts).
    """
    frame = _check_frame(sensitive_features)
    _check_options(n_splits, min_group_size, n_boot, seed, max_features, C, confidence)
    n_permutations = _check_int(n_permutations, "n_permutations", 0, "pass e.g. 99, or 0 to skip the test")
    n_rows = len(frame)
    arrays = _check_acts(acts, n_rows)
    subj = _check_subjects(subjects, n_rows)
    chosen = _select_attributes(frame, attributes)
    _check_enough_subjects(subj, n_splits)
    log = _FitLog()
    records: list[dict[str, Any]] = []
    selection = _GroupSelection()
    for attribute, used, rows, labels in selection.usable(
        frame, chosen, subj, min_group_size=min_group_size, n_splits=n_splits, include_missing=include_missing
    ):
        k = len(used)
        units, n_units = _units(subj[rows])
        folds = subject_folds(subj[rows], labels, n_splits=n_splits, seed=seed)
        majority = float(np.bincount(labels, minlength=k).max() / rows.size)
        chunks = _resamples(n_units, n_boot, seed, rows.size)
        count = np.zeros((n_units, k))
        np.add.at(count, (units, labels), 1.0)  # (S, K) windows of class k per subject
        # permutation nulls: subject-level groups shuffled across subjects, folds redrawn, probe refitted
        subject_label = count.argmax(axis=1)  # (S,) each subject's (modal) group
        nulls = []
        for r in range(n_permutations):
            shuffled = np.random.default_rng([seed, _PERM_DOMAIN, r]).permutation(n_units)  # (S,)
            perm_labels = subject_label[shuffled][units]  # (n,) every window gets its subject's new group
            nulls.append((perm_labels, subject_folds(subj[rows], perm_labels, n_splits=n_splits, seed=seed)))
        for layer, X in arrays.items():
            fit: dict[str, Any] = {"C": C, "max_features": max_features, "seed": seed, "log": log}
            Xr = X[rows]  # (n, features) windows of the used groups
            proba = _oof(Xr, labels, folds, k, **fit)
            hit, ranked = _hits_and_ranks(labels, proba, units, n_units)
            est = _demographic_metrics(np.ones((1, n_units)), count, hit, ranked)[0]  # (3,)
            reps = np.vstack([_demographic_metrics(m, count, hit, ranked) for m in chunks])  # (B, 3)
            null = np.full((n_permutations, 3), np.nan)  # (R, 3) metrics under permuted groups
            for r, (perm_labels, perm_folds) in enumerate(nulls):
                p_proba = _oof(Xr, perm_labels, perm_folds, k, **fit)
                p_count = np.zeros((n_units, k))
                np.add.at(p_count, (units, perm_labels), 1.0)
                p_hit, p_ranked = _hits_and_ranks(perm_labels, p_proba, units, n_units)
                null[r] = _demographic_metrics(np.ones((1, n_units)), p_count, p_hit, p_ranked)[0]
            chances = (1.0 / k, 0.5, majority)
            for j, metric in enumerate(_DEMOGRAPHIC_METRICS):
                lo, hi = _interval(reps[:, j], confidence)
                p_value = (
                    float((1 + np.sum(null[:, j] >= est[j] - 1e-12)) / (1 + n_permutations))
                    if n_permutations
                    else float("nan")
                )
                records.append(
                    {
                        "layer": layer,
                        "attribute": attribute,
                        "n": int(rows.size),
                        "n_subjects": n_units,
                        "n_groups": k,
                        "metric": metric,
                        "estimate": float(est[j]),
                        "ci_low": lo,
                        "ci_high": hi,
                        "chance": chances[j],
                        "above_chance": bool(lo > chances[j])
                        and (not n_permutations or p_value <= 1.0 - confidence),
                        "p_value": p_value,
                    }
                )
    out = pd.DataFrame(records, columns=PROBE_COLUMNS)
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


# ---------------------------------------------------------------------------------------------- group task
def _check_binary_labels(y: Any, n_rows: int) -> np.ndarray:
    arr = np.asarray(y)
    if arr.shape != (n_rows,):
        raise DataError(
            f"y has shape {arr.shape}, expected ({n_rows},) to match the rows of sensitive_features; "
            "give one label per window"
        )
    values = set(np.unique(arr).tolist())
    if not values <= {0, 1}:
        raise DataError(
            f"y must hold binary labels 0/1, got values {sorted(values)[:6]}; pass labelled windows only "
            "(drop the pool's -1) of a binary task"
        )
    return arr.astype(np.int64)


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
) -> pd.DataFrame:
    """Does a group need its own decision boundary? Group-specific vs pooled linear task probes.

    ``y`` (N,) binary task labels 0/1 of labelled windows; the other arguments as in
    :func:`demographic_probe` (a used group must also contain both classes, else status
    ``single_class``). For each layer and attribute with at least two used groups, one set of
    subject-disjoint folds is drawn, stratified by group x label, over the windows of the used groups. In
    each fold

    - the pooled probe is fitted on the training windows of all used groups, and
    - each group's own probe on the training windows of that group only,

    both the same standardised logistic regression as :func:`demographic_probe`. On the out-of-fold scores,
    for each group g:

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
            pooled = _oof(X, labels, folds, 2, C=C, max_features=max_features, seed=seed, log=log)[:, 1]
            own = np.full(rows.size, np.nan)
            for g in range(len(used)):
                member = group == g
                own[member] = _oof(
                    X[member],
                    labels[member],
                    folds[member],
                    2,
                    C=C,
                    max_features=max_features,
                    seed=seed,
                    log=log,
                )[:, 1]
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
    out = pd.DataFrame(records, columns=TASK_PROBE_COLUMNS)
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


# ----------------------------------------------------------------------------------------- relation to CKA
_RELATION_COLUMNS = (
    "attribute",
    "layer",
    "layer_a",
    "layer_b",
    "best_group",
    "worst_group",
    "gap_best",
    "gap_worst",
    "gap_contrast",
    "cka_best",
    "cka_worst",
    "cka_diff",
)


class ProbeCkaRelation(NamedTuple):
    """Result of :func:`relate_to_cka` (unpacks as ``table, spearman, p_value, n, caveat``)."""

    table: pd.DataFrame
    """One row per matched (attribute, layer): groups, probe gaps, gap_contrast, CKA values and cka_diff."""
    spearman: float
    """Spearman rank correlation of gap_contrast and cka_diff (NaN with fewer than 3 units or no spread)."""
    p_value: float
    """Two-sided permutation p-value (exact for n <= 7, else 9999 random pairings); NaN where rho is."""
    n: int
    """Number of (attribute, layer) units correlated."""
    caveat: str
    """Why the correlation is at most descriptive (small n, dependent units)."""


def _caveat(n: int) -> str:
    if n < 3:
        return (
            f"only {n} (attribute, layer) unit(s) matched: no correlation is computed; "
            "probe more attributes or layers"
        )
    floor = f"{min(1.0, 2.0 / math.factorial(n)):.3g}" if n <= 7 else "about 2e-4 (random pairings)"
    return (
        f"Spearman correlation over only n = {n} (attribute, layer) units; layers of one attribute share its "
        f"groups and windows, so units are not independent and the p-value is optimistic; the smallest "
        f"attainable two-sided p is {floor}; read the correlation as descriptive, not as evidence"
    )


def relate_to_cka(
    probe_gaps: pd.DataFrame,
    cka_best_worst: pd.DataFrame,
    *,
    layer_pairs: Mapping[str, tuple[str, str]] | None = None,
    seed: int = 0,
) -> ProbeCkaRelation:
    """Rank-correlate the group task-probe gaps with the conditioned CKA difference, across attributes.

    ``probe_gaps`` is :func:`group_task_probe`'s output (its ``gap`` rows); ``cka_best_worst`` is
    :func:`fairssl.similarity.conditioned.best_worst_difference`'s output (per attribute: the best- and
    worst-performing groups and, per layer pair, ``diff`` = CKA_best - CKA_worst). Probe layer l is matched
    to the CKA layer pair ``layer_pairs[l]`` = (layer_a, layer_b), by default (l, l): the same layer in
    both models. Probe layers without a matching pair (e.g. ``"pooled"``) are left out.

    For each matched (attribute a, layer l), with best/worst the groups named by the CKA table:

    - gap_contrast = gap(worst) - gap(best): how much more the worst group gains from its own decision
      boundary than the best group does (> 0: the worst group is less well served by the pooled boundary);
    - cka_diff = CKA_best - CKA_worst (> 0: the two models' representations agree less on the worst group).

    Returns ``(table, spearman, p_value, n, caveat)``: rho = Spearman correlation of the two columns over
    the n units (> 0: a worse-served group also has more dissimilar representations), its two-sided
    permutation p-value, and a caveat.

    Caveat: n is small (attributes x layers, typically 3 x 3); the layers of one attribute share its groups
    and windows, so the units are not independent and the p-value is optimistic; with n <= 4 no p below
    0.08 is attainable. Treat rho as a description of this study, not as evidence of a general relation.
    Units whose best or worst group has no probe gap (e.g. too small for the probe) are listed in
    ``table.attrs["dropped"]``.
    """
    need_p = ["layer", "attribute", "group", "metric", "estimate"]
    missing_p = [c for c in need_p if c not in getattr(probe_gaps, "columns", [])]
    if not isinstance(probe_gaps, pd.DataFrame) or missing_p:
        raise DataError(
            f"probe_gaps must be the DataFrame returned by group_task_probe; missing columns {missing_p}; "
            "pass group_task_probe(...)'s result"
        )
    need_c = ["attribute", "best_group", "worst_group", "layer_a", "layer_b", "cka_best", "cka_worst", "diff"]
    missing_c = [c for c in need_c if c not in getattr(cka_best_worst, "columns", [])]
    if not isinstance(cka_best_worst, pd.DataFrame) or missing_c:
        raise DataError(
            f"cka_best_worst must be the DataFrame returned by best_worst_difference; missing columns "
            f"{missing_c}; pass best_worst_difference(...)'s result"
        )
    _check_int(seed, "seed", 0, "pass a non-negative integer")
    gaps = probe_gaps[probe_gaps["metric"] == "gap"]
    gap_of = {
        (str(a), str(la), str(g)): float(v)
        for a, la, g, v in zip(
            gaps["attribute"],
            gaps["layer"],
            gaps["group"],
            gaps["estimate"].to_numpy(dtype=float),
            strict=True,
        )
    }
    cka_of: dict[tuple[str, str, str], dict[Any, Any]] = {}
    for rec in cka_best_worst[need_c].to_dict("records"):
        cka_of.setdefault((str(rec["attribute"]), str(rec["layer_a"]), str(rec["layer_b"])), rec)
    pairs = {str(k): (str(v[0]), str(v[1])) for k, v in (layer_pairs or {}).items()}
    rows: list[dict[str, Any]] = []
    dropped: list[dict[str, str]] = []
    for attribute, layer in gaps[["attribute", "layer"]].drop_duplicates().itertuples(index=False):
        attr, lay = str(attribute), str(layer)
        la, lb = pairs.get(lay, (lay, lay))
        c = cka_of.get((attr, la, lb))
        if c is None:
            continue
        best, worst = str(c["best_group"]), str(c["worst_group"])
        if (attr, lay, best) not in gap_of or (attr, lay, worst) not in gap_of:
            dropped.append({"attribute": attr, "layer": lay, "reason": f"no probe gap for {best} or {worst}"})
            continue
        g_best, g_worst = gap_of[(attr, lay, best)], gap_of[(attr, lay, worst)]
        rows.append(
            {
                "attribute": attr,
                "layer": lay,
                "layer_a": la,
                "layer_b": lb,
                "best_group": best,
                "worst_group": worst,
                "gap_best": g_best,
                "gap_worst": g_worst,
                "gap_contrast": g_worst - g_best,
                "cka_best": float(c["cka_best"]),
                "cka_worst": float(c["cka_worst"]),
                "cka_diff": float(c["diff"]),
            }
        )
    shared = {str(a) for a in gaps["attribute"]} & {k[0] for k in cka_of}
    if not rows and (not shared or dropped):  # thin data: no (attribute, layer) has both a task-probe
        # gap for its best and worst group and a CKA contrast
        empty = pd.DataFrame(columns=[*_RELATION_COLUMNS])
        empty.attrs["dropped"] = dropped
        caveat = "no attribute has both a group task probe and a best-vs-worst CKA difference"
        return ProbeCkaRelation(table=empty, spearman=float("nan"), p_value=float("nan"), n=0, caveat=caveat)
    if not rows:
        probe_layers = sorted(gaps["layer"].astype(str).unique())
        cka_pairs = sorted({(k[1], k[2]) for k in cka_of})
        raise DataError(
            f"no probe layer {probe_layers} of any attribute matches a CKA layer pair {cka_pairs}; "
            "name probe layers as the CKA layers or pass layer_pairs={probe_layer: (layer_a, layer_b)}"
        )
    table = pd.DataFrame(rows)
    table.attrs["dropped"] = dropped
    n = len(table)
    rho = p = float("nan")
    x = table["gap_contrast"].to_numpy(dtype=float)
    y = table["cka_diff"].to_numpy(dtype=float)
    if n >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
        rx, ry = stats.rankdata(x), stats.rankdata(y)  # average ranks; permuting pairs keeps them

        def pearson(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
            a = a - a.mean(axis=axis, keepdims=True)
            b = b - b.mean(axis=axis, keepdims=True)
            return (a * b).sum(axis=axis) / np.sqrt((a * a).sum(axis=axis) * (b * b).sum(axis=axis))

        rho = float(pearson(rx, ry))
        test = stats.permutation_test(
            (ry,),  # one sample: "pairings" permutes its order against the fixed rx, n! pairings in all
            lambda b, axis=-1: pearson(rx, b, axis),
            permutation_type="pairings",
            vectorized=True,
            n_resamples=9999,
            alternative="two-sided",
            rng=np.random.default_rng(seed),
        )
        p = float(test.pvalue)
    return ProbeCkaRelation(table=table, spearman=rho, p_value=p, n=n, caveat=_caveat(n))
