"""A residual 1D-CNN with batch normalisation (``model.arch = "resnet1d"``).

One residual block per ``model.widths`` entry, named ``res1``, ``res2``, ...; block i uses kernel
``model.kernels[i]``. Block i > 1 first halves the time axis (MaxPool1d(2)), then

    y = ReLU(BN(conv_k(ReLU(BN(conv_k(x))))) + shortcut(x)),   then Dropout(model.dropout)

with 'same'-padded convolutions (``model.padding`` does not apply: a residual sum needs equal lengths)
and ``shortcut`` the identity, or a 1x1 convolution with batch norm when the width changes. Block i's
activation is (N, widths[i], T / 2^(i-1)); the representation is the global max over time of the last
one, (N, widths[-1]). A window needs at least 2^(k-1) steps for k blocks (4 for three). Even kernels
(the paper's 24/16/8) pad one step more on the right; PyTorch warns once that this copies the input,
odd kernels avoid the copy.

Batch norm is why this encoder exists next to the paper's CNN: a frozen block's normalisation layers
stay in eval (:func:`fairssl.finetune.freezing.set_train_mode`), so their running statistics do not move
while fine-tuning updates the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from fairssl.ssl.encoders.base import BlockEncoder

if TYPE_CHECKING:
    from fairssl.config_training import ModelConfig


class ResidualBlock(nn.Module):
    """(N, c_in, T) -> (N, c_out, T / 2 if downsample else T): two conv-BN layers plus a shortcut."""

    def __init__(self, c_in: int, c_out: int, kernel: int, *, downsample: bool, dropout: float) -> None:
        super().__init__()
        self.pool = nn.MaxPool1d(2) if downsample else nn.Identity()
        self.conv1 = nn.Conv1d(c_in, c_out, kernel_size=kernel, padding="same", bias=False)
        self.bn1 = nn.BatchNorm1d(c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel_size=kernel, padding="same", bias=False)
        self.bn2 = nn.BatchNorm1d(c_out)
        self.shortcut: nn.Module = (
            nn.Identity()
            if c_in == c_out
            else nn.Sequential(nn.Conv1d(c_in, c_out, kernel_size=1, bias=False), nn.BatchNorm1d(c_out))
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(x)  # (N, c_in, T_i)
        h = torch.relu(self.bn1(self.conv1(x)))  # (N, c_out, T_i)
        h = self.bn2(self.conv2(h))  # (N, c_out, T_i)
        return self.dropout(torch.relu(h + self.shortcut(x)))  # (N, c_out, T_i)


class ResNet1D(BlockEncoder):
    """Residual blocks ``res1..resk`` and a global max pool: (N, C, T) -> (N, widths[-1])."""

    def __init__(
        self,
        in_channels: int,
        *,
        widths: list[int] | tuple[int, ...] = (32, 64, 96),
        kernels: list[int] | tuple[int, ...] = (24, 16, 8),
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.layer_names = tuple(f"res{i + 1}" for i in range(len(widths)))
        c_in = in_channels
        for i, (name, width, kernel) in enumerate(zip(self.layer_names, widths, kernels, strict=True)):
            self.add_module(name, ResidualBlock(c_in, width, kernel, downsample=i > 0, dropout=dropout))
            c_in = width
        self.out_dim = int(widths[-1])


def build_resnet1d(in_channels: int, n_steps: int | None, model: ModelConfig) -> ResNet1D:
    """The ResNet-1D of ``model`` (widths, kernels, dropout); ``n_steps`` is checked by
    :func:`fairssl.ssl.encoders.length.check_input_length`, not here."""
    return ResNet1D(in_channels, widths=model.widths, kernels=model.kernels, dropout=model.dropout)
