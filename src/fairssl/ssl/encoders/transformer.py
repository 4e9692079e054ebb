"""A small Transformer encoder over time patches (``model.arch = "transformer"``).

The window (N, C, T) is cut into P = floor(T / p) patches of ``model.patch_length`` = p steps (the last
T mod p steps are left out); one block per ``model.widths`` entry, named ``layer1``, ``layer2``, ...:

    layer1:  Conv1d(C, w_1, kernel p, stride p) (a linear map of each patch) + sinusoidal position code,
             then a pre-norm TransformerEncoderLayer (``model.heads`` heads, feed-forward 2 w_1, GELU)
    layer i: Linear(w_{i-1}, w_i) when the width changes, then a TransformerEncoderLayer of width w_i

Every block's activation is returned as (N, w_i, P), features first like a convolution's, so CKA and the
probes that expect (N, C, T) read it unchanged; the representation is the global max over patches of
the last block, (N, widths[-1]). A window needs at least p steps (one patch); every width must be a
multiple of ``model.heads``. ``model.kernels`` and ``model.padding`` do not apply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from fairssl.errors import ConfigError
from fairssl.ssl.encoders.base import BlockEncoder

if TYPE_CHECKING:
    from fairssl.config_training import ModelConfig


def sinusoidal_positions(n_positions: int, width: int, *, device: torch.device | None = None) -> torch.Tensor:
    """(width, n_positions) position code: row 2j is sin(t / 10000^(2j / width)), row 2j+1 the cos."""
    t = torch.arange(n_positions, dtype=torch.float32, device=device)  # (P,)
    j = torch.arange(0, width, 2, dtype=torch.float32, device=device)  # (ceil(width / 2),)
    angles = t[None, :] / torch.pow(10000.0, j / width)[:, None]  # (ceil(width / 2), P)
    code = torch.stack([angles.sin(), angles.cos()], dim=1).reshape(-1, n_positions)  # interleaved
    return code[:width]  # (width, P)


class TransformerBlock(nn.Module):
    """(N, c_in, L) -> (N, width, P): an optional input map (patch embedding or width change), then one
    TransformerEncoderLayer over the P positions."""

    def __init__(
        self, c_in: int, width: int, *, heads: int, dropout: float, patch_length: int | None = None
    ) -> None:
        super().__init__()
        self.embed: nn.Module | None = None
        if patch_length is not None:  # first block: (N, C, T) -> (N, width, P)
            self.embed = nn.Conv1d(c_in, width, kernel_size=patch_length, stride=patch_length)
        self.project: nn.Module = nn.Identity() if c_in == width or patch_length else nn.Linear(c_in, width)
        self.layer = nn.TransformerEncoderLayer(
            width,
            heads,
            dim_feedforward=2 * width,
            dropout=dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.embed is not None:
            x = self.embed(x)  # (N, width, P)
            x = x + sinusoidal_positions(x.shape[2], x.shape[1], device=x.device)[None]
        h = self.project(x.transpose(1, 2))  # (N, P, width)
        return self.layer(h).transpose(1, 2)  # (N, width, P)


class PatchTransformer(BlockEncoder):
    """Patch embedding and Transformer blocks ``layer1..layerk``: (N, C, T) -> (N, widths[-1])."""

    def __init__(
        self,
        in_channels: int,
        *,
        widths: list[int] | tuple[int, ...] = (32, 64, 96),
        patch_length: int = 8,
        heads: int = 4,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        bad = [w for w in widths if w % heads]
        if bad:
            raise ConfigError(
                f"model.widths {list(widths)} has width(s) {bad} not divisible by model.heads = {heads}; "
                "every transformer width must be a multiple of the number of heads"
            )
        self.layer_names = tuple(f"layer{i + 1}" for i in range(len(widths)))
        c_in = in_channels
        for i, (name, width) in enumerate(zip(self.layer_names, widths, strict=True)):
            patch = patch_length if i == 0 else None
            self.add_module(
                name, TransformerBlock(c_in, width, heads=heads, dropout=dropout, patch_length=patch)
            )
            c_in = width
        self.out_dim = int(widths[-1])
        self.patch_length = patch_length


def build_transformer(in_channels: int, n_steps: int | None, model: ModelConfig) -> PatchTransformer:
    """The patch Transformer of ``model`` (widths, patch_length, heads, dropout); ``n_steps`` is checked
    by :func:`fairssl.ssl.encoders.length.check_input_length`, not here."""
    return PatchTransformer(
        in_channels,
        widths=model.widths,
        patch_length=model.patch_length,
        heads=model.heads,
        dropout=model.dropout,
    )
