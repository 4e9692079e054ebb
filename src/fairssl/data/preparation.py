"""Data-preparation warnings for the stage-1 audit: scaling, extreme values, constant channels, gaps.

Warnings computed from X as the model will see it (the audit's per-channel table) and from what the
loader recorded in ``ds.info``:

- channels not scaled by the loader (``info["scaling"] == "none"``, or no scaling recorded) that sit on
  wildly different scales: the ratio of the largest to the smallest channel RMS ``sqrt(mean^2 + SD^2)``
  exceeds ``SCALE_RATIO`` (100); or a single channel far from unit scale (``|mean|`` or SD above
  ``UNIT_SCALE_LIMIT``, 10), which networks train poorly on (a diary channel of mean 25, SD 9.5 left
  every model at chance);
- extreme values: ``|x| > EXTREME_VALUE`` (1e6) after the loader's scaling;
- constant channels (every observed value equal; or constant in the training split per ``info``);
- windows that span time gaps (``info["windowing"]["windows_spanning_gaps"]`` when ``max_gap`` was not
  set) and windows dropped for spanning a gap larger than ``max_gap``.

Each warning is one line: what was found, with numbers, and the option that fixes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

SCALE_RATIO = 100.0
UNIT_SCALE_LIMIT = 10.0
EXTREME_VALUE = 1e6


def _scaled_by_loader(info: Mapping[str, Any]) -> bool:
    """True when ``info`` records that the loader scaled the channels (any method but "none")."""
    if "scaling" in info:
        return str(info["scaling"]) != "none"
    return "normalizer" in info  # the specialised loaders record their own normaliser


def _scale_warnings(channels: pd.DataFrame) -> list[str]:
    """Channels on wildly different scales, or far from unit scale (for data the loader did not scale)."""
    seen = channels.dropna(subset=["mean", "std"])
    rms = np.sqrt(seen["mean"].to_numpy() ** 2 + seen["std"].to_numpy() ** 2)  # (C_seen,)
    names = seen["channel"].to_numpy()
    fix = 'set data.options.scaling = "standard" (or scale the data yourself)'
    out: list[str] = []
    positive = rms > 0
    if positive.sum() >= 2:
        hi, lo = (
            int(np.argmax(np.where(positive, rms, -np.inf))),
            int(np.argmin(np.where(positive, rms, np.inf))),
        )
        ratio = rms[hi] / rms[lo]
        if ratio > SCALE_RATIO:
            out.append(
                f"channels are on wildly different scales (RMS from {rms[lo]:.3g} in {str(names[lo])!r} to "
                f"{rms[hi]:.3g} in {str(names[hi])!r}, ratio {ratio:.3g} > {SCALE_RATIO:g}) and were not "
                f"scaled: {fix}"
            )
    for name, mean, std in zip(names, seen["mean"], seen["std"], strict=True):
        if abs(mean) > UNIT_SCALE_LIMIT or std > UNIT_SCALE_LIMIT:
            out.append(
                f"channel {str(name)!r} is far from unit scale (mean {mean:.3g}, SD {std:.3g}) and was not "
                f"scaled: models can train to chance on such inputs; {fix}"
            )
    return out


def _gap_warnings(info: Mapping[str, Any]) -> list[str]:
    """Windows spanning time gaps (when ``max_gap`` was not set) and windows dropped by ``max_gap``."""
    win = info.get("windowing") or {}
    out: list[str] = []
    spanning, dropped = win.get("windows_spanning_gaps"), win.get("windows_dropped_gap")
    if spanning and win.get("max_gap") is None:
        largest = win.get("largest_gap_in_windows")
        out.append(
            f"{spanning} of {win.get('windows', '?')} windows span time gaps "
            f"({win.get('gap_rule', 'a long step')}"
            + (f"; largest {largest}" if largest else "")
            + "): windows count rows, not time; set data.options.max_gap to drop them"
        )
    if dropped:
        out.append(
            f"{dropped} windows were dropped because they span a time step larger than "
            f"max_gap = {win.get('max_gap')}"
        )
    return out


def preparation_warnings(channels: pd.DataFrame, info: Mapping[str, Any]) -> list[str]:
    """Data-preparation warnings (see the module docstring) from the ``channels`` table of the
    audit (values as the model sees them) and the loader's ``info``."""
    out = [] if _scaled_by_loader(info) else _scale_warnings(channels)
    names = channels["channel"].astype(str).to_numpy()
    low, high = channels["min"].to_numpy(float), channels["max"].to_numpy(float)  # (C,)
    n_extreme = channels["n_extreme"].to_numpy(int)  # (C,)
    for name, lo, hi, n_big in zip(names, low, high, n_extreme, strict=True):
        if n_big:
            out.append(
                f"channel {name!r} holds {n_big} values beyond +/-{EXTREME_VALUE:.0e} after the loader's "
                f"scaling (largest {max(abs(lo), abs(hi)):.3g}): a unit error or missing-value code? "
                "training will be unstable; fix them, or set data.options.clip"
            )
        if lo == hi:
            out.append(
                f"channel {name!r} is constant (every observed value is {lo:.4g}): "
                "it carries no information; leave it out of the channels"
            )
    constant_all = set(channels.loc[channels["min"] == channels["max"], "channel"].astype(str))
    for name in info.get("scaling_constant_channels") or []:
        if str(name) not in constant_all:
            out.append(
                f"channel {str(name)!r} is constant in the training split (left unscaled): the model "
                "cannot learn from it; check it or leave it out of the channels"
            )
    return out + _gap_warnings(info)


__all__ = ["EXTREME_VALUE", "SCALE_RATIO", "UNIT_SCALE_LIMIT", "preparation_warnings"]
