"""Pre-training with every objective: SimCLR unchanged draw for draw, resume bit-exact, learning happens."""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
import torch

from fairssl.config import ModelConfig, PretrainConfig
from fairssl.errors import DataError
from fairssl.runtime import seed_everything
from fairssl.ssl.augment import build_augmentation, make_views
from fairssl.ssl.encoder import Encoder
from fairssl.ssl.heads import ProjectionHead
from fairssl.ssl.ntxent import nt_xent
from fairssl.ssl.objectives import OBJECTIVES, build_objective
from fairssl.ssl.pretrain import (
    batch_tensor,
    batches,
    build_encoder,
    cosine_lambda,
    pretrain,
    validation_loss,
)

MODEL = ModelConfig(widths=[8, 8], kernels=[5, 3], projection=[16, 8])


def windows(n: int, seed: int) -> np.ndarray:
    """(n, 3, 24) noisy sinusoids: per window a frequency, amplitude and phase; channel c lags by c rad."""
    rng = np.random.default_rng(seed)
    t = np.arange(24)
    freq = rng.uniform(1, 3, (n, 1, 1))
    amp = rng.uniform(0.5, 2.0, (n, 1, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1)) + np.arange(3.0)[None, :, None]
    x = amp * np.sin(2 * np.pi * freq * t / 24 + phase) + 0.1 * rng.normal(size=(n, 3, 24))
    return x.astype(np.float32)


