"""Channel names and the cross-field checks of :class:`fairssl.config.SimulationConfig`.

Imported lazily by the config's validator (this module imports nothing from the package), so every knob
is validated when the config is built: a one-line ``ValueError`` naming the key, the value and the fix.
"""

from __future__ import annotations

import math
from typing import Any

CHANNELS = ("heart_rate", "spo2", "resp_rate", "temperature", "sbp", "activity", "device_flag")
"""The simulator's channels, in order (``mask_<channel>`` channels follow when ``mask_channels``)."""

# Knobs acting on one group: config name -> predicate "is the mechanism on".
_GROUP_KNOBS: dict[str, Any] = {
    "base_rate": lambda k: k.shift != 0,
    "covariate_shift": lambda k: k.shift != 0,
    "concept_shift": lambda k: k.threshold != 0 or k.weights is not None,
    "measurement_bias": lambda k: bool(k.offset or k.noise),
    "label_bias": lambda k: k.rate > 0,
    "under_diagnosis": lambda k: k.threshold > 0,
    "spurious": lambda k: k.strength > 0,
    "pool_bias": lambda k: k.share is not None,
    "missingness": lambda k: k.group_rate > 0,
    "sampling": lambda k: k.every > 1,
}


def attribute_groups(cfg: Any) -> dict[str, list[str]]:
    """The simulated attributes and their groups: sex, age_group, race (with ``missing``)."""
    return {
        "sex": ["female", "male"],
        "age_group": ["<65", ">=65"],
        "race": [*cfg.race_shares, "missing"],
    }


def _check_group(name: str, knob: Any, groups: dict[str, list[str]]) -> None:
    if knob.attribute not in groups:
        raise ValueError(f"{name}.attribute {knob.attribute!r} does not exist; allowed: {', '.join(groups)}")
    allowed = groups[knob.attribute]
    if knob.group not in allowed:
        raise ValueError(
            f"{name}.group {knob.group!r} of {knob.attribute!r} does not exist; allowed: {', '.join(allowed)}"
        )


def _check_channels(name: str, channels: list[str]) -> None:
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown or not channels:
        raise ValueError(
            f"{name} {unknown or channels!r} must be a non-empty list of channels; "
            f"allowed: {', '.join(CHANNELS)}"
        )


def check_weights(name: str, weights: list[float]) -> None:
    """Two finite non-negative weights [state, events], not both 0."""
    if len(weights) != 2 or any(not math.isfinite(v) or v < 0 for v in weights) or not any(weights):
        raise ValueError(
            f"{name} must be two non-negative weights [state, events], not both 0; got {weights}"
        )


def check_knobs(cfg: Any) -> None:
    """Raise a one-line ``ValueError`` for the first knob that names an unknown group or channel."""
    groups = attribute_groups(cfg)
    for name, active in _GROUP_KNOBS.items():
        knob = getattr(cfg, name)
        if active(knob):
            _check_group(name, knob, groups)
    if cfg.measurement_bias.channel not in CHANNELS:
        raise ValueError(
            f"measurement_bias.channel {cfg.measurement_bias.channel!r} unknown; "
            f"allowed: {', '.join(CHANNELS)}"
        )
    check_weights("outcome_weights", cfg.outcome_weights)
    if cfg.concept_shift.weights is not None:
        check_weights("concept_shift.weights", cfg.concept_shift.weights)
    _check_channels("pool_bias.channels", cfg.pool_bias.channels)
    _check_channels("missingness.channels", cfg.missingness.channels)
    _check_channels("sampling.channels", cfg.sampling.channels)
    miss = cfg.missingness
    if miss.rate + miss.group_rate >= 0.95:
        raise ValueError(
            f"missingness.rate + missingness.group_rate is {miss.rate + miss.group_rate:g}; "
            "keep it below 0.95"
        )
    if cfg.sampling.every >= cfg.n_steps:
        raise ValueError(
            f"sampling.every {cfg.sampling.every} must be below n_steps {cfg.n_steps}; use 1 to switch it off"
        )
