"""Vectorised SimCLR augmentations for batches of multichannel time series.

Every augmentation is a plain function ``name(x, *, generator, <params>) -> Tensor`` on a float batch
``x`` of shape (N, C, T) (N windows, C channels, T time steps) that returns a new tensor of the same
shape, dtype and device. Every random draw comes from the explicit ``generator`` (drawn on the
generator's device, then moved to ``x``'s), so a result is a pure function of ``x``, the parameters and
the generator's state. No augmentation loops over windows in Python: the random parameters are drawn
for the whole batch at once and applied with broadcasting, ``gather`` and ``einsum``.

The family is the one of Um et al. (2017) and Tang et al. (2020) -- noise, scaling, negation, time
flip, channel shuffle, time-segment permutation, time warping, 3-D rotation -- plus cropping and
masking from later time-series SSL work. :func:`build_augmentation` turns a spec (a preset name or a
list of steps) into an :class:`Augmentation` pipeline, and :func:`make_views` draws the two views of
SimCLR *independently*, which fixes defect 3 of the reference (paper.md): there, one negation was
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
import math
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import torch
from torch import Tensor

from fairssl.errors import ConfigError, DataError

AugmentationFn = Callable[..., Tensor]
AugmentationSpec = str | Sequence[str | Mapping[str, Any]]

# ---------------------------------------------------------------------------------------------------
# validation


def _check_batch(x: Tensor, name: str) -> None:
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


# One rule per parameter name; a name means the same thing in every augmentation.
_PARAM_RULES: dict[str, Callable[[str, str, Any], None]] = {
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


def _check_params(aug: str, **params: Any) -> None:
    for param, value in params.items():
        _PARAM_RULES[param](aug, param, value)


# ---------------------------------------------------------------------------------------------------
# random draws


def _draw_dtype(x: Tensor) -> torch.dtype:
    return torch.promote_types(x.dtype, torch.float32)


def _rand(shape: Sequence[int], generator: torch.Generator, x: Tensor) -> Tensor:
    """U(0, 1) draws of ``shape`` from ``generator``, on ``x``'s device (float32 or wider)."""
    u = torch.rand(tuple(shape), generator=generator, device=generator.device, dtype=_draw_dtype(x))
    return u.to(x.device)


def _randn(shape: Sequence[int], generator: torch.Generator, x: Tensor) -> Tensor:
    """N(0, 1) draws of ``shape`` from ``generator``, on ``x``'s device (float32 or wider)."""
    z = torch.randn(tuple(shape), generator=generator, device=generator.device, dtype=_draw_dtype(x))
    return z.to(x.device)


def _random_permutations(n: int, k: int, generator: torch.Generator, x: Tensor) -> Tensor:
    """(n, k) int64: an independent uniformly random permutation of 0..k-1 per row."""
    return _rand((n, k), generator, x).argsort(dim=1)


# ---------------------------------------------------------------------------------------------------
# interpolation along time


def _interp_time(x: Tensor, positions: Tensor) -> Tensor:
    """Linear interpolation of ``x`` (N, C, T) at fractional time ``positions`` (N, 1 or C, T') in [0, T-1].

    ``out[n, c, t] = x[n, c, i] + w * (x[n, c, i + 1] - x[n, c, i])`` with ``i = floor(p)`` and
    ``w = p - i`` for the position ``p`` (the difference is 0 past the end), so integer positions,
    both endpoints included, return values of ``x`` exactly. ``positions`` must lie in [0, T-1]
    (callers build them so) and is used as scratch space (overwritten). Gathering from ``x`` and from
    its first difference with one index avoids a second (N, C, T') index array.
    """
    n, c, t = x.shape
    pos = positions.clamp_(0, t - 1)
    lo = pos.floor()  # (N, W, T')
    weight = pos.sub_(lo).to(x.dtype)  # (N, W, T'), in [0, 1)
    step = torch.empty_like(x)  # (N, C, T): x[..., i+1] - x[..., i], 0 at the last step
    torch.sub(x[:, :, 1:], x[:, :, :-1], out=step[:, :, :-1])
    step[:, :, -1] = 0.0
    shape = (n, c, lo.shape[2])
    idx = lo.long().expand(shape)  # (N, C, T')
    return x.gather(2, idx).addcmul_(step.gather(2, idx), weight.expand(shape))


