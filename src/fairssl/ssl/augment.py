"""Augmentation pipelines for SimCLR on batches of multichannel time series: presets, specs, two views.

The individual augmentations (:data:`AUGMENTATIONS`: noise, scaling, DC shift, negation, time flip,
channel shuffle, time-segment permutation, time warping, 3-D rotation, cropping, masking) live in
:mod:`fairssl.ssl.transforms`, the validation of their inputs in :mod:`fairssl.ssl.augment_checks` and
the time-axis resampling in :mod:`fairssl.ssl.resample`; they are re-exported here. Each is a plain
function ``name(x, *, generator, <params>) -> Tensor`` on a float batch (N, C, T) whose random draws all
come from the explicit ``generator``.

The family is the one of Um et al. (2017) and Tang et al. (2020) -- noise, scaling, negation, time
flip, channel shuffle, time-segment permutation, time warping, 3-D rotation -- plus cropping,
masking and DC shift (a random per-channel offset) from later time-series SSL work.
:func:`build_augmentation` turns a spec (a preset name or a list of steps) into an
:class:`Augmentation` pipeline, and :func:`make_views` draws the two views of SimCLR
*independently*, which fixes defect 3 of the reference (paper.md): there, one negation was
applied to both views, so the views differed only by scale.

Presets (:data:`PRESETS`):

- ``"paper"``: scaling(sigma=0.1) then negation(p=1), the paper's recipe. Both views are still drawn
  independently by :func:`make_views` (independent scale factors); with p=1 both are negated, as in
  the paper.
- ``"paper_fixed"``: scaling(sigma=0.1) then negation(p=0.5): each view is negated independently with
  probability 1/2, so the encoder sees both signs and the views differ in sign half the time.
- ``"default"``: scaling(sigma=0.1), noise(sigma=0.05), time_warp(sigma=0.2, n_knots=4),
  masking(time_fraction=0.1). Chosen for physiological and clinical series: every step keeps the
  meaning of a channel (no channel shuffle, which destroys channel identity in heterogeneous
  channels), keeps the arrow of time (no time flip or segment permutation, which make physiologically
  impossible trajectories) and keeps signs (no negation, which turns one-hot and mask channels into
  impossible values), while perturbing amplitude (scaling), measurement noise (noise), pace (time
  warp) and missing stretches (masking).
- ``"none"``: the identity (the input is returned as is, not copied).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from fairssl.errors import ConfigError
from fairssl.ssl.augment_checks import check_params
from fairssl.ssl.resample import natural_spline_basis, warp_positions
from fairssl.ssl.transforms import (
    AUGMENTATIONS,
    AugmentationFn,
    channel_shuffle,
    crop_resize,
    dc_shift,
    masking,
    negation,
    noise,
    rotation_3d,
    scaling,
    time_flip,
    time_segment_permutation,
    time_warp,
)

# the spline helpers under their former private names (the tests check them through this module)
_natural_spline_basis = natural_spline_basis
_warp_positions = warp_positions

AugmentationSpec = str | Sequence[str | Mapping[str, Any]]

PRESETS: dict[str, list[str | Mapping[str, Any]]] = {
    "paper": [{"scaling": {"sigma": 0.1}}, {"negation": {"p": 1.0}}],
    "paper_fixed": [{"scaling": {"sigma": 0.1}}, {"negation": {"p": 0.5}}],
    "default": [
        {"scaling": {"sigma": 0.1}},
        {"noise": {"sigma": 0.05}},
        {"time_warp": {"sigma": 0.2, "n_knots": 4}},
        {"masking": {"time_fraction": 0.1}},
    ],
    "none": [],
}
"""Named pipelines (see the module docstring for the reasons behind each)."""


# ---------------------------------------------------------------------------------------------------
# pipelines


class Augmentation:
    """A pipeline of augmentations applied in order: ``aug(x, generator) -> Tensor`` (N, C, T) -> same.

    ``steps`` is a sequence of ``(name, params)``; names and parameters are validated here, so a bad
    spec fails when the pipeline is built, not in the middle of training. An empty pipeline returns
    its input as is.
    """

    def __init__(self, steps: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        checked: list[tuple[str, dict[str, Any]]] = []
        for name, params in steps:
            if name not in AUGMENTATIONS:
                raise ConfigError(
                    f"unknown augmentation {name!r}; allowed: {', '.join(sorted(AUGMENTATIONS))}"
                )
            allowed = _parameters(AUGMENTATIONS[name])
            for param in params:
                if param not in allowed:
                    raise ConfigError(
                        f"augmentation {name!r} got unknown parameter {param!r}; "
                        f"allowed: {', '.join(allowed) or 'none'}"
                    )
            missing = [
                p for p, default in allowed.items() if default is inspect.Parameter.empty and p not in params
            ]
            if missing:
                raise ConfigError(
                    f"augmentation {name!r} needs parameter(s) {', '.join(missing)}, got none; "
                    + (
                        "pass tri_axial=[(x, y, z), ...] channel triples"
                        if "tri_axial" in missing
                        else "set them"
                    )
                )
            check_params(name, **params)
            checked.append((name, dict(params)))
        self.steps: tuple[tuple[str, dict[str, Any]], ...] = tuple(checked)

    def __call__(self, x: Tensor, generator: torch.Generator) -> Tensor:
        for name, params in self.steps:
            x = AUGMENTATIONS[name](x, generator=generator, **params)
        return x

    def __repr__(self) -> str:
        inner = ", ".join(
            f"{name}({', '.join(f'{k}={v!r}' for k, v in params.items())})" for name, params in self.steps
        )
        return f"Augmentation([{inner}])"


def _parameters(fn: AugmentationFn) -> dict[str, Any]:
    """The keyword parameters of an augmentation other than ``generator``, with their defaults."""
    return {
        p.name: p.default
        for p in inspect.signature(fn).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "generator"
    }


def build_augmentation(
    spec: AugmentationSpec, *, tri_axial: Sequence[tuple[int, int, int]] = ()
) -> Augmentation:
    """Build a pipeline from a preset name, an augmentation name, or a list of steps.

    A step is a name (default parameters) or a one-key mapping ``{name: {param: value}}``; steps are
    applied in order. ``tri_axial`` (channel index triples) is passed to every ``rotation_3d`` step
    that does not set its own. Unknown names or parameters raise :class:`ConfigError`.
    """
    if isinstance(spec, str):
        if spec in PRESETS:
            items: Sequence[str | Mapping[str, Any]] = PRESETS[spec]
        elif spec in AUGMENTATIONS:
            items = [spec]
        else:
            raise ConfigError(
                f"unknown augmentation or preset {spec!r}; allowed presets: {', '.join(PRESETS)}; "
                f"augmentations: {', '.join(sorted(AUGMENTATIONS))}"
            )
    else:
        items = spec
    steps: list[tuple[str, Mapping[str, Any]]] = []
    for item in items:
        if isinstance(item, str):
            name, params = item, {}
        elif isinstance(item, Mapping) and len(item) == 1:
            name, raw = next(iter(item.items()))
            if not isinstance(raw, Mapping):
                raise ConfigError(
                    f"augmentation {name!r}: parameters must be a mapping, got {raw!r}; "
                    f"write {{{name!r}: {{'param': value}}}}"
                )
            params = dict(raw)
        else:
            raise ConfigError(
                f"an augmentation step must be a name or a one-key mapping {{name: params}}, got {item!r}"
            )
        if name == "rotation_3d" and "tri_axial" not in params and tri_axial:
            params["tri_axial"] = [tuple(t) for t in tri_axial]
        steps.append((str(name), params))
    return Augmentation(steps)


def make_views(
    x: Tensor, augmentation: Callable[[Tensor, torch.Generator], Tensor], *, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Two independently augmented views of a batch (N, C, T): ``(aug(x), aug(x))`` with fresh draws.

    The second view's random parameters are drawn after the first's from the same generator, so the
    views are independent given the seed (the fix of the reference's shared-negation defect).
    """
    return augmentation(x, generator), augmentation(x, generator)


__all__ = [
    "AUGMENTATIONS",
    "PRESETS",
    "Augmentation",
    "AugmentationFn",
    "AugmentationSpec",
    "build_augmentation",
    "channel_shuffle",
    "crop_resize",
    "dc_shift",
    "make_views",
    "masking",
    "negation",
    "noise",
    "rotation_3d",
    "scaling",
    "time_flip",
    "time_segment_permutation",
    "time_warp",
]
