"""Property and oracle tests of fairssl.ssl.augment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
import torch
from scipy.interpolate import CubicSpline

from fairssl.errors import ConfigError, DataError
from fairssl.ssl import augment

torch.set_num_threads(1)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def batch(n: int = 16, c: int = 6, t: int = 20, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, c, t, generator=gen(seed))


# Parameters that make every augmentation random and applicable to a (16, 6, 20) batch.
CASES: dict[str, dict[str, Any]] = {
    "noise": {"sigma": 0.1},
    "scaling": {"sigma": 0.1},
    "dc_shift": {"sigma": 0.5},
    "negation": {"p": 0.5},
    "time_flip": {"p": 0.5},
    "channel_shuffle": {},
    "time_segment_permutation": {"n_segments": 4},
    "time_warp": {"sigma": 0.3},
    "rotation_3d": {"tri_axial": [(0, 1, 2), (3, 4, 5)]},
    "crop_resize": {"min_fraction": 0.5},
    "masking": {"time_fraction": 0.2, "channel_fraction": 0.3},
}


def test_cases_cover_the_registry() -> None:
    assert set(CASES) == set(augment.AUGMENTATIONS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_shape_dtype_kept_and_input_untouched(name: str) -> None:
    x = batch()
    before = x.clone()
    out = augment.AUGMENTATIONS[name](x, generator=gen(3), **CASES[name])
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.equal(x, before)


@pytest.mark.parametrize("name", sorted(CASES))
def test_float64_kept(name: str) -> None:
    x = batch().double()
    out = augment.AUGMENTATIONS[name](x, generator=gen(3), **CASES[name])
    assert out.dtype == torch.float64


@pytest.mark.parametrize("name", sorted(CASES))
def test_deterministic_given_seed_and_random_across_seeds(name: str) -> None:
    x = batch()
    fn = augment.AUGMENTATIONS[name]
    a = fn(x, generator=gen(7), **CASES[name])
    b = fn(x, generator=gen(7), **CASES[name])
    c = fn(x, generator=gen(8), **CASES[name])
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("name", sorted(CASES))
def test_rejects_non_batch_input(name: str) -> None:
    with pytest.raises(DataError, match=rf"{name}: expected a floating-point tensor of shape \(N, C, T\)"):
        augment.AUGMENTATIONS[name](torch.zeros(4, 5), generator=gen(), **CASES[name])
    with pytest.raises(DataError, match=r"dtype torch\.int64"):
        augment.AUGMENTATIONS[name](torch.zeros(2, 6, 5, dtype=torch.long), generator=gen(), **CASES[name])


# --- noise ------------------------------------------------------------------------------------------


def test_noise_has_configured_std_and_zero_mean() -> None:
    x = batch(200, 8, 40)
    eps = augment.noise(x, generator=gen(), sigma=0.3) - x
    assert abs(eps.std().item() - 0.3) < 0.3 * 0.03
    assert abs(eps.mean().item()) < 0.01
    assert torch.equal(augment.noise(x, generator=gen(), sigma=0.0), x)


# --- scaling ----------------------------------------------------------------------------------------


def test_scaling_is_constant_over_time_with_the_right_spread() -> None:
    x = torch.rand(1000, 8, 30, generator=gen(2)) + 1.0  # no zeros, so the factor is out / x
    factor = augment.scaling(x, generator=gen(), sigma=0.2) / x
    assert torch.allclose(factor, factor[:, :, :1].expand_as(factor), rtol=1e-5)
    per_window_channel = factor[:, :, 0]
    assert abs(per_window_channel.mean().item() - 1.0) < 0.01
    assert abs(per_window_channel.std().item() - 0.2) < 0.2 * 0.04
    assert per_window_channel[:, 0].std() > 0  # differs across windows
    assert per_window_channel[0].std() > 0  # and across channels


# --- negation ---------------------------------------------------------------------------------------


def test_negation_flips_sign_with_probability_p() -> None:
    x = torch.rand(2000, 3, 10, generator=gen(2)) + 0.5
    assert torch.equal(augment.negation(x, generator=gen(), p=1.0), -x)
    assert torch.equal(augment.negation(x, generator=gen(), p=0.0), x)
    out = augment.negation(x, generator=gen(), p=0.3)
    negated = (out == -x).all(dim=(1, 2))
    kept = (out == x).all(dim=(1, 2))
    assert bool((negated ^ kept).all())  # each window whole, either flipped or not
    assert abs(negated.float().mean().item() - 0.3) < 0.04


# --- time flip --------------------------------------------------------------------------------------


def test_time_flip_twice_is_identity_and_flips_with_probability_p() -> None:
    x = batch()
    once = augment.time_flip(x, generator=gen(1), p=1.0)
    assert torch.equal(once, x.flip(2))
    assert torch.equal(augment.time_flip(once, generator=gen(2), p=1.0), x)
    x = batch(2000, 2, 7)
    out = augment.time_flip(x, generator=gen(), p=0.5)
    flipped = (out == x.flip(2)).all(dim=(1, 2))
    assert bool((flipped | (out == x).all(dim=(1, 2))).all())
    assert abs(flipped.float().mean().item() - 0.5) < 0.04


# --- channel shuffle --------------------------------------------------------------------------------


def test_channel_shuffle_permutes_whole_channels_per_window() -> None:
    n, c, t = 3000, 5, 9
    n_idx = torch.arange(n)[:, None, None].float()
    c_idx = torch.arange(c)[None, :, None].float()
    t_idx = torch.arange(t)[None, None, :].float()
    x = n_idx * 10_000 + c_idx * 100 + t_idx  # every value names its (window, channel, step)
    out = augment.channel_shuffle(x, generator=gen())
    assert torch.equal(out // 10_000, x // 10_000)  # rows stay in their window
    assert torch.equal(out % 100, x % 100)  # time order inside each channel intact
    source = (out[:, :, 0] % 10_000) // 100  # (N, C): which channel went where
    assert torch.equal(source.sort(dim=1).values, c_idx[0, :, 0].expand(n, c))  # a permutation
    first = torch.bincount(source[:, 0].long(), minlength=c).float() / n
    assert torch.allclose(first, torch.full((c,), 1 / c), atol=0.03)  # uniform, varies across windows


# --- time-segment permutation -----------------------------------------------------------------------


def test_time_segment_permutation_keeps_values_and_channel_alignment() -> None:
    n, c, t, k = 500, 4, 23, 5
    steps = torch.arange(t).float()
    x = steps[None, None, :] + 1000.0 * torch.arange(c).float()[None, :, None]  # value = step + 1000 c
    x = x.expand(n, c, t).contiguous()
    out = augment.time_segment_permutation(x, generator=gen(), n_segments=k)
    source = out - 1000.0 * torch.arange(c).float()[None, :, None]  # (N, C, T) source step per value
    assert torch.equal(source, source[:, :1].expand_as(source))  # same permutation for all channels
    assert torch.equal(source.sort(dim=2).values, steps.expand(n, c, t))  # a permutation of the steps
    src = source[:, 0]
    breaks = (src.diff(dim=1) != 1).sum(dim=1)  # (N,): jumps between consecutive output steps
    assert int(breaks.max()) <= k - 1  # made of at most k contiguous segments
    assert (breaks == k - 1).float().mean() > 0.3  # and usually exactly k
    assert (breaks == 0).float().mean() < 0.05  # the identity order is rare (1/k!)


def test_time_segment_permutation_keeps_the_multiset_of_random_values() -> None:
    x = batch(30, 3, 17)
    for k in (2, 3, 17):
        out = augment.time_segment_permutation(x, generator=gen(k), n_segments=k)
        assert torch.equal(out.sort(dim=2).values, x.sort(dim=2).values)
    assert torch.equal(augment.time_segment_permutation(x, generator=gen(), n_segments=1), x)


def test_time_segment_permutation_needs_enough_steps() -> None:
    with pytest.raises(DataError, match="n_segments=6 is more than the 5 time steps"):
        augment.time_segment_permutation(torch.zeros(2, 3, 5), generator=gen(), n_segments=6)


# --- time warp --------------------------------------------------------------------------------------


def test_natural_spline_basis_matches_scipy() -> None:
    for k, t in ((2, 10), (3, 11), (6, 48), (8, 101)):
        basis = augment._natural_spline_basis(k, t).numpy()
        knots = np.linspace(0, t - 1, k)
        expected = CubicSpline(knots, np.eye(k), bc_type="natural")(np.arange(t))  # (T, K)
        np.testing.assert_allclose(basis, expected, atol=1e-10)


def test_warp_positions_match_a_per_window_loop() -> None:
    t = 30
    knots = 0.4 * torch.randn(5, 2, 6, generator=gen(), dtype=torch.float64)
    pos = augment._warp_positions(knots, t).numpy()
    grid = np.linspace(0, t - 1, 6)
    for i in range(5):
        for w in range(2):
            speed = np.exp(CubicSpline(grid, knots[i, w].numpy(), bc_type="natural")(np.arange(t)))
            cum = np.concatenate([[0.0], np.cumsum(speed[1:])])
            np.testing.assert_allclose(pos[i, w], cum * (t - 1) / cum[-1], atol=1e-9)


def test_time_warp_matches_numpy_interpolation_of_its_positions() -> None:
    x = batch(4, 3, 25).double()
    out = augment.time_warp(x, generator=gen(5), sigma=0.5, per_channel=True).numpy()
    knots = 0.5 * torch.randn(4, 3, 6, generator=gen(5), dtype=torch.float64)  # the same draws
    pos = augment._warp_positions(knots, 25).numpy()
    for i in range(4):
        for c in range(3):
            np.testing.assert_allclose(
                out[i, c], np.interp(pos[i, c], np.arange(25), x[i, c].numpy()), atol=1e-12
            )


def test_time_warp_keeps_endpoints_and_monotone_ramps() -> None:
    x = batch(200, 4, 48)
    out = augment.time_warp(x, generator=gen(), sigma=1.0, n_knots=4)
    assert torch.allclose(out[:, :, 0], x[:, :, 0]) and torch.allclose(out[:, :, -1], x[:, :, -1])
    ramp = torch.arange(48).float().expand(200, 4, 48).contiguous()
    warped = augment.time_warp(ramp, generator=gen(), sigma=1.0)
    assert bool((warped.diff(dim=2) > 0).all())  # strictly monotone even for a large sigma
    assert torch.equal(warped, warped[:, :1].expand_as(warped))  # one warp shared by the channels
    assert (warped - ramp).abs().amax() > 1.0  # and it does warp
    per_channel = augment.time_warp(ramp, generator=gen(), sigma=1.0, per_channel=True)
    assert bool((per_channel.diff(dim=2) > 0).all())
    assert not torch.equal(per_channel[:, 0], per_channel[:, 1])


def test_time_warp_with_zero_sigma_is_identity() -> None:
    x = batch()
    assert torch.allclose(augment.time_warp(x, generator=gen(), sigma=0.0), x, atol=1e-6)
    assert torch.allclose(
        augment.time_warp(x, generator=gen(), sigma=0.2, n_knots=0)[:, :, [0, -1]], x[:, :, [0, -1]]
    )


# --- 3-D rotation -----------------------------------------------------------------------------------


def test_rotation_3d_keeps_norms_and_other_channels() -> None:
    x = batch(50, 8, 12)
    triples = [(0, 1, 2), (5, 3, 7)]
    out = augment.rotation_3d(x, generator=gen(), tri_axial=triples)
    for tr in triples:
        assert torch.allclose(out[:, list(tr)].norm(dim=1), x[:, list(tr)].norm(dim=1), atol=1e-5)
        assert not torch.allclose(out[:, list(tr)], x[:, list(tr)], atol=1e-2)
    assert torch.equal(out[:, [4, 6]], x[:, [4, 6]])


def test_rotation_3d_is_one_proper_rotation_per_window() -> None:
    a, b = torch.randn(2, 40, 3, 10, generator=gen(4))
    x = torch.cat([a, b, torch.linalg.cross(a, b, dim=1), a], dim=1)  # (40, 12, 10)
    out = augment.rotation_3d(x, generator=gen(), tri_axial=[(0, 1, 2), (3, 4, 5), (6, 7, 8), (9, 10, 11)])
    ra, rb, rc, ra2 = out.split(3, dim=1)
    assert torch.allclose(ra, ra2, atol=1e-6)  # the same R for every triple of a window
    assert torch.allclose(torch.linalg.cross(ra, rb, dim=1), rc, atol=1e-4)  # det R = +1: no reflection
    assert not torch.allclose(ra[0], ra[1])


def test_rotation_3d_with_zero_angle_is_identity() -> None:
    x = batch()
    assert torch.allclose(augment.rotation_3d(x, generator=gen(), tri_axial=[(0, 1, 2)], max_angle=0.0), x)


def test_rotation_3d_errors() -> None:
    with pytest.raises(DataError, match="names channel 9 but the windows have 6 channels"):
        augment.rotation_3d(batch(), generator=gen(), tri_axial=[(0, 1, 9)])
    with pytest.raises(ConfigError, match="tri_axial must be a non-empty list of channel index triples"):
        augment.rotation_3d(batch(), generator=gen(), tri_axial=[])
    with pytest.raises(ConfigError, match="tri_axial must be a non-empty list"):
        augment.rotation_3d(batch(), generator=gen(), tri_axial=[(0, 1)])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="names a channel more than once"):
        augment.rotation_3d(batch(), generator=gen(), tri_axial=[(0, 1, 2), (2, 3, 4)])


# --- crop and resize --------------------------------------------------------------------------------


def test_crop_resize_of_a_constant_is_the_constant() -> None:
    x = torch.full((20, 3, 16), 2.5)
    assert torch.allclose(augment.crop_resize(x, generator=gen(), min_fraction=0.3), x)


def test_crop_resize_stretches_a_crop_of_the_ramp() -> None:
    t = 40
    ramp = torch.arange(t).double().expand(300, 2, t).contiguous()
    out = augment.crop_resize(ramp, generator=gen(), min_fraction=0.4)
    slope = out.diff(dim=2)  # a crop of a ramp, resized, is a ramp of slope f
    assert torch.allclose(slope, slope[:, :, :1].expand_as(slope), atol=1e-9)
    f = slope[:, 0, 0]
    assert bool(((f >= 0.4 - 1e-9) & (f <= 1 + 1e-9)).all()) and f.std() > 0.1
    assert bool((out[:, :, 0] >= 0).all() and (out[:, :, -1] <= t - 1 + 1e-9).all())
    assert torch.equal(augment.crop_resize(ramp, generator=gen(), min_fraction=1.0), ramp)


# --- masking ----------------------------------------------------------------------------------------


def test_masking_zeros_one_time_span_of_the_configured_fraction() -> None:
    x = torch.rand(500, 4, 40, generator=gen(2)) + 1.0
    out = augment.masking(x, generator=gen(), time_fraction=0.25)
    zero = out == 0
    assert torch.equal(zero, zero[:, :1].expand_as(zero))  # all channels of a step
    per_window = zero[:, 0].sum(dim=1)
    assert bool((per_window == 10).all())
    first = zero[:, 0].float().argmax(dim=1)
    span = torch.arange(40)[None, :]
    assert torch.equal(zero[:, 0], (span >= first[:, None]) & (span < first[:, None] + 10))  # contiguous
    assert int(first.min()) == 0 and int(first.max()) == 30  # every start is possible
    assert torch.equal(out[~zero], x[~zero])


def test_masking_channels_and_both() -> None:
    x = torch.rand(2000, 10, 20, generator=gen(2)) + 1.0
    out = augment.masking(x, generator=gen(), time_fraction=0.0, channel_fraction=0.3)
    zero_channels = (out == 0).all(dim=2)
    assert bool((zero_channels.sum(dim=1) == 3).all()) and bool(
        ((out == 0).any(dim=2) == zero_channels).all()
    )
    both = augment.masking(x, generator=gen(), time_fraction=0.2, channel_fraction=0.3)
    frac = (both == 0).float().mean().item()
    assert abs(frac - (1 - 0.8 * 0.7)) < 0.01
    assert torch.equal(augment.masking(x, generator=gen(), time_fraction=0.0), x)


# --- parameter validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("noise", {"sigma": -0.1}, r"noise: sigma must be a finite number >= 0, got -0.1"),
        ("scaling", {"sigma": float("nan")}, r"scaling: sigma must be a finite number >= 0, got nan"),
        ("negation", {"p": 1.5}, r"negation: p must be a probability in \[0, 1\], got 1.5"),
        ("time_flip", {"p": True}, r"time_flip: p must be a probability in \[0, 1\], got True"),
        ("time_segment_permutation", {"n_segments": 0}, r"n_segments must be an integer >= 1, got 0"),
        ("time_warp", {"n_knots": 2.5}, r"time_warp: n_knots must be an integer >= 0, got 2.5"),
        ("time_warp", {"per_channel": 1}, r"time_warp: per_channel must be true or false, got 1"),
        (
            "rotation_3d",
            {"tri_axial": [(0, 1, 2)], "max_angle": 200},
            r"max_angle must be an angle in degrees",
        ),
        ("crop_resize", {"min_fraction": 0.0}, r"crop_resize: min_fraction must be a fraction in \(0, 1\]"),
        (
            "masking",
            {"time_fraction": 1.2},
            r"masking: time_fraction must be a fraction in \[0, 1\], got 1.2",
        ),
        ("masking", {"channel_fraction": -1}, r"masking: channel_fraction must be a fraction in \[0, 1\]"),
    ],
)
def test_bad_parameters_raise_config_error(name: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        augment.AUGMENTATIONS[name](batch(), generator=gen(), **params)
    with pytest.raises(ConfigError, match=message):  # and already when the pipeline is built
        augment.build_augmentation([{name: params}])


# --- pipelines --------------------------------------------------------------------------------------


def test_presets() -> None:
    assert augment.build_augmentation("paper").steps == (
        ("scaling", {"sigma": 0.1}),
        ("negation", {"p": 1.0}),
    )
    assert [s for s, _ in augment.build_augmentation("default").steps] == [
        "scaling",
        "noise",
        "time_warp",
        "masking",
    ]
    x = batch()
    assert augment.build_augmentation("none")(x, gen()) is x
    assert augment.build_augmentation("noise").steps == (("noise", {}),)


def test_pipeline_applies_steps_in_order_with_one_generator() -> None:
    spec: list[str | Mapping[str, Any]] = [
        "scaling",
        {"time_warp": {"sigma": 0.3}},
        {"masking": {"time_fraction": 0.2}},
    ]
    x = batch()
    out = augment.build_augmentation(spec)(x, gen(11))
    g = gen(11)
    expected = augment.masking(
        augment.time_warp(augment.scaling(x, generator=g), generator=g, sigma=0.3),
        generator=g,
        time_fraction=0.2,
    )
    assert torch.equal(out, expected)


def test_paper_preset_negates_after_scaling() -> None:
    x = torch.rand(100, 4, 10, generator=gen(2)) + 1.0
    out = augment.build_augmentation("paper")(x, gen(3))
    expected = -augment.scaling(x, generator=gen(3), sigma=0.1)
    assert torch.equal(out, expected)


def test_tri_axial_is_passed_to_rotation_steps() -> None:
    aug = augment.build_augmentation(
        ["rotation_3d", {"rotation_3d": {"tri_axial": [(3, 4, 5)]}}], tri_axial=[(0, 1, 2)]
    )
    assert aug.steps[0][1]["tri_axial"] == [(0, 1, 2)]
    assert aug.steps[1][1]["tri_axial"] == [(3, 4, 5)]
    with pytest.raises(
        ConfigError, match=r"augmentation 'rotation_3d' needs parameter\(s\) tri_axial, got none"
    ):
        augment.build_augmentation(["rotation_3d"])


def test_spec_errors() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown augmentation or preset 'jitter'; allowed presets: paper.*noise"
    ):
        augment.build_augmentation("jitter")
    with pytest.raises(
        ConfigError, match=r"unknown augmentation 'jitter'; allowed: channel_shuffle, crop_resize"
    ):
        augment.build_augmentation(["scaling", "jitter"])
    with pytest.raises(
        ConfigError, match=r"augmentation 'noise' got unknown parameter 'sigm'; allowed: sigma"
    ):
        augment.build_augmentation([{"noise": {"sigm": 0.1}}])
    with pytest.raises(
        ConfigError, match=r"augmentation 'channel_shuffle' got unknown parameter 'p'; allowed: none"
    ):
        augment.build_augmentation([{"channel_shuffle": {"p": 0.5}}])
    with pytest.raises(ConfigError, match=r"augmentation 'noise': parameters must be a mapping, got 0.1"):
        augment.build_augmentation([{"noise": 0.1}])
    with pytest.raises(ConfigError, match=r"must be a name or a one-key mapping \{name: params\}"):
        augment.build_augmentation([{"noise": {}, "scaling": {}}])


def test_repr_lists_the_steps() -> None:
    assert repr(augment.build_augmentation("paper")) == "Augmentation([scaling(sigma=0.1), negation(p=1.0)])"


# --- views ------------------------------------------------------------------------------------------


def test_views_are_drawn_independently() -> None:
    x = torch.rand(4000, 2, 6, generator=gen(2)) + 1.0
    v1, v2 = augment.make_views(x, augment.build_augmentation("paper_fixed"), generator=gen())
    s1 = (v1[:, 0, 0] < 0).float()
    s2 = (v2[:, 0, 0] < 0).float()
    # each view is negated with p = 0.5; a draw shared by the views would make the signs always agree
    assert abs(s1.mean().item() - 0.5) < 0.03 and abs(s2.mean().item() - 0.5) < 0.03
    assert abs((s1 == s2).float().mean().item() - 0.5) < 0.03
    # the paper preset negates both views (p = 1) but their scale factors are independent draws
    p1, p2 = augment.make_views(x, augment.build_augmentation("paper"), generator=gen())
    f1, f2 = (p1 / x)[:, :, 0].flatten(), (p2 / x)[:, :, 0].flatten()
    assert bool((f1 < 0).all() and (f2 < 0).all())
    corr = torch.corrcoef(torch.stack([f1, f2]))[0, 1].item()
    assert abs(corr) < 0.05
    assert abs(f1.std().item() - 0.1) < 0.01 and abs(f2.std().item() - 0.1) < 0.01


def test_views_are_deterministic_given_the_seed() -> None:
    aug = augment.build_augmentation("default")
    x = batch()
    a = augment.make_views(x, aug, generator=gen(9))
    b = augment.make_views(x, aug, generator=gen(9))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[0], a[1])
