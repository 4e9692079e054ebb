"""Predictive performance overall and per group: AUROC, AUPRC, accuracy, balanced accuracy, F1.

Threshold metrics come from the confusion counts of :mod:`fairssl.evaluation.counts` (prediction rule
``y_pred = y_score >= threshold``). AUROC and AUPRC are computed from one sort of the scores and accept
per-window weights of shape (B, N): B bootstrap resamples are scored in one vectorised pass
(:func:`rank_scores` + :func:`ranked_auroc_auprc`), which equals scoring the explicitly resampled arrays.

Weighted AUROC (Mann-Whitney with ties counted one half)::

    AUROC = sum_i w_i y_i [ sum_j w_j (1 - y_j) (1[s_j < s_i] + 0.5 * 1[s_j = s_i]) ] / (W_pos * W_neg)

Average precision (scikit-learn's AUPRC, no interpolation), thresholds t over distinct scores descending::

    AP = sum_t (R_t - R_{t-1}) P_t,   P_t = TP_t / (TP_t + FP_t),   R_t = TP_t / W_pos
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fairssl.errors import ConfigError, DataError
from fairssl.evaluation.counts import (
    FN,
    FP,
    TN,
    TP,
    as_sensitive_frame,
    check_min_group_size,
    confusion_counts,
    encode_groups,
)

PERFORMANCE_METRICS = ("auroc", "auprc", "accuracy", "balanced_accuracy", "f1")
"""Rows per group of :func:`performance_table`, in order. All have ideal 1; lower is worse."""

COUNT_METRICS = ("accuracy", "balanced_accuracy", "f1")
OVERALL = "overall"
ALL = "all"
PERFORMANCE_COLUMNS = ["attribute", "group", "n", "n_pos", "metric", "value", "reason"]


# ------------------------------------------------------------------------------------- scores and labels
def check_scores(
    y_true: np.ndarray | Sequence[int], y_score: np.ndarray | Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Validate labels (N,) and scores (N,) or (N, K); return int64 labels and float64 scores.

    Scores of shape (N, 2) are reduced to column 1 (P(y=1)).
    """
    yt = np.asarray(y_true)
    ys = np.asarray(y_score, dtype=np.float64)
    if yt.ndim != 1 or yt.shape[0] == 0:
        raise DataError(f"y_true must be a non-empty 1-D array of class labels; got shape {yt.shape}")
    if ys.ndim not in (1, 2) or ys.shape[0] != yt.shape[0]:
        raise DataError(
            f"y_score has shape {ys.shape} but y_true has {yt.shape[0]} labels; give scores of shape (N,) "
            "with P(y=1), or (N, K) class probabilities"
        )
    if not np.all(np.isfinite(ys)):
        raise DataError(f"y_score holds {int((~np.isfinite(ys)).sum())} NaN/Inf values; give finite scores")
    if yt.dtype.kind not in "iub" and not (yt.dtype.kind == "f" and np.all(yt == np.round(yt))):
        raise DataError(f"y_true must hold integer class labels 0..K-1; got dtype {yt.dtype}")
    labels = yt.astype(np.int64)
    if ys.ndim == 2 and ys.shape[1] == 2:
        ys = ys[:, 1]
    if ys.ndim == 1 and not np.isin(labels, (0, 1)).all():
        raise DataError(
            f"binary scores (N,) need labels 0/1; got labels {np.unique(labels)[:5].tolist()}: give (N, K) "
            "class probabilities for multiclass labels"
        )
    if ys.ndim == 2 and (labels.min() < 0 or labels.max() >= ys.shape[1]):
        raise DataError(
            f"labels must lie in 0..{ys.shape[1] - 1} for {ys.shape[1]} score columns; "
            f"got {labels.min()}..{labels.max()}"
        )
    return labels, ys


