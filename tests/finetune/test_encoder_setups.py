"""Setups by block position for every architecture, frozen batch norm, a factory encoder end to end,
and one tiny pre-train + fine-tune per architecture."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from fairssl.config import FinetuneConfig, ModelConfig, PretrainConfig, build_config
from fairssl.errors import ConfigError
from fairssl.experiments.grid import expand, specs_by_variant
from fairssl.finetune.setups import get_setup
from fairssl.finetune.train import finetune
from fairssl.ssl.encoders import encoder_layer_names
from fairssl.ssl.pretrain import build_encoder, pretrain

PAPER_CNN = {  # the frozen tuples of the paper's setups before setups went by position
    "supervised": (),
    "0": (),
    "1-first": ("conv1",),
    "1-middle": ("conv2",),
    "2-first-middle": ("conv1", "conv2"),
    "2-first-last": ("conv1", "conv3"),
    "3": ("conv1", "conv2", "conv3"),
}


def test_the_paper_cnn_freezes_exactly_what_it_froze_before() -> None:
    names = encoder_layer_names(ModelConfig())
    for setup, frozen in PAPER_CNN.items():
        assert get_setup(setup, names).frozen == frozen
        if frozen:
            assert get_setup(f"random:{setup}", names).frozen == frozen
    assert get_setup("freeze:conv3, conv1", names).frozen == ("conv3", "conv1")


@pytest.mark.parametrize(
    ("names", "first", "middle", "last"),
    [
        (("a", "b", "c"), "a", "b", "c"),
        (("a", "b", "c", "d"), "a", "b", "d"),  # even depth: the lower middle
        (("a", "b", "c", "d", "e"), "a", "c", "e"),
    ],
)
def test_setups_resolve_by_position(names: tuple[str, ...], first: str, middle: str, last: str) -> None:
    def frozen(setup: str) -> tuple[str, ...]:
        return get_setup(setup, names).frozen

    assert frozen("1-first") == (first,) and frozen("1-middle") == (middle,)
    assert frozen("2-first-middle") == (first, middle) and frozen("2-first-last") == (first, last)
    assert frozen("3") == names == frozen("freeze:all") == get_setup("linear-probe", names).frozen
    assert frozen("random:2-first-last") == (first, last) and not get_setup("random:3", names).pretrained
    assert frozen("freeze:first") == (first,) and frozen("freeze:last") == (last,)
    assert frozen("freeze:middle") == (middle,)
    assert frozen("freeze:first-2") == names[:2] and frozen("freeze:last-2") == names[-2:]
    assert frozen(f"freeze:{names[1]},first,{names[0]}") == (names[1], names[0])  # each block once
    with pytest.raises(ConfigError, match=r"unknown layer\(s\) \['first-9'\]"):
        get_setup("freeze:first-9", names)


def test_paper_setups_need_enough_blocks() -> None:
    assert get_setup("2-first-last", ("x", "y")).frozen == ("x", "y")
    with pytest.raises(ConfigError, match=r"setup '1-middle' needs 3 distinct block positions, which this"):
        get_setup("1-middle", ("res1", "res2"))
    with pytest.raises(ConfigError, match=r"'3' freezes \['conv3'\], which this encoder lacks"):
        get_setup("random:3", ("conv1", "conv2"))


def task(n: int, seed: int, t: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(np.int64)
    X = rng.normal(size=(n, 3, t)).astype(np.float32)
    X[:, 0, t // 2 :] += 1.5 * y[:, None]
    return X, y


FT = FinetuneConfig(epochs=1, batch_size=16, patience=0, lr=0.5)


def test_a_frozen_resnet_block_keeps_its_batch_norm_statistics() -> None:
    model = ModelConfig(arch="resnet1d", widths=[6, 6, 8], kernels=[3, 3, 3], head_hidden=8)
    X, y = task(64, 0)
    Xv, yv = task(24, 1)
    torch.manual_seed(0)
    state = build_encoder(model, 3, 16).state_dict()
    net, _ = finetune(
        X,
        y,
        Xv,
        yv,
        setup=get_setup("1-first", encoder_layer_names(model)),
        model=model,
        config=FT,
        encoder_state=state,
        seed=0,
    )
    after = net.encoder.state_dict()
    for key in [k for k in state if "running_" in k or "num_batches" in k]:
        if key.startswith("res1."):  # frozen: statistics and counters untouched
            assert torch.equal(after[key], state[key]), key
        else:  # trained: statistics moved
            assert not torch.equal(after[key], state[key]), key
    assert torch.equal(after["res1.conv1.weight"], state["res1.conv1.weight"])
    assert not torch.equal(after["res2.conv1.weight"], state["res2.conv1.weight"])


FACTORY = """
from torch import nn