@lru_cache(maxsize=64)
def _natural_spline_basis(n_points: int, n_steps: int) -> Tensor:
    """(n_steps, n_points) float64 basis B of the natural cubic spline through ``n_points`` equally
    spaced knots at 0 .. n_steps-1: the spline through knot values y (n_points,) is ``B @ y``.

    Built by solving the natural-spline system for the second derivatives M (M_0 = M_{K-1} = 0,
    h M_{i-1} + 4 h M_i + h M_{i+1} = 6 (y_{i+1} - 2 y_i + y_{i-1}) / h) with y = each unit vector.
    """
    k = n_points
    knots = torch.linspace(0.0, n_steps - 1, k, dtype=torch.float64)
    h = float(knots[1] - knots[0])
    eye = torch.eye(k, dtype=torch.float64)
    second = torch.zeros(k, k, dtype=torch.float64)  # (K knots, K unit vectors)
    if k > 2:
        m = k - 2
        a = torch.diag(torch.full((m,), 4.0 * h, dtype=torch.float64))
        if m > 1:
            off = torch.full((m - 1,), h, dtype=torch.float64)
            a = a + torch.diag(off, 1) + torch.diag(off, -1)
        rhs = 6.0 * (eye[2:] - 2.0 * eye[1:-1] + eye[:-2]) / h  # (K-2, K)
        second[1:-1] = torch.linalg.solve(a, rhs)
    t = torch.arange(n_steps, dtype=torch.float64)
    seg = torch.clamp(((t - knots[0]) / h).floor().long(), 0, k - 2)  # interval of each step
    right = knots[seg + 1] - t  # (T,)
    left = t - knots[seg]
    m_lo, m_hi = second[seg], second[seg + 1]  # (T, K)
    y_lo, y_hi = eye[seg], eye[seg + 1]
    return (
        m_lo * (right**3 / (6 * h))[:, None]
        + m_hi * (left**3 / (6 * h))[:, None]
        + (y_lo / h - m_lo * h / 6) * right[:, None]
        + (y_hi / h - m_hi * h / 6) * left[:, None]
    )


def _warp_positions(log_speed_knots: Tensor, n_steps: int) -> Tensor:
    """Monotone sampling positions (N, W, T) in [0, T-1] from log-speed knot values (N, W, K).

    speed = exp(natural cubic spline through the knots) > 0; positions are the cumulative speed,
    shifted to start at 0 and scaled to end at T-1, so they increase strictly and keep both endpoints.
    """
    basis = _natural_spline_basis(log_speed_knots.shape[2], n_steps)
    basis = basis.to(device=log_speed_knots.device, dtype=log_speed_knots.dtype)
    speed = torch.matmul(log_speed_knots, basis.T).exp_()  # (N, W, K) @ (K, T) -> (N, W, T), > 0
    speed[:, :, 0] = 0.0  # position(t) = sum of speed[1..t]: starts at 0
    positions = speed.cumsum_(dim=2)  # (N, W, T), strictly increasing
    positions.mul_((n_steps - 1) / positions[:, :, -1:].clone())  # clone: no aliasing in the in-place op
    positions[:, :, -1] = n_steps - 1  # exact endpoint despite rounding
    return positions


# ---------------------------------------------------------------------------------------------------
# augmentations


def noise(x: Tensor, *, generator: torch.Generator, sigma: float = 0.05) -> Tensor:
    """Gaussian jitter: ``x + sigma * eps`` with eps ~ N(0, 1) i.i.d. per element. (N, C, T) -> same."""
    _check_batch(x, "noise")
    _check_params("noise", sigma=sigma)
    eps = _randn(x.shape, generator, x).to(x.dtype)  # (N, C, T)
    return torch.add(x, eps, alpha=sigma)


def scaling(x: Tensor, *, generator: torch.Generator, sigma: float = 0.1) -> Tensor:
    """Multiply each (window, channel) by a factor ~ N(1, sigma^2), constant over time. (N, C, T) -> same."""
    _check_batch(x, "scaling")
    _check_params("scaling", sigma=sigma)
    n, c, _ = x.shape
    factor = 1.0 + sigma * _randn((n, c, 1), generator, x)  # (N, C, 1)
    return x * factor.to(x.dtype)


def negation(x: Tensor, *, generator: torch.Generator, p: float = 1.0) -> Tensor:
    """Multiply a window by -1 with probability ``p`` (independently per window). (N, C, T) -> same."""
    _check_batch(x, "negation")
    _check_params("negation", p=p)
    flip = _rand((x.shape[0],), generator, x) < p  # (N,)
    sign = 1.0 - 2.0 * flip.to(x.dtype)
    return x * sign[:, None, None]


def time_flip(x: Tensor, *, generator: torch.Generator, p: float = 0.5) -> Tensor:
    """Reverse the time axis of a window with probability ``p`` (per window). (N, C, T) -> same."""
    _check_batch(x, "time_flip")
    _check_params("time_flip", p=p)
    flip = _rand((x.shape[0],), generator, x) < p  # (N,)
    return torch.where(flip[:, None, None], x.flip(2), x)


