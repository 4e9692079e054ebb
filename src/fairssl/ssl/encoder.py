"""The paper's 1D-CNN encoder for multichannel time series.

Input (N, C, T) -> three blocks ``conv1``, ``conv2``, ``conv3`` (Conv1d, ReLU, Dropout) -> global max
pool over time -> (N, D) representation, D = the last block's width (96 in the paper).

With the paper's sizes (widths 32/64/96, kernels 24/16/8, stride 1, 'valid' padding) a MIMIC window
(C=76, T=48) gives activations of length 25, 10 and 3; the encoder has 140,480 parameters and, with the
classifier head, the whole model 153,154 (paper.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from fairssl.errors import ConfigError

if TYPE_CHECKING:
    from fairssl.config import ModelConfig

LAYER_NAMES = ("conv1", "conv2", "conv3")


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


class Encoder(nn.Module):
    """Three conv blocks and a global max pool: (N, C, T) -> (N, widths[-1]).

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
        self.layer_names: tuple[str, ...] = tuple(f"conv{i + 1}" for i in range(len(widths)))
        for name, width, kernel in zip(self.layer_names, widths, kernels, strict=True):
            self.add_module(name, ConvBlock(c_in, width, kernel, padding=padding, dropout=dropout))
            c_in = width
        self.out_dim = int(widths[-1])

    def blocks(self) -> list[ConvBlock]:
        return [getattr(self, name) for name in self.layer_names]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks():
            x = block(x)  # (N, C_i, T_i)
        return x.amax(dim=2)  # (N, D): global max pool over time


# ---------------------------------------------------------------------------------------------- input length
def _needed_input(layer: Any, out_len: int) -> int:
    """The shortest input giving ``out_len`` output steps through one Conv1d/MaxPool1d/AvgPool1d layer.

    PyTorch's length rule L_out = floor((L_in + 2p - d (k - 1) - 1) / s) + 1 inverted for the smallest
    L_in: (L_out - 1) s + d (k - 1) + 1 - 2p (at least 1); ``padding='same'`` keeps the length.
    """

    def first(v: Any) -> int:
        return int(v[0]) if isinstance(v, (tuple, list)) else int(v)

    padding = layer.padding
    if padding == "same":
        return out_len
    k, s, d = first(layer.kernel_size), first(layer.stride or 1), first(getattr(layer, "dilation", 1))
    p = 0 if padding == "valid" else first(padding)
    return max(1, (out_len - 1) * s + d * (k - 1) + 1 - 2 * p)


def min_input_length(model: ModelConfig) -> int:
    """The fewest time steps T a window needs so that every layer of the encoder of ``model`` gives at
    least one step (the global max pool needs one). Read from the built encoder's layers, so strides,
    dilations and pooling layers count as they are. Paper sizes (kernels 24/16/8, 'valid'): 46."""
    encoder = Encoder(1, widths=model.widths, kernels=model.kernels, padding=model.padding, dropout=0.0)
    layers = [m for m in encoder.modules() if isinstance(m, (nn.Conv1d, nn.MaxPool1d, nn.AvgPool1d))]
    need = 1
    for layer in reversed(layers):  # from one output step of the last layer back to the input
        need = _needed_input(layer, need)
    return need


def check_input_length(model: ModelConfig, n_steps: int, *, window_key: str | None = None) -> None:
    """ConfigError (one line) unless windows of ``n_steps`` steps fit the encoder of ``model``.

    Call it once the data are loaded and before any training. ``window_key`` names the setting that
    sets the window length for the study's source (:func:`fairssl.loader_options.window_key`, e.g.
    ``data.options.window``); without it the message names the usual ones.
    """
    need = min_input_length(model)
    if n_steps >= need:
        return
    where = (
        f"set by {window_key}"
        if window_key
        else "set by data.options.window for the long source, data.simulate.n_steps for the simulator"
    )
    same = " or model.padding = 'same'" if model.padding == "valid" else ""
    raise ConfigError(
        f"windows of {n_steps} steps are too short for the encoder: model.kernels {list(model.kernels)} "
        f"with padding '{model.padding}' need at least {need} steps; use windows of at least {need} steps "
        f"({where}), smaller model.kernels{same}"
    )
