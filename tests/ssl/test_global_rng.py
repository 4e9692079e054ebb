"""Training leaves the caller's global random generators as they were (a notebook's own draws do not
depend on whether a model was trained in between), and its own numbers do not depend on them."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from fairssl.config import ModelConfig, PretrainConfig
from fairssl.runtime import keeps_global_rng
from fairssl.ssl.pretrain import pretrain


def _states() -> tuple[object, ...]:
    return random.getstate(), np.random.get_state()[1].tobytes(), torch.get_rng_state().numpy().tobytes()


def test_pretrain_restores_global_generators_and_ignores_them() -> None:
    X = np.random.default_rng(0).standard_normal((16, 2, 32)).astype(np.float32)
    model = ModelConfig(widths=[4, 4], kernels=[3, 3], projection=[8, 4])
    cfg = PretrainConfig(epochs=1, batch_size=8)
    random.seed(123)
    np.random.seed(123)
    torch.manual_seed(123)
    before = _states()
    a, _ = pretrain(X, None, model=model, config=cfg, seed=3)
    assert _states() == before
    torch.manual_seed(999)  # another global state: the training's numbers must not change
    b, _ = pretrain(X, None, model=model, config=cfg, seed=3)
    for (k, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(va, vb), k


def test_keeps_global_rng_restores_after_an_error() -> None:
    @keeps_global_rng
    def boom() -> None:
        torch.manual_seed(1)
        np.random.seed(1)
        raise ValueError("stop")

    torch.manual_seed(5)
    np.random.seed(5)
    before = _states()
    with pytest.raises(ValueError, match="stop"):
        boom()
    assert _states() == before


def test_finetune_restores_global_generators() -> None:
    from fairssl.config import FinetuneConfig
    from fairssl.finetune.setups import get_setup
    from fairssl.finetune.train import finetune

    rng = np.random.default_rng(1)
    X = rng.standard_normal((24, 2, 32)).astype(np.float32)
    y = np.tile([0, 1], 12)
    model = ModelConfig(widths=[4, 4], kernels=[3, 3], projection=[8, 4], head_hidden=8)
    torch.manual_seed(42)
    np.random.seed(42)
    before = _states()
    finetune(X, y, X, y, setup=get_setup("supervised"), model=model, config=FinetuneConfig(epochs=1), seed=0)
    assert _states() == before
