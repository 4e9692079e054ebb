"""Latent factors, the outcome and its true risk (the Bayes score), and the group mechanisms on them.

Two independent latent factors per window (S subjects, W windows each, N = S W), each unit-variance:

- ``state``: a slow physiological state, ``sqrt(1/2) (r_s + e_w)`` (subject and window parts);
- ``events``: a propensity for transient events, ``sqrt(1/2) (v_s + e'_w)``.

The outcome score is ``m = w . (state, events)`` with ``w`` = ``outcome_weights`` normalised to norm 1
(so ``m`` is unit-variance), observed with noise: ``y_clean = [m + sigma u > q]``, ``u ~ N(0, 1)``,
``sigma`` = :data:`OUTCOME_NOISE`, ``q`` the (1 - prevalence) quantile of ``m + sigma u`` over all windows
(one threshold for everyone). The Bayes score is the true risk given the factors and the group,
``P(y_clean = 1 | m) = Phi((m - q_g) / sigma)``: the best any model of the signals can do (ideal AUROC).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

OUTCOME_NOISE = 0.75
"""sigma of the outcome's noise around the unit-variance score (Bayes AUROC about 0.91 at prevalence 0.2)."""
_SQRT_HALF = float(np.sqrt(0.5))


@dataclass(frozen=True)
class Outcome:
    """Per-window truth (N,): ``y_clean`` int64, ``bayes`` float64 in [0, 1], ``score`` float64."""

    y_clean: np.ndarray
    bayes: np.ndarray
    score: np.ndarray


def unit(weights: list[float] | tuple[float, ...]) -> np.ndarray:
    """(2,) the weights scaled to norm 1."""
    w = np.asarray(weights, dtype=np.float64)
    return w / np.linalg.norm(w)


def draw_factors(n_subjects: int, windows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``state`` and ``events`` (N,), each N(0, 1) with half of the variance shared within a subject."""
    n = n_subjects * windows
    r, v = rng.normal(size=(2, n_subjects))
    e = rng.normal(size=(2, n))
    state = _SQRT_HALF * (np.repeat(r, windows) + e[0])
    events = _SQRT_HALF * (np.repeat(v, windows) + e[1])
    return state, events


def shift_base_rate(state: np.ndarray, rows: np.ndarray, shift: float) -> np.ndarray:
    """Base-rate difference: the group's state is ``shift`` sd higher (sicker), the mapping unchanged."""
    return state + shift * rows


def shift_covariates(
    state: np.ndarray, events: np.ndarray, rows: np.ndarray, shift: float, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Covariate shift: move the group by ``shift`` sd along ``(-w_events, w_state)``, orthogonal to the
    outcome weights: its outcome score (base rate) is unchanged, its signals lie where few others are."""
    return state - shift * weights[1] * rows, events + shift * weights[0] * rows


def outcome(
    state: np.ndarray,
    events: np.ndarray,
    *,
    weights: np.ndarray,
    prevalence: float,
    rng: np.random.Generator,
    concept_rows: np.ndarray,
    concept_weights: np.ndarray,
    concept_threshold: float,
) -> Outcome:
    """True labels and Bayes scores; ``concept_rows`` (N,) bool use ``concept_weights`` and a threshold
    raised by ``concept_threshold`` sd of the noisy score (concept shift: same signals, other outcome)."""
    score = np.where(
        concept_rows,
        concept_weights[0] * state + concept_weights[1] * events,
        weights[0] * state + weights[1] * events,
    )
    noisy = score + OUTCOME_NOISE * rng.normal(size=score.shape)
    q = float(np.quantile(noisy, 1.0 - prevalence))
    threshold = q + concept_threshold * np.sqrt(1.0 + OUTCOME_NOISE**2) * concept_rows
    y_clean = (noisy > threshold).astype(np.int64)
    bayes = ndtr((score - threshold) / OUTCOME_NOISE)
    return Outcome(y_clean=y_clean, bayes=bayes, score=score)
