from __future__ import annotations

import contextlib
import itertools
import math

import numpy as np
import pytest
import torch

from fairssl.config import ModelConfig, PretrainConfig
from fairssl.ssl.pretrain import cosine_lambda, pretrain

MODEL = ModelConfig(widths=[8, 8, 8], kernels=[5, 3, 3], projection=[16, 8])


def data(n: int = 96, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3, 20)).astype(np.float32)


def test_cosine_schedule_spans_the_configured_length() -> None:
    f = cosine_lambda(100)
    assert f(0) == 1.0 and abs(f(50) - 0.5) < 1e-12 and f(100) == 0.0
    assert f(99) > 0  # the last step still trains (the reference hit 0 after 1,000 steps)


def test_trains_for_every_configured_epoch_and_lr_reaches_zero_at_the_end() -> None:
    cfg = PretrainConfig(epochs=4, batch_size=32, patience=0, augmentation="default")
    _, res = pretrain(data(), data(40, 1), model=MODEL, config=cfg, seed=0)
    assert len(res.history) == 4
    lrs = [h["lr"] for h in res.history]
    assert all(a > b for a, b in itertools.pairwise(lrs)) and math.isclose(lrs[-1], 0.0, abs_tol=1e-12)
    assert res.history[-1]["train_loss"] < res.history[0]["train_loss"]


def test_deterministic_given_seed() -> None:
    cfg = PretrainConfig(epochs=2, batch_size=32)
    a, ra = pretrain(data(), data(40, 1), model=MODEL, config=cfg, seed=7)
    b, rb = pretrain(data(), data(40, 1), model=MODEL, config=cfg, seed=7)
    for (ka, va), (_kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(va, vb), ka
    assert ra.history == rb.history


def test_resume_from_checkpoint_equals_an_uninterrupted_run(tmp_path) -> None:
    full_cfg = PretrainConfig(epochs=4, batch_size=32, patience=0)
    full, full_res = pretrain(data(), data(40, 1), model=MODEL, config=full_cfg, seed=3)
    ckpt = tmp_path / "ckpt.pt"
    # "Interrupt" after 2 epochs: a run configured for 4 that is stopped early leaves its checkpoint.
    calls = {"n": 0}

    def stop_after_two(row: dict[str, float]) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt

    with contextlib.suppress(KeyboardInterrupt):
        pretrain(
            data(),
            data(40, 1),
            model=MODEL,
            config=full_cfg,
            seed=3,
            checkpoint=ckpt,
            on_epoch=stop_after_two,
        )
    assert ckpt.is_file()
    resumed, res = pretrain(data(), data(40, 1), model=MODEL, config=full_cfg, seed=3, checkpoint=ckpt)
    assert res.resumed_from == 2 and len(res.history) == 4
    for key, value in full.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    assert [h["train_loss"] for h in res.history] == [h["train_loss"] for h in full_res.history]


def test_early_stopping_on_validation_loss_restores_the_best_epoch() -> None:
    cfg = PretrainConfig(epochs=30, batch_size=32, patience=1, lr=0.5)
    _, res = pretrain(data(), data(40, 1), model=MODEL, config=cfg, seed=0)
    vals = [h["val_loss"] for h in res.history]
    assert res.best_epoch == int(np.argmin(vals)) + 1
    if res.stopped_early:
        assert len(vals) - res.best_epoch == 1


def test_rotation_uses_the_configured_tri_axial_channels() -> None:
    cfg = PretrainConfig(epochs=1, batch_size=32, augmentation=["rotation_3d"], tri_axial=[(0, 1, 2)])
    _, res = pretrain(data(), None, model=MODEL, config=cfg, seed=0)
    assert len(res.history) == 1
    from fairssl.errors import ConfigError

    with pytest.raises(ConfigError, match="tri_axial"):
        pretrain(
            data(), None, model=MODEL, config=PretrainConfig(epochs=1, augmentation=["rotation_3d"]), seed=0
        )