def channel_shuffle(x: Tensor, *, generator: torch.Generator) -> Tensor:
    """Permute the channels of each window by its own uniformly random permutation. (N, C, T) -> same."""
    _check_batch(x, "channel_shuffle")
    n, c, _ = x.shape
    perm = _random_permutations(n, c, generator, x)  # (N, C)
    windows = torch.arange(n, device=x.device)[:, None]  # (N, 1)
    return x[windows, perm]  # (N, C, T): row (n, c) is x[n, perm[n, c]]


def time_segment_permutation(x: Tensor, *, generator: torch.Generator, n_segments: int = 4) -> Tensor:
    """Cut each window's time axis at ``n_segments - 1`` random points and permute the segments.

    Cut points are distinct, uniformly random in 1..T-1 (every segment non-empty), and the segment
    order is a uniformly random permutation; both are drawn per window and shared by all channels of
    the window, so channels stay aligned. Needs ``n_segments <= T``. (N, C, T) -> same.
    """
    _check_batch(x, "time_segment_permutation")
    _check_params("time_segment_permutation", n_segments=n_segments)
    n, c, t = x.shape
    if n_segments > t:
        raise DataError(
            f"time_segment_permutation: n_segments={n_segments} is more than the {t} time steps of the "
            "windows; use n_segments <= T"
        )
    if n_segments == 1 or n == 0:
        return x.clone()
    k = n_segments
    cuts = _random_permutations(n, t - 1, generator, x)[:, : k - 1] + 1  # (N, k-1), distinct in 1..T-1
    cuts = cuts.sort(dim=1).values
    zeros = torch.zeros(n, 1, dtype=torch.long, device=x.device)
    bounds = torch.cat([zeros, cuts, torch.full_like(zeros, t)], dim=1)  # (N, k+1)
    starts, lengths = bounds[:, :-1], bounds.diff(dim=1)  # (N, k) source start and length
    order = _random_permutations(n, k, generator, x)  # (N, k): output segment j is source order[j]
    out_lengths = lengths.gather(1, order)
    out_ends = out_lengths.cumsum(dim=1)  # (N, k), strictly increasing
    out_starts = out_ends - out_lengths
    steps = torch.arange(t, device=x.device).expand(n, t).contiguous()  # (N, T)
    seg = torch.searchsorted(out_ends, steps, right=True)  # (N, T): output segment of each step
    source = starts.gather(1, order).gather(1, seg) + steps - out_starts.gather(1, seg)  # (N, T)
    return x.gather(2, source[:, None, :].expand(n, c, t))


def time_warp(
    x: Tensor,
    *,
    generator: torch.Generator,
    sigma: float = 0.2,
    n_knots: int = 4,
    per_channel: bool = False,
) -> Tensor:
    """Smooth random monotone warp of the time axis, then linear interpolation.

    A log-speed curve is a natural cubic spline through ``n_knots + 2`` equally spaced knots (both ends
    included) with values ~ N(0, sigma^2); speed = exp(curve) > 0, and the sampling positions are its
    cumulative sum rescaled to run from 0 to T-1: ``out[..., t] = x[..., pos(t)]`` by linear
    interpolation. This is Um et al.'s cubic-spline time warp, with the exponential guaranteeing a
    monotone warp for any sigma (their speed curve N(1, sigma^2) can go negative). Endpoints are kept.
    One warp per window shared by all channels (channel alignment kept) unless ``per_channel``.
    (N, C, T) -> same.
    """
    _check_batch(x, "time_warp")
    _check_params("time_warp", sigma=sigma, n_knots=n_knots, per_channel=per_channel)
    n, c, t = x.shape
    if t < 2 or n == 0:
        return x.clone()
    knots = sigma * _randn((n, c if per_channel else 1, n_knots + 2), generator, x)  # (N, W, K)
    return _interp_time(x, _warp_positions(knots, t))


