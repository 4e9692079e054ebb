"""The paper's 1D-CNN encoder for multichannel time series (``model.arch = "cnn"``, the default).

Input (N, C, T) -> blocks ``conv1``, ``conv2``, ``conv3`` (Conv1d, ReLU, Dropout) -> global max pool
over time -> (N, D) representation, D = the last block's width (96 in the paper).

With the paper's sizes (widths 32/64/96, kernels 24/16/8, stride 1, 'valid' padding) a MIMIC window
(C=76, T=48) gives activations of length 25, 10 and 3; the encoder has 140,480 parameters and, with the
classifier head, the whole model 153,154 (paper.md). Minimum window: sum(k - 1) + 1 steps with 'valid'
padding (46 for the paper's kernels), 1 with 'same'.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from torch import nn

from fairssl.errors import ConfigError
from fairssl.ssl.encoders.base import BlockEncoder

if TYPE_CHECKING:
    from fairssl.config_training import ModelConfig

LAYER_NAMES = ("conv1", "conv2", "conv3")
"""The paper's block names (three widths); an encoder's own ``layer_names`` are the ones to use."""


class ConvBlock(nn.Sequential):
    """Conv1d -> ReLU -> Dropout; its output (N, C_out, T_out) is the layer's activation."""

    def __init__(self, c_in: int, c_out: int, kernel: int, *, padding: str, dropout: float) -> None:
        super().__init__(
            nn.Conv1d(c_in, c_out, kernel_size=kernel, stride=1, padding=padding),
            nn.ReLU(),
            nn.Dropout(dropout),
        )
        nn.init.xavier_uniform_(self.conv.weight)  # Glorot-uniform as in the reference
        if self.conv.bias is not None:
            nn.init.zeros_(self.conv.bias)

    @property
    def conv(self) -> nn.Conv1d:
        return self[0]  # type: ignore[return-value]


class Encoder(BlockEncoder):
    """Conv blocks and a global max pool: (N, C, T) -> (N, widths[-1]).

    Blocks are named ``conv1``, ``conv2``, ... (the names setups, freezing and CKA refer to).
    """

    def __init__(
        self,
        in_channels: int,
        *,
        widths: Sequence[int] = (32, 64, 96),
        kernels: Sequence[int] = (24, 16, 8),
        padding: str = "valid",
        dropout: float = 0.1,
        n_steps: int | None = None,
    ) -> None:
        super().__init__()
        if len(widths) != len(kernels) or not widths:
            raise ConfigError(
                f"model.widths {list(widths)} and model.kernels {list(kernels)} must be non-empty and of "
                "equal length (one kernel per conv layer)"
            )
        if padding not in ("valid", "same"):
            raise ConfigError(f"model.padding must be 'valid' or 'same', got {padding!r}")
        if n_steps is not None and padding == "valid":
            remaining = n_steps
            for k in kernels:
                remaining -= k - 1
            if remaining < 1:
                raise ConfigError(
                    f"windows of {n_steps} steps are too short for 'valid' convolutions with kernels "
                    f"{list(kernels)} (need at least {sum(k - 1 for k in kernels) + 1}); "
                    "use model.padding = 'same' or smaller kernels"
                )
        c_in = in_channels
        self.layer_names = tuple(f"conv{i + 1}" for i in range(len(widths)))
        for name, width, kernel in zip(self.layer_names, widths, kernels, strict=True):
            self.add_module(name, ConvBlock(c_in, width, kernel, padding=padding, dropout=dropout))
            c_in = width
        self.out_dim = int(widths[-1])

    def blocks(self) -> list[ConvBlock]:  # type: ignore[override]
        return [getattr(self, name) for name in self.layer_names]


def build_cnn(in_channels: int, n_steps: int | None, model: ModelConfig) -> Encoder:
    """The CNN of ``model`` (widths, kernels, padding, dropout) for windows of ``in_channels`` x
    ``n_steps`` (None: length not checked)."""
    return Encoder(
        in_channels,
        widths=model.widths,
        kernels=model.kernels,
        padding=model.padding,
        dropout=model.dropout,
        n_steps=n_steps,
    )
