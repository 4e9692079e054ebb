"""Freezing encoder layers: no gradient, out of the optimiser, normalisation layers kept in eval.

Dropout in a frozen layer stays active in training (as in the paper's reference); only batch/instance
normalisation is put in eval so its running statistics do not move.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch
from torch import nn

_NORM_TYPES = (
    nn.modules.batchnorm._BatchNorm,
    nn.GroupNorm,
    nn.LayerNorm,
    nn.modules.instancenorm._InstanceNorm,
)


def freeze(module: nn.Module) -> None:
    """Set ``requires_grad = False`` on every parameter of ``module``."""
    for p in module.parameters():
        p.requires_grad_(False)


def unfreeze(
    module: nn.Module, optimizer: torch.optim.Optimizer | None = None, *, lr: float | None = None
) -> None:
    """Make ``module`` trainable again and, given an optimiser, add its parameters as a new group."""
    params = list(module.parameters())
    for p in params:
        p.requires_grad_(True)
    if optimizer is not None and params:
        group: dict[str, object] = {"params": params}
        if lr is not None:
            group["lr"] = lr
        optimizer.add_param_group(group)


def trainable_parameters(model: nn.Module) -> Iterator[nn.Parameter]:
    """The parameters the optimiser should see (frozen ones left out)."""
    return (p for p in model.parameters() if p.requires_grad)


def is_frozen(module: nn.Module) -> bool:
    params = list(module.parameters())
    return bool(params) and not any(p.requires_grad for p in params)


def set_train_mode(model: nn.Module, frozen_modules: Iterable[nn.Module]) -> None:
    """``model.train()``, then put normalisation layers inside frozen modules back in eval."""
    model.train()
    for module in frozen_modules:
        for sub in module.modules():
            if isinstance(sub, _NORM_TYPES):
                sub.eval()
