"""Resampling along the time axis, shared by the time-warp and crop augmentations: linear interpolation
of a batch (N, C, T) at fractional positions, the natural cubic spline basis, and the monotone warp
positions built from it. Pure tensor maths: no random draws (the callers draw the knots and crops).
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor


def interp_time(x: Tensor, positions: Tensor) -> Tensor:
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
def natural_spline_basis(n_points: int, n_steps: int) -> Tensor:
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


def warp_positions(log_speed_knots: Tensor, n_steps: int) -> Tensor:
    """Monotone sampling positions (N, W, T) in [0, T-1] from log-speed knot values (N, W, K).

    speed = exp(natural cubic spline through the knots) > 0; positions are the cumulative speed,
    shifted to start at 0 and scaled to end at T-1, so they increase strictly and keep both endpoints.
    """
    basis = natural_spline_basis(log_speed_knots.shape[2], n_steps)
    basis = basis.to(device=log_speed_knots.device, dtype=log_speed_knots.dtype)
    speed = torch.matmul(log_speed_knots, basis.T).exp_()  # (N, W, K) @ (K, T) -> (N, W, T), > 0
    speed[:, :, 0] = 0.0  # position(t) = sum of speed[1..t]: starts at 0
    positions = speed.cumsum_(dim=2)  # (N, W, T), strictly increasing
    positions.mul_((n_steps - 1) / positions[:, :, -1:].clone())  # clone: no aliasing in the in-place op
    positions[:, :, -1] = n_steps - 1  # exact endpoint despite rounding
    return positions