# ----------------------------------------------------------------------------- vectorised AUROC / AUPRC
@dataclass(frozen=True, eq=False)
class RankedScores:
    """Scores of n windows ranked once, ready for weighted AUROC/AUPRC of many weight sets.

    Positives and negatives are kept apart, each in ascending score order, with the ranks that the
    weighted sums need (ties resolved by searchsorted, so no per-resample sorting is ever done).

    Attributes:
        pos_units, neg_units: int (n_pos,), (n_neg,) the weight column (its own index, or its cluster
            when resampling clusters) of each positive / negative window, ascending score.
        neg_lt, neg_le: int (n_pos,) number of negatives scoring < and <= each positive.
        pos_lt: int (n_pos,) number of positives scoring < each positive.
    """

    pos_units: np.ndarray
    neg_units: np.ndarray
    neg_lt: np.ndarray
    neg_le: np.ndarray
    pos_lt: np.ndarray


def rank_scores(y_true: np.ndarray, y_score: np.ndarray, *, units: np.ndarray | None = None) -> RankedScores:
    """Rank binary labels (n,) by scores (n,) once; ``units`` (n,) maps windows to weight columns."""
    s = np.asarray(y_score, dtype=np.float64)
    y = np.asarray(y_true).astype(bool)
    u = np.arange(s.shape[0]) if units is None else np.asarray(units, dtype=np.int64)
    pos_order = np.flatnonzero(y)[np.argsort(s[y], kind="stable")]
    neg_order = np.flatnonzero(~y)[np.argsort(s[~y], kind="stable")]
    s_pos, s_neg = s[pos_order], s[neg_order]
    return RankedScores(
        pos_units=u[pos_order],
        neg_units=u[neg_order],
        neg_lt=np.searchsorted(s_neg, s_pos, side="left").astype(np.int64),
        neg_le=np.searchsorted(s_neg, s_pos, side="right").astype(np.int64),
        pos_lt=np.searchsorted(s_pos, s_pos, side="left").astype(np.int64),
    )


