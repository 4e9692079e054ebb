"""Fairness at equal accuracy: the supervised model degraded, without regard to groups, to another AUROC.

Parity deviation falls as a model becomes less discriminating, even with no bias at all (inference.md), so
"SSL lowered PD" can mean "SSL was less accurate". The reference this module builds answers: *what PD
would a supervised model show at the SSL model's AUROC, if it lost that accuracy in a group-blind way?*

Degradation (one fixed noise draw per window, so it is paired and reproducible)::

    logit_lambda = (1 - lambda) * logit(p) + lambda * sd(logit(p)) * z,   z ~ N(0, 1) per window
    p_lambda     = sigmoid(logit_lambda)

lambda = 0 is the supervised model itself; lambda = 1 is noise with the model's logit spread (AUROC near
0.5). :func:`match_auroc` finds by bisection the smallest lambda whose test AUROC falls to the target
(the SSL model's AUROC); a target at or above the supervised AUROC gives lambda = 0. The match uses AUROC
only (never PD), and the noise knows nothing of groups, so any PD difference at matched AUROC is not
explained by accuracy alone. This is a reference, not a trained model: an earlier checkpoint of the
supervised model could lose accuracy differently across groups.

The trained alternative, ``checkpoint:<setup>``: the supervised model's own training trajectory (every
epoch's weights scored on the validation and test windows). :func:`choose_checkpoint` picks the epoch
whose *validation* AUROC is closest to the SSL model's validation AUROC (ties to the later epoch); that
epoch's *test* scores are the reference. Test scores never enter the choice, so the reference is as
honest as the SSL model's own selection; its test AUROC equals the SSL model's only up to the
validation-test gap and the trajectory's epoch spacing.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, logit

from fairssl.errors import DataError
from fairssl.evaluation.auroc import binary_auroc

MATCHED_PREFIX = "matched:"
"""Setup name of the accuracy-matched supervised reference of an SSL setup: ``matched:<setup>``."""

CHECKPOINT_PREFIX = "checkpoint:"
"""Setup name of the trained accuracy-matched reference of an SSL setup: ``checkpoint:<setup>``, the
supervised model's epoch whose validation AUROC is closest to the setup's."""


def degrade(scores: np.ndarray, lam: float, noise: np.ndarray) -> np.ndarray:
    """Group-blind degradation of P(y=1) scores (N,) by mixing their logits with noise (N,) (see module)."""
    p = np.clip(np.asarray(scores, dtype=np.float64), 1e-6, 1 - 1e-6)
    z = logit(p)
    spread = float(z.std()) or 1.0
    return np.asarray(expit((1.0 - lam) * z + lam * spread * np.asarray(noise, dtype=np.float64)))


def match_auroc(
    y_true: np.ndarray, scores: np.ndarray, target: float, *, seed: int = 0, iterations: int = 30
) -> tuple[np.ndarray, float, float]:
    """Degrade ``scores`` (N,) until their AUROC on ``y_true`` (N,) equals ``target``.

    Returns (degraded scores (N,), lambda, achieved AUROC). The noise is ``default_rng(seed)``'s standard
    normal draw; bisection on lambda in [0, 1] (AUROC falls with lambda for a fixed draw, up to noise).
    """
    y = np.asarray(y_true)
    if np.unique(y).size < 2:
        raise DataError("AUROC matching needs both classes in the test labels")
    noise = np.random.default_rng(seed).standard_normal(len(y))
    base = binary_auroc(y, scores)
    if not np.isfinite(target) or target >= base:
        return np.asarray(scores, dtype=np.float64), 0.0, base
    lo, hi = 0.0, 1.0
    for _ in range(iterations):
        mid = (lo + hi) / 2
        if binary_auroc(y, degrade(scores, mid, noise)) > target:
            lo = mid
        else:
            hi = mid
    out = degrade(scores, hi, noise)
    return out, hi, binary_auroc(y, out)


def degradation_curve(
    y_true: np.ndarray, scores: np.ndarray, *, seed: int = 0, steps: int = 11
) -> list[tuple[float, np.ndarray]]:
    """(lambda, degraded scores (N,)) for ``steps`` lambdas from 0 to 1: the supervised model's
    group-blind accuracy-fairness curve (score each with the usual metrics)."""
    noise = np.random.default_rng(seed).standard_normal(len(np.asarray(y_true)))
    return [(float(lam), degrade(scores, float(lam), noise)) for lam in np.linspace(0.0, 1.0, steps)]


def choose_checkpoint(epochs: np.ndarray, val_auroc: np.ndarray, target: float) -> int:
    """The epoch (of ``epochs`` (E,)) whose validation AUROC (``val_auroc`` (E,)) is closest to ``target``.

    ``|val_auroc_e - target|`` is minimised over epochs with a finite AUROC; among equally close epochs
    the later one wins (more training at the same validation accuracy). Only validation values enter:
    the caller evaluates the chosen epoch on test. Raises DataError when no epoch has a finite AUROC or
    the target is not finite.
    """
    e = np.asarray(epochs)
    auc = np.asarray(val_auroc, dtype=np.float64)
    if e.shape != auc.shape or e.ndim != 1:
        raise DataError(f"epochs {e.shape} and validation AUROCs {auc.shape} must be two (E,) arrays")
    ok = np.isfinite(auc)
    if not ok.any() or not np.isfinite(target):
        raise DataError(
            f"no checkpoint can be matched: target validation AUROC {target!r}, "
            f"{int(ok.sum())} epoch(s) with a finite validation AUROC"
        )
    gap = np.where(ok, np.abs(auc - float(target)), np.inf)
    best = np.flatnonzero(gap == gap.min())
    return int(e[best[np.argmax(e[best])]])
