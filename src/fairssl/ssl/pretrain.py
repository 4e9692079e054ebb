"""SimCLR pre-training of the encoder on unlabelled windows.

Fixes of the reference (paper.md, defects 2 and 3): the learning rate follows a cosine decay over the
*configured* number of epochs (``epochs * steps_per_epoch`` steps), so every epoch trains; the two views
are augmented independently. Early stopping watches the NT-Xent of the validation windows (patience in
epochs; the best encoder is restored). A checkpoint is written atomically after every epoch and a run
that finds one resumes from it, bit-for-bit: model, optimiser, schedule, RNG and early-stopping state.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fairssl.config import ModelConfig, PretrainConfig
from fairssl.runtime import seed_everything
from fairssl.ssl.augment import build_augmentation, make_views
from fairssl.ssl.encoder import Encoder
from fairssl.ssl.heads import ProjectionHead
from fairssl.ssl.ntxent import nt_xent

EpochCallback = Callable[[dict[str, float]], None]


@dataclass
class PretrainResult:
    """What pre-training did: per-epoch history, the epoch kept, whether it stopped early."""

    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    resumed_from: int = 0


def build_encoder(model: ModelConfig, in_channels: int, n_steps: int) -> Encoder:
    """The encoder of ``model`` for windows of ``in_channels`` x ``n_steps``."""
    return Encoder(
        in_channels,
        widths=model.widths,
        kernels=model.kernels,
        padding=model.padding,
        dropout=model.dropout,
        n_steps=n_steps,
    )


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
    """Pre-train an encoder with SimCLR on ``X_train`` (N, C, T); returns the best encoder (on CPU).

    ``X_val`` (M, C, T) drives early stopping (validation NT-Xent, lower is better). A good run shows
    the training loss falling well below log(2B - 1) (the loss of random embeddings, 5.5 for B = 128).
    """
    device = torch.device(device)
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

    result = PretrainResult()
    best_state = {k: v.detach().clone() for k, v in encoder.state_dict().items()}
    best_val, bad_epochs, start_epoch = math.inf, 0, 0
    if checkpoint is not None and checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=False)
        encoder.load_state_dict(state["encoder"])
        head.load_state_dict(state["head"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        best_state, best_val, bad_epochs = state["best_state"], state["best_val"], state["bad_epochs"]
        result = state["result"]
        start_epoch = result.resumed_from = len(result.history)

    def loss_of(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        v1, v2 = make_views(x, augmentation, generator=gen)
        return nt_xent(head(encoder(v1)), head(encoder(v2)), temperature=config.temperature)

    for epoch in range(start_epoch, config.epochs):
        if result.stopped_early:
            break
        encoder.train()
        head.train()
        total, count = 0.0, 0
        for idx in batches(X_train.shape[0], bs, generator, shuffle=True, drop_last=True):
            x = batch_tensor(X_train, idx, device)
            loss = loss_of(x, generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        row: dict[str, float] = {
            "epoch": float(epoch + 1),
            "train_loss": total / max(count, 1),
            "lr": float(scheduler.get_last_lr()[0]),
        }
        if X_val is not None and len(X_val) >= 2:
            row["val_loss"] = _validation_loss(X_val, bs, loss_of, val_generator, seed, device, encoder, head)
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
                    "encoder": encoder.state_dict(),
                    "head": head.state_dict(),
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


def _validation_loss(
    X_val: np.ndarray,
    bs: int,
    loss_of: Callable[[torch.Tensor, torch.Generator], torch.Tensor],
    generator: torch.Generator,
    seed: int,
    device: torch.device,
    *modules: nn.Module,
) -> float:
    """Mean NT-Xent on the validation windows with fixed augmentation draws (comparable across epochs)."""
    for m in modules:
        m.eval()
    generator.manual_seed(seed + 1)
    total, count = 0.0, 0
    with torch.no_grad():
        for idx in batches(X_val.shape[0], bs, generator, shuffle=False, drop_last=False):
            if len(idx) < 2:
                continue
            total += float(loss_of(batch_tensor(X_val, idx, device), generator)) * len(idx)
            count += len(idx)
    return total / max(count, 1)