def ranked_auroc_auprc(ranked: RankedScores, unit_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted AUROC and average precision for B weight sets at once.

    With w the weights, for each positive i: below_i / tied_i = negative weight scoring < / = s_i,
    TP_i = positive weight scoring >= s_i, FP_i = negative weight scoring >= s_i. Then
    AUROC = sum_i w_i (below_i + tied_i / 2) / (W_pos W_neg) and AP = sum_i w_i TP_i / (TP_i + FP_i) / W_pos
    (positives tied at one threshold share its precision, as in scikit-learn).

    Args:
        ranked: from :func:`rank_scores`.
        unit_weights: float (B, S) weights (bootstrap multiplicities) of the units the ranks index.

    Returns:
        (auroc (B,), auprc (B,)); AUROC is NaN where a weight set has no positive or no negative weight,
        AUPRC where it has no positive weight.
    """
    w = np.asarray(unit_weights, dtype=np.float64)
    b = w.shape[0]
    w_pos = w[:, ranked.pos_units]  # (B, n_pos) positive weights, ascending score
    cum_neg = np.zeros((b, ranked.neg_units.shape[0] + 1))  # (B, n_neg + 1) negative weight below rank k
    np.cumsum(w[:, ranked.neg_units], axis=1, out=cum_neg[:, 1:])
    cum_pos = np.zeros((b, ranked.pos_units.shape[0] + 1))  # (B, n_pos + 1) positive weight below rank k
    np.cumsum(w_pos, axis=1, out=cum_pos[:, 1:])
    total_pos, total_neg = cum_pos[:, -1], cum_neg[:, -1]  # (B,)
    below = cum_neg[:, ranked.neg_lt]  # (B, n_pos)
    below_or_tied = below if np.array_equal(ranked.neg_lt, ranked.neg_le) else cum_neg[:, ranked.neg_le]
    num = (w_pos * (below + below_or_tied)).sum(axis=1) * 0.5
    tp = total_pos[:, None] - cum_pos[:, ranked.pos_lt]  # (B, n_pos) positive weight scoring >= s_i
    fp = total_neg[:, None] - below  # (B, n_pos) negative weight scoring >= s_i
    precision_sum = (w_pos * tp / np.maximum(tp + fp, 1e-300)).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        auroc = np.where((total_pos > 0) & (total_neg > 0), num / (total_pos * total_neg), np.nan)
        auprc = np.where(total_pos > 0, precision_sum / total_pos, np.nan)
    return auroc, auprc


def weighted_auroc(y_true: np.ndarray, y_score: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """AUROC of binary labels (N,) and scores (N,) under weights None, (N,) or (B, N) -> (B,) (B = 1 if 1-D).

    Ideal 1, 0.5 is chance, lower is worse; NaN if only one class carries weight.
    """
    w = np.ones((1, len(y_true))) if weights is None else np.atleast_2d(np.asarray(weights, dtype=np.float64))
    return ranked_auroc_auprc(rank_scores(y_true, y_score), w)[0]


def weighted_average_precision(
    y_true: np.ndarray, y_score: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """Average precision (AUPRC) under weights None, (N,) or (B, N) -> (B,).

    Ideal 1, lower is worse; NaN where no positive carries weight.
    """
    w = np.ones((1, len(y_true))) if weights is None else np.atleast_2d(np.asarray(weights, dtype=np.float64))
    return ranked_auroc_auprc(rank_scores(y_true, y_score), w)[1]


# ----------------------------------------------------------------------------------------- count metrics
def count_metrics(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy, balanced accuracy and F1 from confusion counts (..., 4) -> dict of (...) arrays.

    accuracy = (tp + tn) / n; balanced accuracy = (TPR + TNR) / 2 (NaN with a single class, unlike
    scikit-learn, which then reports the one class's recall); F1 = 2 tp / (2 tp + fp + fn) (NaN when
    there is neither a positive nor a predicted positive, where scikit-learn reports 0).
    """
    c = np.asarray(counts, dtype=np.float64)
    tn, fp, fn, tp = c[..., TN], c[..., FP], c[..., FN], c[..., TP]
    n = tn + fp + fn + tp
    pos, neg, f1_den = tp + fn, tn + fp, 2 * tp + fp + fn
    with np.errstate(divide="ignore", invalid="ignore"):
        accuracy = np.where(n > 0, (tp + tn) / n, np.nan)
        balanced = np.where((pos > 0) & (neg > 0), 0.5 * (tp / pos + tn / neg), np.nan)
        f1 = np.where(f1_den > 0, 2 * tp / f1_den, np.nan)
    return {"accuracy": accuracy, "balanced_accuracy": balanced, "f1": f1}


def _binary_reasons(n_pos: int, n_neg: int, n_pred_pos: int) -> dict[str, str]:
    single = "single_class_in_group" if n_pos == 0 or n_neg == 0 else ""
    return {
        "auroc": single,
        "auprc": "no_positives_in_group" if n_pos == 0 else "",
        "accuracy": "empty_group" if n_pos + n_neg == 0 else "",
        "balanced_accuracy": single,
        "f1": "no_positives_or_predicted_positives" if n_pos == 0 and n_pred_pos == 0 else "",
    }


@dataclass(frozen=True, eq=False)
class PerformanceSet:
    """One row block of the performance table: the windows of a group (or all windows)."""

    attribute: str
    group: str
    index: np.ndarray  # int (n,) window positions
    status: str  # "" or "group_below_min_size"


def performance_sets(
    sensitive_features: pd.DataFrame, *, min_group_size: int, include_missing: bool
) -> list[PerformanceSet]:
    """``overall/all`` then each group of each attribute, in :func:`performance_table` row order."""
    n = len(sensitive_features)
    sets = [PerformanceSet(OVERALL, ALL, np.arange(n), "")]
    for codes in encode_groups(sensitive_features, include_missing=include_missing):
        for g, name in enumerate(codes.groups):
            status = "group_below_min_size" if codes.sizes[g] < min_group_size else ""
            sets.append(PerformanceSet(codes.attribute, name, np.flatnonzero(codes.codes == g), status))
    return sets


def _binary_rows(y: np.ndarray, s: np.ndarray, threshold: float, ps: PerformanceSet) -> list[tuple]:
    yt, ys = y[ps.index], s[ps.index]
    yp = (ys >= threshold).astype(np.int64)
    counts = confusion_counts(yt, yp, np.zeros(len(yt), dtype=np.int64), n_groups=1)[0]  # (4,)
    metrics = count_metrics(counts)
    auroc, auprc = ranked_auroc_auprc(rank_scores(yt, ys), np.ones((1, len(yt))))
    values = {"auroc": auroc[0], "auprc": auprc[0], **{k: float(v) for k, v in metrics.items()}}
    n_pos = int(yt.sum())
    reasons = _binary_reasons(n_pos, len(yt) - n_pos, int(yp.sum()))
    return [_row(ps, len(yt), n_pos, m, values[m], reasons[m]) for m in PERFORMANCE_METRICS]


def _row(ps: PerformanceSet, n: int, n_pos: int, metric: str, value: float, reason: str) -> tuple:
    reason = ps.status or reason
    return (ps.attribute, ps.group, n, n_pos, metric, np.nan if reason else float(value), reason)


def _multiclass_rows(y: np.ndarray, s: np.ndarray, ps: PerformanceSet) -> list[tuple]:
    """Macro one-vs-rest metrics of labels (n,) and class scores (n, K) for one set."""
    yt, ys = y[ps.index], s[ps.index]
    k = ys.shape[1]
    yp = ys.argmax(axis=1)
    present = np.bincount(yt, minlength=k) > 0  # (K,) classes present in y_true
    predicted = np.bincount(yp, minlength=k) > 0
    one_hot = (yt[:, None] == np.arange(k)[None, :]).astype(np.float64)  # (n, K)
    per_class = [
        ranked_auroc_auprc(rank_scores(one_hot[:, c], ys[:, c]), np.ones((1, len(yt)))) for c in range(k)
    ]
    auroc_k = np.array([a[0] for a, _ in per_class])
    auprc_k = np.array([p[0] for _, p in per_class])
    tp = np.array([np.sum((yt == c) & (yp == c)) for c in range(k)], dtype=np.float64)
    n_true = np.bincount(yt, minlength=k).astype(np.float64)
    n_pred = np.bincount(yp, minlength=k).astype(np.float64)
    f1_den = n_true + n_pred  # 2tp + fp + fn per class
    used = present | predicted
    values = {
        "auroc": float(auroc_k.mean()) if np.all(np.isfinite(auroc_k)) else np.nan,
        "auprc": float(auprc_k[present].mean()) if present.any() else np.nan,
        "accuracy": float(np.mean(yt == yp)) if len(yt) else np.nan,
        "balanced_accuracy": float(np.mean(tp[present] / n_true[present])) if present.sum() >= 2 else np.nan,
        "f1": float(np.mean(2 * tp[used] / f1_den[used])) if used.any() else np.nan,
    }
    reasons = {
        "auroc": "" if np.all(np.isfinite(auroc_k)) else "missing_class_in_group",
        "auprc": "" if present.any() else "empty_group",
        "accuracy": "" if len(yt) else "empty_group",
        "balanced_accuracy": "" if present.sum() >= 2 else "single_class_in_group",
        "f1": "" if used.any() else "empty_group",
    }
    n_pos = len(yt)
    return [_row(ps, len(yt), n_pos, m, values[m], reasons[m]) for m in PERFORMANCE_METRICS]


def performance_table(
    y_true: np.ndarray | Sequence[int],
    y_score: np.ndarray | Sequence[float],
    sensitive_features: pd.DataFrame | pd.Series,
    *,
    threshold: float = 0.5,
    min_group_size: int = 30,
    include_missing: bool = False,
) -> pd.DataFrame:
    """Performance overall (``attribute="overall", group="all"``) and per group of each attribute.

    Args:
        y_true: labels (N,), 0/1 (or 0..K-1 with (N, K) scores).
        y_score: P(y=1) of shape (N,) (or (N, 2)); or (N, K) class probabilities for multiclass, scored
            one-vs-rest with macro averages (AUROC: mean over classes of class-vs-rest AUROC, needs every
            class present; balanced accuracy: mean recall over classes present; F1 over classes present
            in y_true or predicted; predictions by argmax, ``threshold`` unused).
        threshold: binary prediction rule ``y_score >= threshold``.
        min_group_size: groups with fewer windows get NaN with reason ``group_below_min_size``.
        include_missing: report the :data:`~fairssl.data.dataset.MISSING` group too.

    Returns:
        DataFrame with columns attribute, group, n, n_pos (positives; for multiclass: n), metric
        (:data:`PERFORMANCE_METRICS`, ideal 1, lower is worse), value, reason (``""`` when valid, else e.g.
        ``single_class_in_group``, ``no_positives_in_group``, ``group_below_min_size``).
    """
    labels, scores = check_scores(y_true, y_score)
    check_min_group_size(min_group_size)
    frame = as_sensitive_frame(sensitive_features, len(labels))
    rows: list[tuple] = []
    for ps in performance_sets(frame, min_group_size=min_group_size, include_missing=include_missing):
        if scores.ndim == 1:
            rows.extend(_binary_rows(labels, scores, float(threshold), ps))
        else:
            rows.extend(_multiclass_rows(labels, scores, ps))
    return pd.DataFrame(rows, columns=PERFORMANCE_COLUMNS)


# -------------------------------------------------------------------------------------------- threshold
THRESHOLD_CRITERIA = ("youden", "f1")


def choose_threshold(
    y_true_val: np.ndarray | Sequence[int],
    y_score_val: np.ndarray | Sequence[float],
    *,
    criterion: str = "youden",
) -> float:
    """Pick a decision threshold on validation data (never on test data).

    Candidates are the distinct validation scores t with the rule ``y_pred = y_score >= t``.
    ``"youden"`` maximises J = TPR - FPR; ``"f1"`` maximises F1 = 2 TP / (2 TP + FP + FN). Ties go to the
    highest threshold (fewest positive predictions).

    Returns:
        the chosen threshold (one of the validation scores).
    """
    if criterion not in THRESHOLD_CRITERIA:
        raise ConfigError(f"criterion must be one of {', '.join(THRESHOLD_CRITERIA)}; got {criterion!r}")
    labels, scores = check_scores(y_true_val, y_score_val)
    if scores.ndim != 1:
        raise DataError(f"choose_threshold needs binary scores of shape (N,); got shape {scores.shape}")
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0 or (criterion == "youden" and n_neg == 0):
        raise DataError(
            f"choose_threshold ({criterion}) needs both classes in the validation labels; "
            f"got {n_pos} positives and {n_neg} negatives"
        )
    order = np.argsort(-scores, kind="stable")
    s_desc = scores[order]
    y_desc = labels[order]
    last = np.concatenate((np.flatnonzero(np.diff(s_desc)), [len(s_desc) - 1]))  # last index of each tie run
    tp = np.cumsum(y_desc)[last].astype(np.float64)  # (U,) positives predicted at threshold s_desc[last]
    fp = np.cumsum(1 - y_desc)[last].astype(np.float64)
    score = tp / n_pos - fp / n_neg if criterion == "youden" else 2 * tp / (tp + fp + n_pos)
    return float(s_desc[last][int(np.argmax(score))])