class Tiny(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv1d(c, 6, 3, padding=1), nn.ReLU())
        self.top = nn.Sequential(nn.Conv1d(6, 5, 3, padding=1), nn.BatchNorm1d(5), nn.ReLU())
        self.layer_names = ("stem", "top")
        self.out_dim = 5

    def blocks(self):
        return [self.stem, self.top]

    def forward(self, x):
        return self.top(self.stem(x)).mean(dim=2)


def build(in_channels, n_steps, model):
    return Tiny(in_channels)
"""


@pytest.fixture
def factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "lab_encoders.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "lab_encoders:build"
    sys.modules.pop("lab_encoders", None)


def test_a_factory_encoder_fine_tunes_with_position_setups(factory: str) -> None:
    model = ModelConfig(factory=factory, widths=[5], kernels=[3], head_hidden=8)
    names = encoder_layer_names(model)
    assert names == ("stem", "top")
    X, y = task(48, 2)
    Xv, yv = task(16, 3)
    torch.manual_seed(1)
    state = build_encoder(model, 3, 16).state_dict()
    net, result = finetune(
        X,
        y,
        Xv,
        yv,
        setup=get_setup("freeze:last", names),
        model=model,
        config=FT,
        encoder_state=state,
        seed=0,
    )
    assert type(net.encoder).__name__ == "Tiny" and len(result.history) == 1
    after = net.encoder.state_dict()
    assert torch.equal(after["top.0.weight"], state["top.0.weight"])  # frozen
    assert torch.equal(after["top.1.running_mean"], state["top.1.running_mean"])  # BN kept in eval
    assert not torch.equal(after["stem.0.weight"], state["stem.0.weight"])  # trained

    # the L2 penalty reaches the factory's trainable blocks: a strong l2_conv leaves the trained kernel
    # smaller than the same run without it
    def stem_norm(l2: float) -> float:
        cfg = FT.model_copy(update={"l2_conv": l2, "lr": 0.05, "optimizer": "sgd"})
        run, _ = finetune(
            X,
            y,
            Xv,
            yv,
            setup=get_setup("freeze:last", names),
            model=model,
            config=cfg,
            encoder_state=state,
            seed=0,
        )
        return float(run.encoder.stem[0].weight.norm())

    assert stem_norm(1.0) < stem_norm(0.0) - 1e-3


@pytest.mark.parametrize("arch", ["cnn", "resnet1d", "transformer"])
@pytest.mark.parametrize("method", ["simclr", "masked"])
def test_every_architecture_pretrains_and_fine_tunes(arch: str, method: str) -> None:
    model = ModelConfig(
        arch=arch,
        widths=[8, 8, 8],
        kernels=[5, 3, 3],
        padding="same",
        patch_length=4,
        heads=2,
        head_hidden=8,
        projection=[16, 8],
    )
    X, y = task(48, 4)
    Xv, yv = task(16, 5)
    config = PretrainConfig(
        method=method,
        epochs=2,
        batch_size=16,
        patience=0,
        augmentation="default",
        objective={"patch_length": 4} if method == "masked" else {},
    )
    encoder, res = pretrain(X, Xv, model=model, config=config, seed=0)
    assert len(res.history) == 2 and all(np.isfinite(h["train_loss"]) for h in res.history)
    names = encoder_layer_names(model)
    assert encoder.layer_names == names
    net, result = finetune(
        X,
        y,
        Xv,
        yv,
        setup=get_setup("2-first-last", names),
        model=model,
        config=FT,
        encoder_state=encoder.state_dict(),
        seed=0,
    )
    assert np.isfinite(result.history[0]["val_loss"])
    for name in (names[0], names[-1]):  # first and last frozen: bit-identical to the pre-trained blocks
        block = encoder.state_dict()
        for key, value in getattr(net.encoder, name).state_dict().items():
            assert torch.equal(value, block[f"{name}.{key}"]), (name, key)


def _model_payloads(specs) -> list[dict]:
    return [s.payload["model"] for s in specs]


def test_cnn_run_ids_are_as_before_and_arch_is_a_grid_axis() -> None:
    base = {"seeds": [0], "finetune": {"setups": ["supervised", "2-first-last"]}}
    specs = expand(build_config(base))
    old_keys = {"widths", "kernels", "padding", "dropout", "head_hidden", "head_dropout", "projection"}
    assert all(set(m) == old_keys for m in _model_payloads(specs))  # ids hash exactly what they hashed
    explicit = expand(build_config({**base, "model": {"arch": "cnn", "factory": None}}))
    assert [s.run_id for s in explicit] == [s.run_id for s in specs]
    grid = expand(build_config({**base, "grid": {"model.arch": ["cnn", "resnet1d", "transformer"]}}))
    by_variant = specs_by_variant(grid)
    assert [s.run_id for s in by_variant["model.arch=cnn"]] == [s.run_id for s in specs]
    ids = [{s.run_id for s in v} for v in by_variant.values()]
    assert not (ids[0] & ids[1]) and not (ids[1] & ids[2]) and not (ids[0] & ids[2])
    assert by_variant["model.arch=resnet1d"][0].payload["model"]["arch"] == "resnet1d"


@pytest.mark.parametrize("arch", ["resnet1d", "transformer"])
def test_pretraining_resumes_bit_for_bit_for_every_architecture(arch: str, tmp_path: Path) -> None:
    """Batch-norm running statistics and every block's weights come back from the checkpoint."""
    model = ModelConfig(arch=arch, widths=[8, 8], kernels=[3, 3], heads=2, patch_length=4, projection=[8])
    X, _ = task(48, 6)
    Xv, _ = task(16, 7)
    config = PretrainConfig(epochs=3, batch_size=16, patience=0, augmentation="default")
    full, full_res = pretrain(X, Xv, model=model, config=config, seed=3)
    ckpt = tmp_path / "ckpt.pt"

    def stop_after_one(_row: dict[str, float]) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pretrain(X, Xv, model=model, config=config, seed=3, checkpoint=ckpt, on_epoch=stop_after_one)
    resumed, res = pretrain(X, Xv, model=model, config=config, seed=3, checkpoint=ckpt)
    assert res.resumed_from == 1
    assert [h["train_loss"] for h in res.history] == [h["train_loss"] for h in full_res.history]
    for key, value in full.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_the_report_reads_layer_names_from_the_configured_encoder(tmp_path: Path) -> None:
    import pandas as pd

    from fairssl.report.inputs import layer_names

    (tmp_path / "config.toml").write_text('[model]\narch = "resnet1d"\nwidths = [8, 8]\nkernels = [3, 3]\n')
    assert layer_names(tmp_path, pd.DataFrame()) == ["res1", "res2"]
    (tmp_path / "config.toml").write_text('[model]\nfactory = "fairssl_no_such_mod:build"\n')
    assert layer_names(tmp_path, pd.DataFrame()) == ["conv1", "conv2", "conv3"]  # unreadable: the default
