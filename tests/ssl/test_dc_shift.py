"""Oracle and property tests of the ``dc_shift`` augmentation (:func:`fairssl.ssl.transforms.dc_shift`).

The generic properties every augmentation shares (shape, dtype, determinism, bad batches) run in
``test_augment.py`` through its ``CASES`` table; here: the offset is constant over time, has the
configured spread, equals the generator's own N(0, 1) draws times sigma, and shapes are left alone.
"""

from __future__ import annotations

import pytest
import torch

from fairssl.errors import ConfigError
from fairssl.ssl import augment
from fairssl.ssl.transforms import dc_shift

torch.set_num_threads(1)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_offset_is_constant_over_time_and_has_the_configured_spread() -> None:
    x = torch.randn(2000, 6, 12, generator=gen(1))
    shift = dc_shift(x, generator=gen(), sigma=0.7) - x  # (N, C, T)
    assert torch.allclose(shift, shift[:, :, :1].expand_as(shift), atol=1e-6)  # one offset per (n, c)
    per_window_channel = shift[:, :, 0]  # (N, C)
    assert abs(per_window_channel.mean().item()) < 0.7 * 0.03
    assert abs(per_window_channel.std().item() - 0.7) < 0.7 * 0.03
    assert per_window_channel[:, 0].std() > 0 and per_window_channel[0].std() > 0  # windows, channels differ


def test_offset_is_sigma_times_the_generators_normal_draws() -> None:
    x = torch.randn(5, 3, 8, generator=gen(2), dtype=torch.float64)
    expected = x + 1.5 * torch.randn(5, 3, 1, generator=gen(4), dtype=torch.float64)  # hand-drawn oracle
    assert torch.allclose(dc_shift(x, generator=gen(4), sigma=1.5), expected)


def test_shapes_are_kept_and_zero_sigma_is_the_identity() -> None:
    t = torch.arange(10, dtype=torch.float32)
    x = torch.stack([torch.sin(t), t, t**2])[None].repeat(4, 1, 1)  # (4, 3, 10)
    out = dc_shift(x, generator=gen(), sigma=2.0)
    assert torch.allclose(out.diff(dim=2), x.diff(dim=2), atol=1e-5)  # every step-to-step change kept
    assert torch.equal(dc_shift(x, generator=gen(), sigma=0.0), x)


def test_registered_and_validated_like_every_augmentation() -> None:
    assert augment.AUGMENTATIONS["dc_shift"] is dc_shift
    pipeline = augment.build_augmentation([{"dc_shift": {"sigma": 2.0}}, "noise"])
    assert [name for name, _ in pipeline.steps] == ["dc_shift", "noise"]
    with pytest.raises(ConfigError, match=r"dc_shift: sigma must be a finite number >= 0, got -1"):
        augment.build_augmentation([{"dc_shift": {"sigma": -1}}])
    with pytest.raises(ConfigError, match=r"augmentation 'dc_shift' got unknown parameter 'p'"):
        augment.build_augmentation([{"dc_shift": {"p": 0.5}}])
