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
``class_weight="balanced"``; multinomial for more than two classes; solved by Newton's method in
:mod:`.probe_solver`, or scikit-learn's lbfgs with ``solver="sklearn"``), fitted on the training folds
only (the group task probe's ``group_pca="pooled"`` lets each group's probe reuse its fold's pooled
PCA). Cross-validation is **subject-disjoint** and stratified (:func:`subject_folds`): windows of one
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

Cost. Every probe is fitted once per fold and layer; the bootstrap reweights the fixed out-of-fold scores
and never refits. Most of the time goes to the PCA of wide layers (scikit-learn's randomized solver, one
per fit). An exact PCA (eigendecomposition of the smaller Gram matrix, or LAPACK's SVD) was measured and
kept out: against the randomized solver, the Gram route is as fast (190 rows) to 2.2x slower and LAPACK's
SVD 1.5-7.7x slower at the default study's shapes (n = 190-480 training windows x 768 features -> 64
components) and at larger ones (1,200 x 3,072; 4,000 x 768), ``benchmarks/probe_speed.py``. The logistic
regression is Newton's method for two and for more classes (about ten steps; the multinomial fit was
L-BFGS, ~400 iterations, 3x slower), which costs less than scikit-learn's lbfgs, whose per-iteration
overhead dominated. With ``solver="sklearn"`` the fits reproduce ``Pipeline(StandardScaler, PCA,
LogisticRegression)`` bit for bit; the default reaches the same optimum more precisely (estimates within
0.01 of the sklearn path, the stopping error of lbfgs at ``tol=1e-4``). In ``fairssl run`` the models are
probed in parallel (the study process and ``runtime.workers - 1`` worker processes,
:mod:`fairssl.experiments.probing`). ``benchmarks/probes.py`` times both solvers against the earlier
implementation; ``benchmarks/analysis.py`` times the whole probe stage.

The module is split by concept: :mod:`.probe_common` (checks, group selection, bootstrap helpers),
:mod:`.probe_fit` (folds and fits), :mod:`.probe_demographic`, :mod:`.probe_task`, :mod:`.probe_cka`;
this module keeps the public names.
"""

from __future__ import annotations

from fairssl.similarity.probe_cka import ProbeCkaRelation, relate_to_cka
from fairssl.similarity.probe_demographic import PROBE_COLUMNS, demographic_probe
from fairssl.similarity.probe_fit import MAX_ITER, out_of_fold_proba, subject_folds
from fairssl.similarity.probe_task import GROUP_PCA, TASK_PROBE_COLUMNS, group_task_probe

__all__ = [
    "GROUP_PCA",
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
