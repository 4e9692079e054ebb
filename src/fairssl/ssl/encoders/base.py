"""The encoder seam: ordered named blocks and a pooled representation.

An encoder is an ``nn.Module`` that maps windows (N, C, T) to a representation (N, D) and exposes

============================  ==============================================================================
``layer_names``               tuple of block names, input to output (setups, freezing and CKA refer to them)
``blocks()``                  the blocks in that order; ``getattr(encoder, name)`` is the block ``name``
``out_dim``                   D, the width of the representation the classifier head reads
``forward(x)``                (N, C, T) -> (N, D)
============================  ==============================================================================

Every block's output is that layer's activation (captured by forward hooks on the block for CKA and the
probes), shaped (N, C_i, T_i) like a convolution's, so code written for the CNN reads every architecture.
The built-in encoders run their blocks one after the other and take the global max over time of the last
block's output (:func:`global_max_pool`); the masked objective relies on that composition.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fairssl.errors import ConfigError


class BlockEncoder(nn.Module):
    """Base of the built-in encoders: blocks registered under their names, applied in order, then the
    global max over time: (N, C, T) -> blocks -> (N, D, T') -> (N, D)."""

    layer_names: tuple[str, ...]
    out_dim: int

    def blocks(self) -> list[nn.Module]:
        return [getattr(self, name) for name in self.layer_names]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks():
            x = block(x)  # (N, C_i, T_i)
        return global_max_pool(x)


def global_max_pool(x: torch.Tensor) -> torch.Tensor:
    """(N, D, T') -> (N, D): the maximum over time of every feature."""
    return x.amax(dim=2)


def penalised_weights(block: nn.Module) -> list[torch.Tensor]:
    """The weights of ``block`` that the fine-tuning L2 penalty (``finetune.l2_conv``) covers: every
    parameter with two or more dimensions (convolution kernels, linear and attention matrices), in
    registration order; biases and normalisation scales are left out. For a CNN block: its kernel."""
    return [p for p in block.parameters() if p.dim() >= 2]


def check_encoder(encoder: Any, *, source: str) -> BlockEncoder:
    """``encoder`` if it satisfies the seam, else a one-line ConfigError naming what is missing.

    ``source`` says where it came from (e.g. ``model.factory = 'pkg.mod:fn'``). The seam is checked
    structurally, so an encoder need not subclass :class:`BlockEncoder`.
    """
    what = type(encoder).__name__
    if not isinstance(encoder, nn.Module):
        problem = f"returned a {what}, not a torch.nn.Module"
    elif not _is_names(getattr(encoder, "layer_names", None)):
        problem = f"returned a {what} without layer_names (a non-empty tuple of distinct block names)"
    elif not callable(getattr(encoder, "blocks", None)):
        problem = f"returned a {what} without a blocks() method (the blocks in layer_names order)"
    elif not isinstance(out_dim := getattr(encoder, "out_dim", None), int) or out_dim < 1:
        problem = f"returned a {what} without out_dim (a positive int, the representation's width D)"
    else:
        problem = _blocks_problem(encoder)
    if problem:
        raise ConfigError(
            f"{source} {problem}; an encoder needs layer_names, blocks(), out_dim and forward (N, C, T) -> "
            "(N, out_dim), with getattr(encoder, name) the block of each name"
        )
    return encoder


def _is_names(names: Any) -> bool:
    return (
        isinstance(names, (tuple, list))
        and len(names) > 0
        and all(isinstance(n, str) and n for n in names)
        and len(set(names)) == len(names)
    )


def _blocks_problem(encoder: nn.Module) -> str:
    names = tuple(encoder.layer_names)  # type: ignore[arg-type]
    blocks = list(encoder.blocks())  # type: ignore[operator]
    if len(blocks) != len(names):
        return f"has {len(names)} layer_names but blocks() gives {len(blocks)} blocks"
    for name, block in zip(names, blocks, strict=True):
        if getattr(encoder, name, None) is not block or not isinstance(block, nn.Module):
            return f"has no submodule attribute {name!r} that is blocks()[{names.index(name)}]"
    return ""
