"""Per-channel scaling with training statistics: one implementation for every loader.

A channel's centre and scale are fitted on the *training* split only (never on validation, test or
the pre-training pool) and applied to every window, so no test statistic leaks into the model.

Methods (``x`` one channel's observed training values, NaNs ignored):

- ``standard``: ``(x - mean) / sd`` (sd with ddof 0). A good channel ends with training mean 0, SD 1.
- ``robust``:   ``(x - median) / (q_hi - q_lo)`` with ``quantile_range`` (default 5th-95th percentile,
  as GLOBEM's deep-learning pipeline scales its features). Outliers do not set the scale.
- ``none``:     values unchanged (centre 0, scale 1).

``clip`` (optional, > 0) then bounds scaled values to ``[-clip, clip]`` (GLOBEM clips to [-2, 2]).
A channel that is constant (or unobserved) in training keeps scale 1, so it is only shifted, never
divided by zero; ``ChannelScaler.degenerate`` names such channels so the loader can say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from fairssl.errors import ConfigError

ScaleMethod = Literal["standard", "robust", "none"]
SCALE_METHODS: tuple[str, ...] = ("standard", "robust", "none")


@dataclass(frozen=True)
class ChannelScaler:
    """Fitted per-channel ``centre`` and ``scale`` (C,), applied as ``clip((x - centre) / scale)``."""

    method: str
    centre: np.ndarray
    scale: np.ndarray
    clip: float | None = None
    degenerate: tuple[int, ...] = ()

    def transform(self, X: np.ndarray, *, channel_axis: int = 1) -> np.ndarray:
        """Scaled copy of ``X`` as float32; channels on ``channel_axis`` (1 for (N, C, T) windows,
        -1 for (rows, C) tables). NaNs stay NaN."""
        shape = [1] * X.ndim
        shape[channel_axis] = -1
        out = (np.asarray(X, dtype=np.float64) - self.centre.reshape(shape)) / self.scale.reshape(shape)
        if self.clip is not None:
            out = np.clip(out, -self.clip, self.clip)
        return out.astype(np.float32)

    def info(self, channel_names: Sequence[str] | None = None) -> dict[str, Any]:
        """What was done, for ``WindowDataset.info`` (JSON-friendly)."""
        names = (
            list(channel_names) if channel_names is not None else [str(i) for i in range(len(self.centre))]
        )
        return {
            "scaling": self.method,
            "scaling_clip": self.clip,
            "scaling_centre": {n: float(c) for n, c in zip(names, self.centre, strict=True)},
            "scaling_scale": {n: float(s) for n, s in zip(names, self.scale, strict=True)},
            "scaling_constant_channels": [names[i] for i in self.degenerate],
        }


def check_scaling(method: str, clip: float | None = None) -> None:
    """Raise :class:`ConfigError` (one line) for an unknown method or a non-positive clip."""
    if method not in SCALE_METHODS:
        raise ConfigError(f"scaling = {method!r} is not one of {', '.join(SCALE_METHODS)}")
    if clip is not None and not (np.isfinite(clip) and clip > 0):
        raise ConfigError(f"clip = {clip!r} must be a positive number (or omitted for no clipping)")


def fit_scaler(
    X: np.ndarray,
    *,
    method: str = "standard",
    clip: float | None = None,
    channel_axis: int = 1,
    quantile_range: tuple[float, float] = (5.0, 95.0),
) -> ChannelScaler:
    """Fit per-channel statistics on ``X`` (the training rows/windows only; NaNs ignored).

    ``X``: (N, C, T) windows with ``channel_axis=1``, or (rows, C) with ``channel_axis=-1``.
    """
    check_scaling(method, clip)
    lo_q, hi_q = quantile_range
    if not 0 <= lo_q < hi_q <= 100:
        raise ConfigError(f"quantile_range = {quantile_range!r} must satisfy 0 <= low < high <= 100")
    values = np.moveaxis(np.asarray(X, dtype=np.float64), channel_axis, 0)
    flat = values.reshape(values.shape[0], -1)
    n = flat.shape[0]
    centre = np.zeros(n)
    scale = np.ones(n)
    degenerate: list[int] = []
    for c in range(n):
        x = flat[c][np.isfinite(flat[c])]
        if method == "none":
            continue
        if x.size == 0:
            degenerate.append(c)
            continue
        if method == "standard":
            centre[c], spread = float(x.mean()), float(x.std())
        else:
            centre[c] = float(np.median(x))
            lo, hi = np.percentile(x, [lo_q, hi_q])
            spread = float(hi - lo)
        if spread > 0 and np.isfinite(spread):
            scale[c] = spread
        else:
            degenerate.append(c)
    return ChannelScaler(method=method, centre=centre, scale=scale, clip=clip, degenerate=tuple(degenerate))


def scale_train_fitted(
    X: np.ndarray,
    split: np.ndarray,
    *,
    method: str = "standard",
    clip: float | None = None,
    mask: np.ndarray | None = None,
    channel_names: Sequence[str] | None = None,
    chunk: int = 4096,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Scale windows ``X`` (N, C, T) with statistics of the ``split == "train"`` windows only.

    Only *observed* training values are fitted (``mask`` True; imputed values would shrink the SD);
    every window (train, val, test, pool) is then transformed, ``chunk`` windows at a time, into a new
    float32 array. ``method="none"`` without ``clip`` returns ``X`` itself (bit-identical, a memmap stays
    a memmap). Returns (scaled X, :meth:`ChannelScaler.info`).
    """
    check_scaling(method, clip)
    if method == "none" and clip is None:
        return X, {"scaling": "none", "scaling_clip": None}
    train = np.flatnonzero(np.asarray(split) == "train")
    fit_values = np.asarray(X[train], dtype=np.float64)  # (n_train, C, T)
    if mask is not None:
        fit_values = np.where(np.asarray(mask[train], dtype=bool), fit_values, np.nan)
    scaler = fit_scaler(fit_values, method=method, clip=clip)
    out = np.empty(X.shape, dtype=np.float32)
    for lo in range(0, X.shape[0], chunk):
        out[lo : lo + chunk] = scaler.transform(np.asarray(X[lo : lo + chunk]))
    return out, scaler.info(channel_names)


__all__ = [
    "SCALE_METHODS",
    "ChannelScaler",
    "ScaleMethod",
    "check_scaling",
    "fit_scaler",
    "scale_train_fitted",
]
