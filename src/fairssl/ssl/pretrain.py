"""Self-supervised pre-training of the encoder on unlabelled windows, with the objective of
``pretrain.method`` (:mod:`fairssl.ssl.objectives`: SimCLR by default, VICReg, BYOL, masked
reconstruction).

Fixes of the reference (paper.md, defects 2 and 3): the learning rate follows a cosine decay over the
*configured* number of epochs (``epochs * steps_per_epoch`` steps), so every epoch trains; the two views
are augmented independently. Early stopping watches the objective's loss on the validation windows, with
the same random draws every epoch (patience in epochs; the best encoder is restored). A checkpoint is
written atomically after every epoch and a run that finds one resumes from it, bit-for-bit: encoder,
the objective's modules (heads, BYOL's target), optimiser, schedule, RNG and early-stopping state.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from fairssl.config import ModelConfig, PretrainConfig
from fairssl.errors import DataError
from fairssl.runtime import keeps_global_rng, seed_everything
from fairssl.ssl import encoders
from fairssl.ssl.encoder import Encoder
from fairssl.ssl.objectives import Objective, build_objective

EpochCallback = Callable[[dict[str, float]], None]


@dataclass
class PretrainResult:
    """What pre-training did: per-epoch history, the epoch kept, whether it stopped early."""

    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    resumed_from: int = 0


def build_encoder(model: ModelConfig, in_channels: int, n_steps: int) -> Encoder:
    """The encoder of ``model`` (``model.arch`` or ``model.factory``, :mod:`fairssl.ssl.encoders`) for
    windows of ``in_channels`` x ``n_steps``. Typed as the CNN class, which the objectives and heads
    annotate; every architecture returned here has the same seam (blocks, ``layer_names``, ``out_dim``)."""
    return cast(Encoder, encoders.build_encoder(model, in_channels, n_steps))


def cosine_lambda(total_steps: int) -> Callable[[int], float]:
    """Multiplier of the base learning rate at step s: 0.5 (1 + cos(pi s / total)), reaching 0 at the end."""
    total = max(1, total_steps)
    return lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))


def batches(
    n: int, batch_size: int, generator: torch.Generator, *, shuffle: bool, drop_last: bool
) -> list[np.ndarray]:
    """Index batches (sorted within a batch, which keeps memory-mapped reads sequential)."""
    order = torch.randperm(n, generator=generator).numpy() if shuffle else np.arange(n)
    stop = (n // batch_size) * batch_size if drop_last and n >= batch_size else n
    return [np.sort(order[i : i + batch_size]) for i in range(0, stop, batch_size)]


def batch_tensor(X: np.ndarray, idx: np.ndarray, device: torch.device) -> torch.Tensor:
    """Rows ``idx`` of ``X`` (N, C, T; memmaps read only those rows) as a float32 tensor on ``device``."""
    return torch.from_numpy(np.ascontiguousarray(X[idx], dtype=np.float32)).to(device)


def _atomic_save(obj: Any, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


@keeps_global_rng
def pretrain(
    X_train: np.ndarray,
    X_val: np.ndarray | None,
    *,
    model: ModelConfig,
    config: PretrainConfig,
    seed: int = 0,
    device: torch.device | str = "cpu",
    checkpoint: Path | None = None,
    on_epoch: EpochCallback | None = None,
) -> tuple[Encoder, PretrainResult]:
    """Pre-train an encoder on ``X_train`` (N, C, T) with ``config.method``; returns the best encoder
    (on CPU).

    ``X_val`` (M, C, T) drives early stopping (the objective's validation loss, lower is better). A good
    SimCLR run shows the training loss falling well below log(2B - 1) (the loss of random embeddings,
    5.5 for B = 128); each objective's module states its own range.
    """
    device = torch.device(device)
    generator = seed_everything(seed)
    _n, c, t = X_train.shape
    encoder = build_encoder(model, c, t).to(device)
    objective = build_objective(config.method, encoder, model=model, config=config, window_shape=(c, t))
    params = [*encoder.parameters(), *objective.parameters()]
    optimizer: torch.optim.Optimizer
    if config.optimizer == "sgd":
        optimizer = torch.optim.SGD(params, lr=config.lr, momentum=config.momentum)
    else:
        optimizer = torch.optim.Adam(params, lr=config.lr)
    bs = min(config.batch_size, X_train.shape[0])
    steps_per_epoch = max(1, X_train.shape[0] // bs)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_lambda(config.epochs * steps_per_epoch))
    val_generator = torch.Generator()

    result = PretrainResult()
    best_state = {k: v.detach().clone() for k, v in encoder.state_dict().items()}
    best_val, bad_epochs, start_epoch = math.inf, 0, 0
    if checkpoint is not None and checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=False)
        written_by = state.get("method", "simclr")  # checkpoints from before objectives: SimCLR
        if written_by != config.method:
            raise DataError(
                f"checkpoint {checkpoint} was written by pretrain.method '{written_by}', this run uses "
                f"'{config.method}'; delete the checkpoint to start over"
            )
        encoder.load_state_dict(state["encoder"])
        objective.load_state_dict(state["objective"] if "objective" in state else _legacy_simclr(state))
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        best_state, best_val, bad_epochs = state["best_state"], state["best_val"], state["bad_epochs"]
        result = state["result"]
        start_epoch = result.resumed_from = len(result.history)

    for epoch in range(start_epoch, config.epochs):
        if result.stopped_early:
            break
        encoder.train()
        objective.train()
        total, count = 0.0, 0
        for idx in batches(X_train.shape[0], bs, generator, shuffle=True, drop_last=True):
            x = batch_tensor(X_train, idx, device)
            loss = objective.loss(encoder, x, generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            objective.after_step(encoder)
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        row: dict[str, float] = {
            "epoch": float(epoch + 1),
            "train_loss": total / max(count, 1),
            "lr": float(scheduler.get_last_lr()[0]),
        }
        if X_val is not None and len(X_val) >= 2:
            row["val_loss"] = validation_loss(
                objective, encoder, X_val, batch_size=bs, generator=val_generator, seed=seed, device=device
            )
            if row["val_loss"] < best_val - 1e-6:
                best_val, bad_epochs = row["val_loss"], 0
                best_state = {k: v.detach().clone() for k, v in encoder.state_dict().items()}
                result.best_epoch = epoch + 1
            else:
                bad_epochs += 1
                if config.patience and bad_epochs >= config.patience:
                    result.stopped_early = True
        else:
            best_state = {k: v.detach().clone() for k, v in encoder.state_dict().items()}
            result.best_epoch = epoch + 1
        result.history.append(row)
        if checkpoint is not None:
            _atomic_save(
                {
                    "method": config.method,
                    "encoder": encoder.state_dict(),
                    "objective": objective.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "generator": generator.get_state(),
                    "torch_rng": torch.get_rng_state(),
                    "best_state": best_state,
                    "best_val": best_val,
                    "bad_epochs": bad_epochs,
                    "result": result,
                },
                checkpoint,
            )
        if on_epoch is not None:
            on_epoch(row)
    encoder.load_state_dict(best_state)
    return encoder.cpu(), result


def validation_loss(
    objective: Objective,
    encoder: Encoder,
    X_val: np.ndarray,
    *,
    batch_size: int,
    generator: torch.Generator,
    seed: int,
    device: torch.device,
) -> float:
    """Mean objective loss on the validation windows (M, C, T), weighted by batch size, lower is better.

    Encoder and objective in eval mode, no gradient; ``generator`` is reseeded with ``seed + 1`` first,
    so every call draws the same views or masks (values are comparable across epochs). Batches of one
    window are skipped (no contrast or variance in them).
    """
    encoder.eval()
    objective.train(False)
    generator.manual_seed(seed + 1)
    total, count = 0.0, 0
    with torch.no_grad():
        for idx in batches(X_val.shape[0], batch_size, generator, shuffle=False, drop_last=False):
            if len(idx) < 2:
                continue
            total += float(objective.loss(encoder, batch_tensor(X_val, idx, device), generator)) * len(idx)
            count += len(idx)
    return total / max(count, 1)


def _legacy_simclr(state: dict[str, Any]) -> dict[str, Any]:
    """The objective state of a checkpoint written before objectives existed (SimCLR's head as "head")."""
    return {"trainable": {f"head.{k}": v for k, v in state["head"].items()}, "frozen": {}}
