"""Validation of the augmentations' inputs: the batch (a float tensor (N, C, T)) and every parameter by
its name (one rule per name, so ``sigma`` or ``p`` means the same in every augmentation).

A bad batch is a :class:`~fairssl.errors.DataError`, a bad parameter a :class:`~fairssl.errors.ConfigError`
that names the augmentation, the parameter, the value got and an example of a good one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from torch import Tensor

from fairssl.errors import ConfigError, DataError


def check_batch(x: Tensor, name: str) -> None:
    """Raise :class:`DataError` unless ``x`` is a float tensor (N, C, T); ``name`` opens the message."""
    if not isinstance(x, Tensor) or x.ndim != 3 or not x.is_floating_point():
        got = (
            f"{type(x).__name__} of shape {tuple(x.shape)} and dtype {x.dtype}"
            if isinstance(x, Tensor)
            else type(x).__name__
        )
        raise DataError(
            f"{name}: expected a floating-point tensor of shape (N, C, T), got {got}; "
            "pass a float32 batch of windows"
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _nonnegative(aug: str, param: str, value: Any) -> None:
    if not _is_number(value) or value < 0:
        raise ConfigError(f"{aug}: {param} must be a finite number >= 0, got {value!r}; use e.g. {param}=0.1")


def _probability(aug: str, param: str, value: Any) -> None:
    if not _is_number(value) or not 0 <= value <= 1:
        raise ConfigError(
            f"{aug}: {param} must be a probability in [0, 1], got {value!r}; use e.g. {param}=0.5"
        )


def _fraction(aug: str, param: str, value: Any) -> None:
    if not _is_number(value) or not 0 <= value <= 1:
        raise ConfigError(f"{aug}: {param} must be a fraction in [0, 1], got {value!r}; use e.g. {param}=0.1")


def _positive_fraction(aug: str, param: str, value: Any) -> None:
    if not _is_number(value) or not 0 < value <= 1:
        raise ConfigError(f"{aug}: {param} must be a fraction in (0, 1], got {value!r}; use e.g. {param}=0.5")


def _count(minimum: int) -> Callable[[str, str, Any], None]:
    def check(aug: str, param: str, value: Any) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ConfigError(
                f"{aug}: {param} must be an integer >= {minimum}, got {value!r}; use e.g. {param}=4"
            )

    return check


def _flag(aug: str, param: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{aug}: {param} must be true or false, got {value!r}")


def _angle(aug: str, param: str, value: Any) -> None:
    if not _is_number(value) or not 0 <= value <= 180:
        raise ConfigError(
            f"{aug}: {param} must be an angle in degrees in [0, 180], got {value!r}; use e.g. {param}=180"
        )


def _triples(aug: str, param: str, value: Any) -> None:
    try:
        triples = [tuple(t) for t in value]
    except TypeError:
        triples = []
    ok = bool(triples) and all(
        len(t) == 3 and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in t)
        for t in triples
    )
    if not ok:
        raise ConfigError(
            f"{aug}: {param} must be a non-empty list of channel index triples, got {value!r}; "
            f"pass {param}=[(0, 1, 2), ...] naming the x, y, z channels of each tri-axial sensor"
        )
    flat = [i for t in triples for i in t]
    if len(set(flat)) != len(flat):
        raise ConfigError(
            f"{aug}: {param} names a channel more than once, got {value!r}; "
            "give each channel to at most one triple"
        )


PARAM_RULES: dict[str, Callable[[str, str, Any], None]] = {
    "sigma": _nonnegative,
    "p": _probability,
    "n_segments": _count(1),
    "n_knots": _count(0),
    "per_channel": _flag,
    "max_angle": _angle,
    "tri_axial": _triples,
    "min_fraction": _positive_fraction,
    "time_fraction": _fraction,
    "channel_fraction": _fraction,
}
"""One rule per parameter name; a name means the same thing in every augmentation."""


def check_params(aug: str, **params: Any) -> None:
    """Raise :class:`ConfigError` for the first parameter outside its rule (:data:`PARAM_RULES`)."""
    for param, value in params.items():
        PARAM_RULES[param](aug, param, value)
