"""Channels from the latent factors: baselines, a slow state response, transient events, noise.

Shapes: N windows, C = 7 channels (:data:`~fairssl.data.simulation.knobs.CHANNELS`), T steps.

- baseline (N, C, 1): subject level N(0, 0.2^2) per channel, plus group physiology scaled by
  ``group_physiology`` (heart rate +0.4 in women, blood pressure +0.5 in the old);
- state response (N, T): ``softplus(1.5 (state + 0.5))`` times a sigmoid ramp from a random onset;
  it raises heart rate and temperature, lowers SpO2 and blood pressure (gains :data:`STATE_GAIN`);
- events (N, T): :data:`N_EVENTS` narrow bumps at random times, amplitude ``softplus(1.5 (events - 0.3))``
  (tachycardia bursts, desaturation dips, fast breathing; gains :data:`EVENT_GAIN`). Location-free
  shapes: a convolutional encoder learns them from unlabelled windows, few labels hardly do;
- AR(1) noise (phi 0.7, sd 0.4) on every channel; ``activity`` a subject rhythm with a subject
  amplitude (structure unrelated to the outcome); ``device_flag`` noise.

The nuisance (baselines, noise, rhythm) is kept small against the two factors, so the dominant
structure a label-free objective finds in the pool is the structure the outcome uses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import lfilter

STATE_GAIN = np.array([0.5, -0.4, 0.4, 1.0, -0.8, 0.0, 0.0])
EVENT_GAIN = np.array([1.2, -1.0, 0.9, 0.0, 0.0, 0.0, 0.0])
N_EVENTS = 3
_AR_PHI, _AR_SD = 0.7, 0.4


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def baselines(attrs: pd.DataFrame, scale: float, rng: np.random.Generator, n_channels: int) -> np.ndarray:
    """(S, C) subject baselines; ``attrs`` one row per subject."""
    base = rng.normal(scale=0.2, size=(len(attrs), n_channels))
    base[:, 0] += scale * 0.4 * (attrs["sex"] == "female").to_numpy()  # heart rate
    base[:, 4] += scale * 0.5 * (attrs["age_group"] == ">=65").to_numpy()  # blood pressure
    return base


def state_response(state: np.ndarray, n_steps: int, rng: np.random.Generator) -> np.ndarray:
    """(N, T) slow response: amplitude grows smoothly with the state, from an onset in the middle."""
    t0 = np.asarray(rng.uniform(0.2 * n_steps, 0.7 * n_steps, size=state.shape[0]))  # (N,)
    steps = np.arange(n_steps)[None, :]  # (1, T)
    ramp = 1.0 / (1.0 + np.exp(-(steps - t0[:, None]) / (n_steps / 16)))  # (N, T)
    return 0.8 * _softplus(1.5 * (state + 0.5))[:, None] * ramp


def event_response(events: np.ndarray, n_steps: int, rng: np.random.Generator) -> np.ndarray:
    """(N, T) sum of :data:`N_EVENTS` Gaussian bumps (width 1.5 steps) at uniform times."""
    n = events.shape[0]
    times = rng.uniform(0, n_steps, size=(n, N_EVENTS, 1))  # (N, K, 1)
    sizes = rng.uniform(0.6, 1.4, size=(n, N_EVENTS, 1))  # (N, K, 1)
    steps = np.arange(n_steps)[None, None, :]  # (1, 1, T)
    bumps = sizes * np.exp(-0.5 * ((steps - times) / 1.5) ** 2)  # (N, K, T)
    return 1.2 * _softplus(1.5 * (events - 0.3))[:, None] * bumps.sum(axis=1)


def ar_noise(shape: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    """float32 (N, C, T) stationary AR(1) noise, phi 0.7, marginal sd 0.4 (x_0 ~ N(0, sd^2))."""
    eps = rng.standard_normal(size=shape, dtype=np.float32)
    eps[:, :, 1:] *= np.float32(_AR_SD * np.sqrt(1 - _AR_PHI**2))
    eps[:, :, 0] *= np.float32(_AR_SD)
    return lfilter([1.0], [1.0, -_AR_PHI], eps, axis=-1).astype(np.float32, copy=False)


def activity(n_subjects: int, windows: int, n_steps: int, rng: np.random.Generator) -> np.ndarray:
    """(N, T) a daily-like rhythm with a per-subject phase and amplitude, unrelated to the outcome."""
    phase = np.repeat(rng.uniform(0, 2 * np.pi, size=n_subjects), windows)[:, None]  # (N, 1)
    amp = np.repeat(rng.uniform(0.3, 0.6, size=n_subjects), windows)[:, None]  # (N, 1)
    return amp * np.sin(2 * np.pi * np.arange(n_steps)[None, :] / 24.0 + phase)


def attenuate(gain: np.ndarray, rows: np.ndarray, channel: int, offset: float) -> np.ndarray:
    """(N, C) per-window gains with the group's response in ``channel`` divided by 1 + |offset|
    (measurement bias hides part of the signal, e.g. pulse oximetry over-reading desaturation)."""
    out = np.broadcast_to(gain, (rows.shape[0], gain.shape[0])).copy()
    out[rows, channel] /= 1.0 + abs(offset)
    return out


def compose(
    base: np.ndarray,
    state_resp: np.ndarray,
    event_resp: np.ndarray,
    noise: np.ndarray,
    *,
    state_gain: np.ndarray,
    event_gain: np.ndarray,
) -> np.ndarray:
    """float32 X (N, C, T) = base (N, C, 1) + gains (N, C) x responses (N, T) + noise (N, C, T)."""
    f32 = np.float32
    X = noise + base.astype(f32)
    X += state_gain.astype(f32)[:, :, None] * state_resp.astype(f32)[:, None, :]
    X += event_gain.astype(f32)[:, :, None] * event_resp.astype(f32)[:, None, :]
    return X


def offset_channel(
    X: np.ndarray, rows: np.ndarray, channel: int, offset: float, noise: float, rng: np.random.Generator
) -> None:
    """In place: the group's ``channel`` read with ``offset`` and extra N(0, noise^2) noise."""
    k = int(rows.sum())
    X[rows, channel, :] += offset + noise * rng.normal(size=(k, X.shape[2]))


def spurious_channel(X: np.ndarray, rows: np.ndarray, y: np.ndarray, channel: int, strength: float) -> None:
    """In place: in the group, ``channel`` carries the recorded label, ``strength (2 y - 1)`` (a shortcut)."""
    X[rows, channel, :] += strength * (2 * y[rows, None] - 1)
