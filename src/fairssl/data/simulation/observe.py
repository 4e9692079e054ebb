"""What is observed: group-dependent missingness and sampling rate, as in the MIMIC benchmark.

An unobserved step takes the last observed value of its window and channel (forward fill), or 0 (the
population's normal value) before the first observation; the observed mask travels as
``WindowDataset.mask`` (N, C, T) and, with ``mask_channels``, as extra 0/1 channels ``mask_<channel>``.
"""

from __future__ import annotations

import numpy as np


def missing_steps(
    rows: np.ndarray,
    n_channels: int,
    n_steps: int,
    *,
    rate: float,
    group_rate: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """bool (N, k, T): True where a step is missing, with probability ``rate`` (+ ``group_rate`` in rows)."""
    p = rate + group_rate * rows  # (N,)
    return rng.random((rows.shape[0], n_channels, n_steps)) < p[:, None, None]


def sparse_sampling(
    rows: np.ndarray, n_channels: int, n_steps: int, *, every: int, rng: np.random.Generator
) -> np.ndarray:
    """bool (N, k, T): True where a step of ``rows`` falls between samples taken every ``every`` steps
    (random phase per window); other rows are sampled at every step."""
    phase = np.asarray(rng.integers(0, every, size=rows.shape[0]))  # (N,)
    off_grid = (np.arange(n_steps)[None, :] - phase[:, None]) % every != 0  # (N, T)
    return np.broadcast_to((off_grid & rows[:, None])[:, None, :], (rows.shape[0], n_channels, n_steps))


def forward_fill(values: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """(N, k, T) ``values`` with unobserved steps replaced by the last observed one (0 before any)."""
    t = values.shape[-1]
    last = np.where(observed, np.arange(t), -1)  # (N, k, T) index of the step itself if observed
    np.maximum.accumulate(last, axis=-1, out=last)  # index of the last observed step so far
    filled = np.take_along_axis(values, np.maximum(last, 0), axis=-1)
    return np.where(last >= 0, filled, 0.0)
