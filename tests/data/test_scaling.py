"""Per-channel scaling with training statistics: numpy oracles, no test leakage, masks, clip, 'none'."""

from __future__ import annotations

import numpy as np
import pytest

from fairssl.data.scaling import fit_scaler, scale_train_fitted
from fairssl.errors import ConfigError


def _windows(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """X (60, 2, 5): channel 0 ~ N(25, 9.5) (a headache-diary score), channel 1 ~ N(0, 1);
    windows 40-59 are the test split, shifted by +30 on channel 0."""
    rng = np.random.default_rng(seed)
    X = np.stack([rng.normal(25, 9.5, size=(60, 5)), rng.normal(0, 1, size=(60, 5))], axis=1)
    split = np.array(["train"] * 30 + ["val"] * 10 + ["test"] * 20, dtype=object)
    X[40:, 0] += 30.0
    return X.astype(np.float32), split


def test_standard_uses_train_windows_only() -> None:
    X, split = _windows()
    out, info = scale_train_fitted(X, split, channel_names=["pain", "hr"])
    train = X[:30].astype(np.float64)
    mean, sd = train[:, 0].mean(), train[:, 0].std()  # oracle: numpy over the raw training windows
    np.testing.assert_allclose(out[:, 0], (X[:, 0] - mean) / sd, rtol=1e-5, atol=1e-5)
    assert out[:30, 0].mean() == pytest.approx(0.0, abs=1e-5) and out[:30, 0].std() == pytest.approx(
        1.0, 1e-5
    )
    assert out[40:, 0].mean() > 2.5  # the shifted test split stays shifted: its own statistics are unused
    assert info["scaling"] == "standard" and info["scaling_centre"]["pain"] == pytest.approx(mean)
    assert info["scaling_scale"]["pain"] == pytest.approx(sd) and out.dtype == np.float32


def test_mask_excludes_imputed_values_from_the_fit() -> None:
    X, split = _windows()
    mask = np.ones(X.shape, dtype=bool)
    X[:10, 0, :] = 0.0  # imputed zeros in ten training windows
    mask[:10, 0, :] = False
    out, info = scale_train_fitted(X, split, mask=mask)
    observed = X[10:30, 0].astype(np.float64)
    assert info["scaling_centre"]["0"] == pytest.approx(observed.mean())
    assert info["scaling_scale"]["0"] == pytest.approx(observed.std())
    np.testing.assert_allclose(out[0, 0], -observed.mean() / observed.std(), rtol=1e-5)  # filled too


def test_robust_and_clip_match_numpy() -> None:
    X, split = _windows()
    out, info = scale_train_fitted(X, split, method="robust", clip=2.0)
    train = X[:30, 0].astype(np.float64).ravel()
    lo, hi = np.percentile(train, [5, 95])
    expected = np.clip((X[:, 0] - np.median(train)) / (hi - lo), -2, 2)
    np.testing.assert_allclose(out[:, 0], expected, rtol=1e-5, atol=1e-6)
    assert np.abs(out).max() <= 2.0 and info["scaling_clip"] == 2.0


def test_none_returns_the_same_array() -> None:
    X, split = _windows()
    out, info = scale_train_fitted(X, split, method="none")
    assert out is X and info == {"scaling": "none", "scaling_clip": None}


def test_constant_training_channel_is_only_shifted_and_named() -> None:
    X, split = _windows()
    X[:30, 1] = 4.0
    out, info = scale_train_fitted(X, split, channel_names=["pain", "flat"])
    assert info["scaling_constant_channels"] == ["flat"]
    np.testing.assert_allclose(out[30:, 1], X[30:, 1] - 4.0, rtol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"method": "zscore"}, r"scaling = 'zscore' is not one of standard, robust, none"),
        ({"clip": 0.0}, r"clip = 0.0 must be a positive number"),
    ],
)
def test_bad_options(kwargs: dict, pattern: str) -> None:
    X, split = _windows()
    with pytest.raises(ConfigError, match=pattern):
        scale_train_fitted(X, split, **kwargs)


def test_fit_scaler_ignores_nan() -> None:
    x = np.array([[1.0, np.nan, 3.0]]).T  # (rows 3, C 1)
    scaler = fit_scaler(x, channel_axis=-1)
    assert scaler.centre[0] == 2.0 and scaler.scale[0] == 1.0
