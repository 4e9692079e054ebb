"""The individual SimCLR augmentations for batches of multichannel time series, and their registry.

Every augmentation is a plain function ``name(x, *, generator, <params>) -> Tensor`` on a float batch
``x`` of shape (N, C, T) (N windows, C channels, T time steps) that returns a new tensor of the same
shape, dtype and device. Every random draw comes from the explicit ``generator`` (drawn on the
generator's device, then moved to ``x``'s), so a result is a pure function of ``x``, the parameters and
the generator's state. No augmentation loops over windows in Python: the random parameters are drawn
for the whole batch at once and applied with broadcasting, ``gather`` and ``einsum``.

Pipelines, presets and the two SimCLR views are :mod:`fairssl.ssl.augment`'s.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from fairssl.errors import DataError
from fairssl.ssl.augment_checks import check_batch, check_params
from fairssl.ssl.resample import interp_time, warp_positions

AugmentationFn = Callable[..., Tensor]


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


def noise(x: Tensor, *, generator: torch.Generator, sigma: float = 0.05) -> Tensor:
    """Gaussian jitter: ``x + sigma * eps`` with eps ~ N(0, 1) i.i.d. per element. (N, C, T) -> same."""
    check_batch(x, "noise")
    check_params("noise", sigma=sigma)
    eps = _randn(x.shape, generator, x).to(x.dtype)  # (N, C, T)
    return torch.add(x, eps, alpha=sigma)


def scaling(x: Tensor, *, generator: torch.Generator, sigma: float = 0.1) -> Tensor:
    """Multiply each (window, channel) by a factor ~ N(1, sigma^2), constant over time. (N, C, T) -> same."""
    check_batch(x, "scaling")
    check_params("scaling", sigma=sigma)
    n, c, _ = x.shape
    factor = 1.0 + sigma * _randn((n, c, 1), generator, x)  # (N, C, 1)
    return x * factor.to(x.dtype)


def dc_shift(x: Tensor, *, generator: torch.Generator, sigma: float = 0.5) -> Tensor:
    """Add a random offset to each (window, channel), constant over time: ``x + sigma * z``, z ~ N(0, 1)
    per (window, channel). (N, C, T) -> same.

    The "DC shift" of time-series contrastive learning (Mohsenvand et al. 2020; Cheng et al. 2020): two
    views that differ by a per-channel offset teach the encoder to ignore channel levels (a sensor's
    calibration, a person's baseline) and keep their shapes. An encoder that learned it cannot express a
    signal carried only by a channel's level, whatever that signal is.
    """
    check_batch(x, "dc_shift")
    check_params("dc_shift", sigma=sigma)
    n, c, _ = x.shape
    offset = sigma * _randn((n, c, 1), generator, x)  # (N, C, 1), broadcast over time
    return x + offset.to(x.dtype)


def negation(x: Tensor, *, generator: torch.Generator, p: float = 1.0) -> Tensor:
    """Multiply a window by -1 with probability ``p`` (independently per window). (N, C, T) -> same."""
    check_batch(x, "negation")
    check_params("negation", p=p)
    flip = _rand((x.shape[0],), generator, x) < p  # (N,)
    sign = 1.0 - 2.0 * flip.to(x.dtype)
    return x * sign[:, None, None]


def time_flip(x: Tensor, *, generator: torch.Generator, p: float = 0.5) -> Tensor:
    """Reverse the time axis of a window with probability ``p`` (per window). (N, C, T) -> same."""
    check_batch(x, "time_flip")
    check_params("time_flip", p=p)
    flip = _rand((x.shape[0],), generator, x) < p  # (N,)
    return torch.where(flip[:, None, None], x.flip(2), x)


def channel_shuffle(x: Tensor, *, generator: torch.Generator) -> Tensor:
    """Permute the channels of each window by its own uniformly random permutation. (N, C, T) -> same."""
    check_batch(x, "channel_shuffle")
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
    check_batch(x, "time_segment_permutation")
    check_params("time_segment_permutation", n_segments=n_segments)
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
    check_batch(x, "time_warp")
    check_params("time_warp", sigma=sigma, n_knots=n_knots, per_channel=per_channel)
    n, c, t = x.shape
    if t < 2 or n == 0:
        return x.clone()
    knots = sigma * _randn((n, c if per_channel else 1, n_knots + 2), generator, x)  # (N, W, K)
    return interp_time(x, warp_positions(knots, t))


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
    check_batch(x, "rotation_3d")
    check_params("rotation_3d", tri_axial=tri_axial, max_angle=max_angle)
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
    check_batch(x, "crop_resize")
    check_params("crop_resize", min_fraction=min_fraction)
    n, _, t = x.shape
    if t < 2 or n == 0:
        return x.clone()
    frac = min_fraction + (1.0 - min_fraction) * _rand((n, 1, 1), generator, x)  # (N, 1, 1)
    start = _rand((n, 1, 1), generator, x) * (1.0 - frac) * (t - 1)
    steps = torch.arange(t, device=x.device, dtype=frac.dtype)
    positions = (start + frac * steps).clamp_(0, t - 1)  # (N, 1, T), clamp: rounding at the end
    return interp_time(x, positions)


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
    check_batch(x, "masking")
    check_params("masking", time_fraction=time_fraction, channel_fraction=channel_fraction)
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
    "dc_shift": dc_shift,
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