def rotation_3d(
    x: Tensor,
    *,
    generator: torch.Generator,
    tri_axial: Sequence[tuple[int, int, int]],
    max_angle: float = 180.0,
) -> Tensor:
    """Rotate tri-axial channel groups by a random 3-D rotation per window.

    Per window: axis u uniform on the sphere, angle ~ U(-max_angle, max_angle) degrees, and
    R = I + sin(a) K + (1 - cos(a)) K^2 (Rodrigues, K the cross-product matrix of u). The same R is
    applied to every triple (x, y, z channel indices) of the window, as all sensors of one device turn
    together; other channels are left untouched. Per time step the norm of each triple is kept.
    (N, C, T) -> same.
    """
    _check_batch(x, "rotation_3d")
    _check_params("rotation_3d", tri_axial=tri_axial, max_angle=max_angle)
    n, c, t = x.shape
    idx = torch.tensor([list(tr) for tr in tri_axial], dtype=torch.long)  # (G, 3)
    if int(idx.max()) >= c:
        raise DataError(
            f"rotation_3d: tri_axial names channel {int(idx.max())} but the windows have {c} channels; "
            "give channel indices below C"
        )
    axis = _randn((n, 3), generator, x)
    axis = axis / axis.norm(dim=1, keepdim=True).clamp_min(1e-12)  # (N, 3)
    angle = (2.0 * _rand((n,), generator, x) - 1.0) * math.radians(max_angle)  # (N,)
    ux, uy, uz = axis.unbind(dim=1)
    zero = torch.zeros_like(ux)
    cross = torch.stack([zero, -uz, uy, uz, zero, -ux, -uy, ux, zero], dim=1).reshape(n, 3, 3)  # (N, 3, 3)
    eye = torch.eye(3, dtype=axis.dtype, device=axis.device)
    rot = eye + angle.sin()[:, None, None] * cross + (1.0 - angle.cos())[:, None, None] * (cross @ cross)
    flat = idx.reshape(-1).to(x.device)  # (3G,)
    groups = x[:, flat, :].reshape(n, -1, 3, t)  # (N, G, 3, T)
    rotated = torch.einsum("nij,ngjt->ngit", rot.to(x.dtype), groups)  # (N, G, 3, T)
    out = x.clone()
    out[:, flat, :] = rotated.reshape(n, -1, t)  # (N, 3G, T)
    return out


def crop_resize(x: Tensor, *, generator: torch.Generator, min_fraction: float = 0.5) -> Tensor:
    """Crop a random stretch of each window and stretch it back to T steps by linear interpolation.

    Per window the crop covers a fraction f ~ U(min_fraction, 1) of the time span, at a uniformly random
    offset; ``out[..., t] = x[..., s + f t]`` (continuous positions, linear interpolation). All
    channels of a window share the crop. (N, C, T) -> same.
    """
    _check_batch(x, "crop_resize")
    _check_params("crop_resize", min_fraction=min_fraction)
    n, _, t = x.shape
    if t < 2 or n == 0:
        return x.clone()
    frac = min_fraction + (1.0 - min_fraction) * _rand((n, 1, 1), generator, x)  # (N, 1, 1)
    start = _rand((n, 1, 1), generator, x) * (1.0 - frac) * (t - 1)
    steps = torch.arange(t, device=x.device, dtype=frac.dtype)
    positions = (start + frac * steps).clamp_(0, t - 1)  # (N, 1, T), clamp: rounding at the end
    return _interp_time(x, positions)


def masking(
    x: Tensor,
    *,
    generator: torch.Generator,
    time_fraction: float = 0.1,
    channel_fraction: float = 0.0,
) -> Tensor:
    """Set to zero one random contiguous time span and/or a random subset of channels per window.

    The span has round(time_fraction * T) steps at a uniformly random start (all channels); the channel
    subset has round(channel_fraction * C) channels (all steps). The masked share of a window's values
    is about 1 - (1 - time_fraction)(1 - channel_fraction). (N, C, T) -> same.
    """
    _check_batch(x, "masking")
    _check_params("masking", time_fraction=time_fraction, channel_fraction=channel_fraction)
    n, c, t = x.shape
    span = round(time_fraction * t)
    n_masked_channels = round(channel_fraction * c)
    mask_steps = torch.zeros(n, 1, t, dtype=torch.bool, device=x.device)  # (N, 1, T)
    if span > 0:
        start = (_rand((n, 1), generator, x) * (t - span + 1)).long().clamp(max=t - span)  # (N, 1)
        steps = torch.arange(t, device=x.device)
        mask_steps = ((steps >= start) & (steps < start + span))[:, None, :]
    if n_masked_channels == 0:
        return x.masked_fill(mask_steps, 0.0)  # broadcast over channels
    chosen = _random_permutations(n, c, generator, x)[:, :n_masked_channels]  # (N, m)
    mask_channels = torch.zeros(n, c, 1, dtype=torch.bool, device=x.device).scatter_(
        1, chosen[:, :, None], True
    )
    return x.masked_fill(mask_steps | mask_channels, 0.0)  # (N, 1, T) | (N, C, 1) -> (N, C, T)


AUGMENTATIONS: dict[str, AugmentationFn] = {
    "noise": noise,
    "scaling": scaling,
    "negation": negation,
    "time_flip": time_flip,
    "channel_shuffle": channel_shuffle,
    "time_segment_permutation": time_segment_permutation,
    "time_warp": time_warp,
    "rotation_3d": rotation_3d,
    "crop_resize": crop_resize,
    "masking": masking,
}
"""Every augmentation by name; each is ``fn(x, *, generator, **params) -> Tensor``."""

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
            _check_params(name, **params)
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
