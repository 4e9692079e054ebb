"""Binary AUROC without scikit-learn's input validation, equal to ``roc_auc_score`` bit for bit.

``sklearn.metrics.roc_auc_score`` spends most of its 1-3 ms per call on validation (``type_of_target``,
``check_array``, ``label_binarize``, parameter checks). Fine-tuning scores the validation set every epoch
and the accuracy-matching bisection scores dozens of degraded score vectors, so those milliseconds add up.
:func:`binary_auroc` runs the same numpy operations as scikit-learn 1.9's binary path
(``confusion_matrix_at_thresholds`` -> ``roc_curve(drop_intermediate=True)`` -> ``auc`` ->
``scipy.integrate.trapezoid``), in the same order and dtypes, and checks only what is cheap.

Area under the ROC curve, by the trapezoidal rule over the distinct score thresholds t (descending)::

    TPR_t = TP_t / P,   FPR_t = FP_t / N,   AUROC = sum_t (FPR_t - FPR_{t-1}) * (TPR_t + TPR_{t-1}) / 2

which equals the Mann-Whitney probability P(s_pos > s_neg) + 0.5 * P(s_pos = s_neg). 1 is a perfect
ranking, 0.5 is chance, lower is worse (below 0.5 the ranking is reversed).

Why the result is bit-identical: TP_t and FP_t are exact integers in float64 however they are summed, and
the order of equal scores inside a tie group does not change them (only the counts at each group's end
are read); the points kept by ``drop_intermediate``, the divisions, the differences and the final pairwise
``np.sum`` are then the very same float64 operations on the very same arrays. The equality is tied to
scikit-learn's ranking code (checked against the installed 1.9.1); ``tests/evaluation/test_auroc.py``
compares the two with ``==`` on a few hundred cases, so a change in a later release shows there.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fairssl.errors import DataError


def _check(y_true: np.ndarray, y_score: np.ndarray) -> np.ndarray:
    """Validate labels (N,) and scores (N,); return the positive mask (N,) bool."""
    if y_true.ndim != 1 or y_score.ndim != 1 or y_true.shape[0] != y_score.shape[0]:
        raise DataError(
            f"binary AUROC needs 1-D labels and scores of one length; got y_true {y_true.shape} and "
            f"y_score {y_score.shape}: pass P(y=1) of shape (N,) (for (N, K) probabilities use column 1)"
        )
    if y_score.dtype.kind not in "biuf":
        raise DataError(f"y_score must be real numbers; got dtype {y_score.dtype}: pass float scores")
    if y_score.dtype.kind == "f" and not np.isfinite(y_score).all():
        raise DataError(
            f"y_score contains NaN or infinity ({int(np.count_nonzero(~np.isfinite(y_score)))} of "
            f"{y_score.shape[0]} values); scikit-learn refuses them too: fix or drop those windows"
        )
    if y_true.dtype.kind == "b":
        return y_true
    if y_true.dtype.kind not in "iuf":
        raise DataError(f"y_true must be 0/1 labels; got dtype {y_true.dtype}: pass integer or bool labels")
    pos = y_true == 1
    if (pos | (y_true == 0)).all():
        return pos
    # Rare path, scikit-learn's rule for other labels: two integer-valued classes, the larger is positive.
    classes = np.unique(y_true)
    if classes.size > 2 or not (np.isfinite(classes).all() and (classes == np.round(classes)).all()):
        raise DataError(
            f"y_true must hold two integer class labels (0 and 1); got {classes[:5].tolist()}: "
            "binarise multi-class labels first or use scikit-learn's multi-class AUROC"
        )
    return y_true == classes[-1]


def binary_auroc(y_true: np.ndarray | Sequence[int], y_score: np.ndarray | Sequence[float]) -> float:
    """Area under the ROC curve of scores ``y_score`` (N,) for labels ``y_true`` (N,) in {0, 1}.

    Equals ``float(sklearn.metrics.roc_auc_score(y_true, y_score))`` bit for bit (see the module for why)
    for bool, integer or float 0/1 labels and float32/float64 (or integer) scores. 1 is perfect, 0.5 is
    chance, lower is worse. Other pairs of integer labels follow scikit-learn's rule (the larger label is
    the positive class), at the cost of one ``np.unique``.

    Raises :class:`~fairssl.errors.DataError` (a ``ValueError``) when only one class is present (AUROC is
    undefined: scikit-learn 1.9 warns and returns NaN instead, so callers that map ``ValueError`` to NaN
    keep their value), when the scores contain NaN or infinity (as scikit-learn does), and for shapes or
    labels outside the binary contract.
    """
    y = np.asarray(y_true)
    s = np.asarray(y_score)
    pos = _check(y, s)
    n = s.shape[0]
    n_pos = int(np.count_nonzero(pos))
    if n_pos == 0 or n_pos == n:
        raise DataError(
            f"AUROC needs both classes; y_true has {n_pos} positive and {n - n_pos} negative labels: "
            "score a set that holds positives and negatives"
        )
    # Descending order of the scores; ties may come in any order (the counts are read at group ends).
    order = np.argsort(s)[::-1]
    s_desc = s[order]
    distinct = np.nonzero(np.diff(s_desc))[0]  # last index of each tie group but the last
    thresholds = np.concatenate([distinct, np.asarray([n - 1])])  # (T,)
    tps = np.cumsum(pos[order], dtype=np.float64)[thresholds]  # (T,) exact integers
    fps = 1 + thresholds.astype(np.float64) - tps  # (T,) exact integers
    if fps.shape[0] > 2:  # drop_intermediate: keep corners only (scikit-learn's rule, same points)
        corner = np.logical_or(np.diff(fps, 2), np.diff(tps, 2))  # (T - 2,)
        keep = np.nonzero(np.concatenate([[True], corner, [True]]))[0]
        fps = fps[keep]
        tps = tps[keep]
    tps = np.concatenate([np.asarray([0.0]), tps])
    fps = np.concatenate([np.asarray([0.0]), fps])
    fpr = fps / fps[-1]
    tpr = tps / tps[-1]
    # scipy.integrate.trapezoid(tpr, fpr) for 1-D float64 input
    d = fpr[1:] - fpr[:-1]
    return float(np.sum(d * (tpr[1:] + tpr[:-1]) / 2.0, dtype=np.float64))