def simclr_before_objectives(
    X_train: np.ndarray, X_val: np.ndarray, *, model: ModelConfig, config: PretrainConfig, seed: int
) -> tuple[Encoder, list[dict[str, float]]]:
    """The SimCLR loop of fairssl.ssl.pretrain as it was before objectives (checkpointing left out)."""
    device = torch.device("cpu")
    generator = seed_everything(seed)
    _n, c, t = X_train.shape
    encoder = build_encoder(model, c, t).to(device)
    head = ProjectionHead(encoder.out_dim, model.projection).to(device)
    params = [*encoder.parameters(), *head.parameters()]
    optimizer: torch.optim.Optimizer
    if config.optimizer == "sgd":
        optimizer = torch.optim.SGD(params, lr=config.lr, momentum=config.momentum)
    else:
        optimizer = torch.optim.Adam(params, lr=config.lr)
    bs = min(config.batch_size, X_train.shape[0])
    steps_per_epoch = max(1, X_train.shape[0] // bs)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_lambda(config.epochs * steps_per_epoch))
    augmentation = build_augmentation(config.augmentation, tri_axial=config.tri_axial)
    val_generator = torch.Generator()
    history: list[dict[str, float]] = []
    best_state = {k: v.detach().clone() for k, v in encoder.state_dict().items()}
    best_val, bad_epochs, stopped = math.inf, 0, False

    def loss_of(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        v1, v2 = make_views(x, augmentation, generator=gen)
        return nt_xent(head(encoder(v1)), head(encoder(v2)), temperature=config.temperature)

    for epoch in range(config.epochs):
        if stopped:
            break
        encoder.train()
        head.train()
        total, count = 0.0, 0
        for idx in batches(X_train.shape[0], bs, generator, shuffle=True, drop_last=True):
            loss = loss_of(batch_tensor(X_train, idx, device), generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        row = {
            "epoch": float(epoch + 1),
            "train_loss": total / count,
            "lr": float(scheduler.get_last_lr()[0]),
        }
        encoder.eval()
        head.eval()
        val_generator.manual_seed(seed + 1)
        vt, vc = 0.0, 0
        with torch.no_grad():
            for idx in batches(X_val.shape[0], bs, val_generator, shuffle=False, drop_last=False):
                if len(idx) < 2:
                    continue
                vt += float(loss_of(batch_tensor(X_val, idx, device), val_generator)) * len(idx)
                vc += len(idx)
        row["val_loss"] = vt / vc
        if row["val_loss"] < best_val - 1e-6:
            best_val, bad_epochs = row["val_loss"], 0
            best_state = {k: v.detach().clone() for k, v in encoder.state_dict().items()}
        else:
            bad_epochs += 1
            stopped = bool(config.patience and bad_epochs >= config.patience)
        history.append(row)
    encoder.load_state_dict(best_state)
    return encoder, history


@pytest.mark.parametrize(
    "config",
    [
        PretrainConfig(epochs=4, batch_size=32, patience=2, augmentation="default", momentum=0.9),
        PretrainConfig(epochs=3, batch_size=24, optimizer="adam", lr=3e-3, augmentation="paper"),
    ],
)
def test_simclr_is_the_loop_it_replaced_bit_for_bit(config: PretrainConfig) -> None:
    X_train, X_val = windows(80, 0), windows(30, 1)
    got, result = pretrain(X_train, X_val, model=MODEL, config=config, seed=5)
    want, history = simclr_before_objectives(X_train, X_val, model=MODEL, config=config, seed=5)
    assert result.history == history
    for key, value in want.state_dict().items():
        assert torch.equal(value, got.state_dict()[key]), key


def interrupted_then_resumed(config: PretrainConfig, ckpt, *, seed: int = 3) -> tuple[Encoder, list]:
    calls = {"n": 0}

    def stop_after_two(row: dict[str, float]) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt

    X_train, X_val = windows(64, 0), windows(24, 1)
    with contextlib.suppress(KeyboardInterrupt):
        pretrain(
            X_train, X_val, model=MODEL, config=config, seed=seed, checkpoint=ckpt, on_epoch=stop_after_two
        )
    assert ckpt.is_file()
    resumed, result = pretrain(X_train, X_val, model=MODEL, config=config, seed=seed, checkpoint=ckpt)
    assert result.resumed_from == 2 and len(result.history) == config.epochs
    return resumed, result.history


@pytest.mark.parametrize("method", sorted(OBJECTIVES))
def test_resume_from_checkpoint_equals_an_uninterrupted_run(method: str, tmp_path) -> None:
    config = PretrainConfig(
        method=method, epochs=4, batch_size=16, patience=0, optimizer="adam", lr=3e-3, augmentation="default"
    )
    full, full_result = pretrain(windows(64, 0), windows(24, 1), model=MODEL, config=config, seed=3)
    resumed, history = interrupted_then_resumed(config, tmp_path / "ckpt.pt")
    for key, value in full.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    assert history == full_result.history  # train and validation losses, epoch by epoch


def test_byol_checkpoint_holds_the_target_network(tmp_path) -> None:
    config = PretrainConfig(method="byol", epochs=1, batch_size=16, augmentation="default")
    pretrain(windows(32, 0), None, model=MODEL, config=config, seed=0, checkpoint=tmp_path / "c.pt")
    state = torch.load(tmp_path / "c.pt", weights_only=False)
    assert state["method"] == "byol"
    target = state["objective"]["frozen"]
    assert "encoder.conv1.0.weight" in target and "projector.0.weight" in target
    # after one epoch of EMA steps the target lags the online encoder: it is its own state
    assert not torch.equal(target["encoder.conv1.0.weight"], state["encoder"]["conv1.0.weight"])


def test_a_checkpoint_written_before_objectives_resumes(tmp_path) -> None:
    """Old checkpoints stored SimCLR's projection head under "head" and no method."""
    config = PretrainConfig(epochs=4, batch_size=16, patience=0, augmentation="default")
    full, _ = pretrain(windows(64, 0), windows(24, 1), model=MODEL, config=config, seed=3)
    ckpt = tmp_path / "ckpt.pt"
    calls = {"n": 0}

    def stop_after_two(row: dict[str, float]) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt

    with contextlib.suppress(KeyboardInterrupt):
        pretrain(windows(64, 0), windows(24, 1), model=MODEL, config=config, seed=3, checkpoint=ckpt,
                 on_epoch=stop_after_two)  # fmt: skip
    state = torch.load(ckpt, weights_only=False)
    trainable = state.pop("objective")["trainable"]
    del state["method"]
    state["head"] = {k.removeprefix("head."): v for k, v in trainable.items()}
    torch.save(state, ckpt)
    resumed, result = pretrain(
        windows(64, 0), windows(24, 1), model=MODEL, config=config, seed=3, checkpoint=ckpt
    )
    assert result.resumed_from == 2
    for key, value in full.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_a_checkpoint_of_another_method_is_refused(tmp_path) -> None:
    ckpt = tmp_path / "ckpt.pt"
    simclr = PretrainConfig(epochs=1, batch_size=16)
    pretrain(windows(32, 0), None, model=MODEL, config=simclr, seed=0, checkpoint=ckpt)
    vicreg = PretrainConfig(method="vicreg", epochs=2, batch_size=16)
    with pytest.raises(DataError, match=r"written by pretrain.method 'simclr', this run uses 'vicreg'"):
        pretrain(windows(32, 0), None, model=MODEL, config=vicreg, seed=0, checkpoint=ckpt)


@pytest.mark.parametrize(
    ("method", "drop"), [("simclr", 0.2), ("vicreg", 0.2), ("byol", 0.5), ("masked", 0.2)]
)
def test_pretraining_lowers_the_validation_loss_of_the_random_encoder(method: str, drop: float) -> None:
    """Validation loss of the random encoder and heads pre-training starts from (the same seed builds
    them), against the best epoch of 12: lower by at least ``drop`` (measured: SimCLR -36%, VICReg
    -35%, BYOL -99%, masked -36%)."""
    X_train, X_val = windows(128, 0), windows(48, 1)
    config = PretrainConfig(
        method=method, epochs=12, batch_size=32, patience=0, optimizer="adam", lr=1e-2, augmentation="default"
    )
    seed_everything(0)
    encoder = build_encoder(MODEL, 3, 24)
    objective = build_objective(method, encoder, model=MODEL, config=config, window_shape=(3, 24))
    cpu = torch.device("cpu")
    before = validation_loss(
        objective, encoder, X_val, batch_size=32, generator=torch.Generator(), seed=0, device=cpu
    )
    _, result = pretrain(X_train, X_val, model=MODEL, config=config, seed=0)
    losses = [h["val_loss"] for h in result.history]
    assert min(losses) < (1.0 - drop) * before, (before, losses)
