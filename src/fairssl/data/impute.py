"""Imputation of missing channel values (NaN/Inf) in long tables and in windows, with a mask.

Methods: ``"ffill"`` carries the last observed value forward (within a subject's rows, or along time
within a window), then falls back to a per-channel default; ``"mean"`` fills the default; ``"zero"``
fills 0. Defaults are channel means over *training* values (loaders pass them), so no test statistic
leaks into the filled values. Imputation works in the data's own units, before any scaling
(:mod:`fairssl.data.scaling`): a fill means the same thing with and without scaling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from fairssl.errors import ConfigError, DataError

Impute = Literal["ffill", "zero", "mean"]
IMPUTE_METHODS = ("ffill", "zero", "mean")


def nonfinite_message(values: np.ndarray, channels: Sequence[str]) -> str:
    """The one-line error for NaN/Inf in the (R, C) channel ``values`` of a long table."""
    bad = (~np.isfinite(values)).sum(axis=0)
    order = np.argsort(-bad, kind="stable")
    parts = [f"{channels[i]!r} {int(bad[i])}" for i in order if bad[i] > 0]
    first = int(order[0])
    return (
        f"channel column {channels[first]!r} holds {int(bad[first])} NaN/Inf values of {len(values)} rows"
        f" (all affected columns: {', '.join(parts)}); pass impute='ffill', 'zero' or 'mean', "
        "or clean the table"
    )


def fill_defaults(
    values: np.ndarray, observed: np.ndarray, channels: Sequence[str], fill_values: Mapping[str, float] | None
) -> np.ndarray:
    """(C,) values used where nothing can be carried forward: ``fill_values`` or observed column means."""
    sums = np.where(observed, values, 0.0).sum(axis=0)
    n_obs = observed.sum(axis=0)
    means = np.divide(sums, n_obs, out=np.zeros_like(sums), where=n_obs > 0)
    if fill_values is None:
        return means
    unknown = sorted(set(fill_values) - set(channels))
    if unknown:
        raise DataError(f"fill_values names unknown channel(s) {unknown}; channels: {', '.join(channels)}")
    return np.array([float(fill_values.get(c, means[i])) for i, c in enumerate(channels)])


def impute_rows(
    values: np.ndarray,
    observed: np.ndarray,
    starts: np.ndarray,
    method: str,
    defaults: np.ndarray,
) -> np.ndarray:
    """Impute the (R, C) long-table values; ``starts`` are the first row of each subject (sorted)."""
    out = np.where(observed, values, np.nan)
    if method == "ffill":
        group = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(values))))
        out = pd.DataFrame(out).groupby(group, sort=False).ffill().to_numpy(dtype=float)
    still = np.isnan(out)
    if method == "zero":
        out[still] = 0.0
    else:
        out = np.where(still, defaults[None, :], out)
    return out


def impute_windows(
    X: np.ndarray,
    *,
    method: Impute,
    fit_index: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Impute NaN/Inf in windows X (N, C, T); returns (a float32 copy, mask bool (N, C, T) True = observed).

    ``"zero"`` fills 0; ``"mean"`` fills each channel's mean over the observed values of the windows
    ``fit_index`` (all windows when None: pass the training rows to avoid test leakage); ``"ffill"``
    carries the last observed value forward along time within each window and channel, then falls back to
    the channel mean. A channel with no observed value at all falls back to 0.
    """
    if method not in IMPUTE_METHODS:
        raise ConfigError(f"unknown impute {method!r}; allowed: {', '.join(IMPUTE_METHODS)}")
    out = np.array(X, dtype=np.float32, copy=True)
    mask = np.isfinite(out)
    out[~mask] = np.nan
    fit = out if fit_index is None else out[fit_index]
    with np.errstate(invalid="ignore"):
        n_obs = np.isfinite(fit).sum(axis=(0, 2))  # (C,)
        sums = np.nansum(fit, axis=(0, 2), dtype=np.float64)  # (C,)
    means = np.divide(sums, n_obs, out=np.zeros_like(sums), where=n_obs > 0).astype(np.float32)
    if method == "ffill":
        t = out.shape[2]
        idx = np.where(mask, np.arange(t)[None, None, :], 0)
        np.maximum.accumulate(idx, axis=2, out=idx)  # index of the last observed step so far
        carried = np.take_along_axis(out, idx, axis=2)
        out = np.where(np.isnan(out), carried, out)
    if method == "zero":
        out[np.isnan(out)] = 0.0
    else:
        out = np.where(np.isnan(out), means[None, :, None], out).astype(np.float32)
    return out, mask


__all__ = [
    "IMPUTE_METHODS",
    "Impute",
    "fill_defaults",
    "impute_rows",
    "impute_windows",
    "nonfinite_message",
]
