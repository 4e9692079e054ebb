"""Demographic probe: can a linear read-out recover a protected attribute from frozen activations?
(:func:`demographic_probe`; the estimator and the meaning of its intervals: :mod:`fairssl.similarity.probes`.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from fairssl.evaluation.performance import RankedScores, rank_scores, ranked_auroc_auprc
from fairssl.similarity.probe_common import (
    _check_acts,
    _check_enough_subjects,
    _check_frame,
    _check_int,
    _check_options,
    _check_solver,
    _check_subjects,
    _GroupSelection,
    _interval,
    _resamples,
    _select_attributes,
    _units,
)
from fairssl.similarity.probe_fit import _FitLog, _oof, _probe_table, subject_folds

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
_DEMOGRAPHIC_METRICS = ("balanced_accuracy", "auroc", "accuracy")
_PERM_DOMAIN = 7919  # keeps permutation streams apart from bootstrap streams of the same seed


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
    solver: str = "newton",
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
        solver: the logistic regression's solver, ``"newton"`` (default) or ``"sklearn"`` (the reference;
            the same optimum to lbfgs's tolerance, :mod:`fairssl.similarity.probe_solver`).

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
    solver = _check_solver(solver)
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
            fit: dict[str, Any] = {
                "C": C,
                "max_features": max_features,
                "seed": seed,
                "log": log,
                "solver": solver,
            }
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
    return _probe_table(records, PROBE_COLUMNS, selection, arrays, max_features, log)
