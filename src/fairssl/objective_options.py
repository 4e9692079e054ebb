"""The options of each pre-training objective (``pretrain.objective``): defaults, meanings, ranges.

Declared once, here, without torch: the config checks ``pretrain.objective`` against these tables when
it loads (:class:`~fairssl.config_training.PretrainConfig`), and each objective
(:mod:`fairssl.ssl.objectives`) reads its defaults from the same table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fairssl.errors import ConfigError


@dataclass(frozen=True)
class Option:
    """One knob of an objective: its default and the allowed range of values.

    ``integer``: only ints are allowed; otherwise any finite int or float. The range is
    ``low < v`` (``low_open``) or ``low <= v``, and ``v < high`` (``high_open``) or ``v <= high``;
    ``high=None`` means no upper bound.
    """

    default: float
    meaning: str
    low: float = 0.0
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False

    def describe(self) -> str:
        left = "(" if self.low_open else "["
        right = ")" if self.high_open or self.high is None else "]"
        high = "inf" if self.high is None else f"{self.high:g}"
        kind = "an integer" if self.integer else "a number"
        return f"{kind} in {left}{self.low:g}, {high}{right}"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.integer and not isinstance(value, int):
            return False
        if not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below


def resolve_options(method: str, options: Mapping[str, Any], table: Mapping[str, Option]) -> dict[str, Any]:
    """``options`` (``pretrain.objective``) checked against ``table``, on top of the defaults.

    A one-line ConfigError names an unknown key with the allowed ones, or a value out of range.
    """
    unknown = sorted(set(options) - set(table))
    if unknown:
        raise ConfigError(
            f"pretrain.objective key '{unknown[0]}' is not an option of pretrain.method '{method}'; "
            f"allowed: {', '.join(sorted(table)) or 'none (leave pretrain.objective empty)'}"
        )
    for key, value in options.items():
        spec = table[key]
        if not spec.accepts(value):
            raise ConfigError(
                f"pretrain.objective.{key} of method '{method}' must be {spec.describe()}, got {value!r}; "
                f"default {spec.default:g} ({spec.meaning})"
            )
    return {key: options.get(key, spec.default) for key, spec in table.items()}


OBJECTIVE_OPTIONS: dict[str, dict[str, Option]] = {
    "simclr": {},
    "vicreg": {
        "invariance_weight": Option(25.0, "lambda, weight of the invariance MSE"),
        "variance_weight": Option(25.0, "mu, weight of the variance hinge"),
        "covariance_weight": Option(1.0, "nu, weight of the covariance penalty"),
        "gamma": Option(1.0, "target standard deviation of every embedding dimension", low_open=True),
        "eps": Option(1e-4, "added to the variance under the square root", low_open=True),
    },
    "byol": {
        "tau": Option(0.99, "EMA decay of the target network", high=1.0, high_open=True),
    },
    "masked": {
        "mask_ratio": Option(0.5, "share of each window's patches that are masked", 0.0, 1.0, True, True),
        "patch_length": Option(8, "time steps per masked patch", 1.0, integer=True),
        "decoder_hidden": Option(256, "hidden width of the decoder", 1.0, integer=True),
    },
}
"""Every objective's knobs by ``pretrain.method`` (simclr has none: its temperature is
``pretrain.temperature``)."""


def check_objective_options(method: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """``pretrain.objective`` of ``method`` on top of its defaults; a one-line ConfigError if invalid."""
    if method not in OBJECTIVE_OPTIONS:
        raise ConfigError(f"unknown pretrain.method {method!r}; allowed: {', '.join(OBJECTIVE_OPTIONS)}")
    return resolve_options(method, options, OBJECTIVE_OPTIONS[method])


__all__ = ["OBJECTIVE_OPTIONS", "Option", "check_objective_options", "resolve_options"]
