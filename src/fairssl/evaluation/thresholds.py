"""Post-processing by per-group thresholds (``finetune.mitigation = "thresholds"``), fitted on validation.

A model is trained as usual; then, on the VALIDATION split only, each group g gets a threshold t_g that
brings the group's rate as close as it can to the overall validation rate at the study threshold tau
(``evaluation.threshold``):

- ``rate = "tpr"`` (equal opportunity, the default): r(t) = P(p >= t | y = 1, group g);
- ``rate = "selection"`` (demographic parity): r(t) = P(p >= t | group g);

target r* = the same rate over all validation windows at tau. Among the thresholds whose group rate is
nearest r* (an interval between two consecutive distinct scores of the group's rate base), t_g = tau when
tau lies in that interval (the group is left as it is), else the interval's midpoint (never equal to a
validation score, so no validation window sits on the boundary). A group with no window in its rate base
(e.g. no validation positives for ``tpr``) keeps t_g = tau.

So that every downstream metric, which predicts ``p >= tau``, works unchanged, t_g is applied as a shift of
the score's logit: p' = sigmoid(logit(p) - logit(t_g) + logit(tau)); then p' >= tau exactly when p >= t_g.
The ranking within a group is unchanged (so are per-group AUROCs); the pooled ranking across groups, and so
the pooled AUROC, may change. A group absent from the fitted table (unseen on validation) is unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from fairssl.errors import ConfigError, DataError
from fairssl.evaluation.performance import check_scores

RATES = ("tpr", "selection")
"""The rates a per-group threshold can equalise: true positive rate, selection rate."""

THRESHOLD_COLUMNS = (
    "group", "n", "n_base", "threshold", "logit_shift", "target", "rate_before", "rate_after",
)  # fmt: skip
"""Columns of :func:`fit_group_thresholds`: per group the windows, the windows the rate is computed on
(positives for ``tpr``), t_g, logit(tau) - logit(t_g), the overall rate r*, the group's rate at tau and at
t_g (validation)."""

_EPS = 1e-12


def _logit(p: np.ndarray | float) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1.0 - _EPS)
    return np.log(q) - np.log1p(-q)


def _check(y_true: np.ndarray | None, prob: np.ndarray, groups: np.ndarray, threshold: float) -> None:
    if not 0.0 < threshold < 1.0:
        raise ConfigError(f"threshold must lie strictly between 0 and 1; got {threshold!r}")
    if len(groups) != len(prob):
        raise DataError(
            f"groups has {len(groups)} entries but there are {len(prob)} scores; give one per score"
        )
    if prob.size and (prob.min() < 0.0 or prob.max() > 1.0):
        raise DataError("prob must hold probabilities in [0, 1]; got values outside it")


def _rate_base(y: np.ndarray, rate: str) -> np.ndarray:
    """bool (N,): the windows a rate is computed on."""
    if rate not in RATES:
        raise ConfigError(f"rate must be one of {', '.join(RATES)}; got {rate!r}")
    return y == 1 if rate == "tpr" else np.ones(len(y), dtype=bool)


def _best_threshold(scores: np.ndarray, target: float, threshold: float) -> float:
    """t for ``scores`` (the group's rate base, non-empty): rate mean(scores >= t) nearest ``target``."""
    u = np.unique(scores)  # (m,) ascending
    lo = np.concatenate(([0.0], u))  # interval j: (lo_j, hi_j] selects the scores >= hi_j
    hi = np.concatenate((u, [1.0]))
    selected = np.concatenate((len(scores) - np.searchsorted(np.sort(scores), u), [0]))  # (m + 1,)
    ok = lo < hi  # a score of exactly 0 or 1 leaves an empty end interval
    gap = np.where(ok, np.abs(selected / len(scores) - target), np.inf)
    distance = np.where(
        (lo < threshold) & (threshold <= hi), 0.0, np.minimum(abs(lo - threshold), abs(hi - threshold))
    )
    j = int(np.lexsort((distance, gap))[0])  # nearest rate first, then nearest to tau
    if lo[j] < threshold <= hi[j]:
        return float(threshold)
    return float((lo[j] + hi[j]) / 2)


def fit_group_thresholds(
    y_true: np.ndarray | Sequence[int],
    prob: np.ndarray | Sequence[float],
    groups: np.ndarray | Sequence[str],
    *,
    threshold: float = 0.5,
    rate: str = "tpr",
) -> pd.DataFrame:
    """Per-group thresholds equalising ``rate`` on validation predictions (see the module docstring).

    Args:
        y_true: validation labels (N,), 0/1.
        prob: validation P(y=1) (N,).
        groups: validation group labels (N,) (strings; an intersection is one joined label).
        threshold: the study threshold tau.
        rate: ``tpr`` or ``selection``.

    Returns:
        one row per group (sorted), columns :data:`THRESHOLD_COLUMNS`. Good: ``rate_after`` close to
        ``target`` for every group (the spread of ``rate_after`` is the remaining validation disparity).
    """
    y, p = check_scores(y_true, prob)
    if p.ndim != 1:
        raise DataError(f"fit_group_thresholds needs binary scores of shape (N,); got shape {p.shape}")
    g = np.asarray(groups).astype(str)
    _check(y, p, g, threshold)
    base = _rate_base(y, rate)
    if not base.any():
        raise DataError(
            f"the validation split has no windows to compute the {rate} on (no positives); "
            "per-group thresholds cannot be fitted"
        )
    target = float(np.mean(p[base] >= threshold))
    rows = []
    for name in np.unique(g):
        rows_g = base & (g == name)
        scores = p[rows_g]
        t = _best_threshold(scores, target, threshold) if scores.size else float(threshold)
        rows.append(
            (
                str(name),
                int((g == name).sum()),
                int(scores.size),
                t,
                float(_logit(threshold) - _logit(t)),
                target,
                float(np.mean(scores >= threshold)) if scores.size else np.nan,
                float(np.mean(scores >= t)) if scores.size else np.nan,
            )
        )
    return pd.DataFrame(rows, columns=list(THRESHOLD_COLUMNS))


def apply_group_thresholds(
    prob: np.ndarray | Sequence[float],
    groups: np.ndarray | Sequence[str],
    thresholds: Mapping[str, float] | pd.DataFrame,
    *,
    threshold: float = 0.5,
) -> np.ndarray:
    """Adjusted scores p' (N,) float64: p' = sigmoid(logit(p) - logit(t_g) + logit(tau)).

    ``thresholds``: group -> t_g, or the table of :func:`fit_group_thresholds`. p' >= tau exactly when
    p >= t_g; scores of a group with t_g = tau, or not in ``thresholds``, are returned unchanged.
    """
    p = np.asarray(prob, dtype=np.float64)
    g = np.asarray(groups).astype(str)
    _check(None, p, g, threshold)
    table = (
        dict(zip(thresholds["group"].astype(str), thresholds["threshold"], strict=True))
        if isinstance(thresholds, pd.DataFrame)
        else {str(k): float(v) for k, v in thresholds.items()}
    )
    out = p.copy()
    for name, t in table.items():
        if not 0.0 < t < 1.0:
            raise DataError(f"the threshold of group {name!r} must lie strictly between 0 and 1; got {t!r}")
        rows = g == name
        if t == threshold or not rows.any():
            continue
        z = _logit(p[rows]) - _logit(t) + _logit(threshold)  # (n_g,)
        out[rows] = 1.0 / (1.0 + np.exp(-z))
    return out


__all__ = ["RATES", "THRESHOLD_COLUMNS", "apply_group_thresholds", "fit_group_thresholds"]
