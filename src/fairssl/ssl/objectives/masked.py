"""Masked reconstruction: hide stretches of each window, rebuild them from the encoder's representation.

No views and no augmentation (``pretrain.augmentation`` is not used). Per batch x (B, C, T): the time
axis is cut into P = ceil(T / patch_length) contiguous patches (the last one may be shorter), and
k = round(mask_ratio * P) (halves up), kept within 1..P-1, patches per window are drawn uniformly at
random; their steps are set to 0 in every channel (M (B, T) the mask). The masked window goes
through the encoder's conv blocks F (the encoder before its global pool: (B, D, T')) and a decoder d
(:class:`fairssl.ssl.heads.ReconstructionHead`, (B, D, T') -> (B, C, T)), and the loss is the mean
squared error on the masked positions only::

    loss = sum_{b, c, t: M_bt} (d(F(x * (1 - M)))_bct - x_bct)^2 / (C * sum_{b, t} M_bt)

Range >= 0, lower is better; predicting each masked value by 0 scores the mean square of the
masked values (about 1 for standardised windows). Options (``pretrain.objective``): ``mask_ratio``
(0.5), ``patch_length`` (8 steps), ``decoder_hidden`` (256). Windows need at least 2 patches.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import Tensor

from fairssl.errors import ConfigError
from fairssl.objective_options import OBJECTIVE_OPTIONS
from fairssl.ssl.heads import ReconstructionHead
from fairssl.ssl.objectives.base import Objective, Option

if TYPE_CHECKING:
    from fairssl.config import ModelConfig, PretrainConfig
    from fairssl.ssl.encoder import Encoder


def patch_mask(
    n: int, n_steps: int, *, mask_ratio: float, patch_length: int, generator: torch.Generator
) -> Tensor:
    """(n, n_steps) bool, True on the masked steps: k of the P patches of each row (see module).

    Drawn on the generator's device: one U(0, 1) score per patch, the k lowest scores masked.
    """
    n_patches = math.ceil(n_steps / patch_length)
    k = min(max(math.floor(mask_ratio * n_patches + 0.5), 1), max(n_patches - 1, 1))
    scores = torch.rand((n, n_patches), generator=generator, device=generator.device)  # (n, P)
    chosen = scores.argsort(dim=1)[:, :k]  # (n, k) patch indices
    masked_patches = torch.zeros(n, n_patches, dtype=torch.bool, device=scores.device)
    masked_patches.scatter_(1, chosen, True)  # (n, P)
    patch_of_step = torch.arange(n_steps, device=scores.device) // patch_length  # (T,)
    return masked_patches[:, patch_of_step]  # (n, T)


def feature_map(encoder: Encoder, x: Tensor) -> Tensor:
    """The encoder's forward without its global pool: (B, C, T) -> the last block's (B, D, T')."""
    for block in encoder.blocks():
        x = block(x)  # (B, C_i, T_i)
    return x


def masked_mse(reconstruction: Tensor, x: Tensor, mask: Tensor) -> Tensor:
    """Mean of (reconstruction - x)^2 over the masked positions: (B, C, T), (B, C, T), (B, T) bool."""
    weight = mask[:, None, :].to(x.dtype).expand_as(x)  # (B, C, T): 1 on masked steps, every channel
    return ((reconstruction - x).pow(2) * weight).sum() / weight.sum().clamp_min(1.0)


class Masked(Objective):
    """Masked reconstruction of contiguous time patches from the encoder's representation."""

    name = "masked"
    options: ClassVar[Mapping[str, Option]] = OBJECTIVE_OPTIONS["masked"]

    def __init__(
        self,
        encoder: Encoder,
        *,
        model: ModelConfig,
        config: PretrainConfig,
        window_shape: tuple[int, int],
    ) -> None:
        super().__init__(encoder, model=model, config=config, window_shape=window_shape)
        c, t = window_shape
        self.mask_ratio = float(self.settings["mask_ratio"])
        self.patch_length = int(self.settings["patch_length"])
        if math.ceil(t / self.patch_length) < 2:
            raise ConfigError(
                f"pretrain.objective.patch_length = {self.patch_length} leaves windows of {t} steps fewer "
                f"than 2 patches (nothing visible to reconstruct from); use patch_length <= {max(t // 2, 1)}"
            )
        was_training = encoder.training
        encoder.eval()  # no dropout: the shape probe draws no random numbers
        with torch.no_grad():
            d, t_out = feature_map(encoder, torch.zeros(1, c, t, device=self.device)).shape[1:]
        encoder.train(was_training)
        hidden = int(self.settings["decoder_hidden"])
        self.trainable["decoder"] = ReconstructionHead(d * t_out, c, t, hidden=hidden).to(self.device)

    def loss(self, encoder: Encoder, x: Tensor, generator: torch.Generator) -> Tensor:
        n, _, t = x.shape
        mask = patch_mask(
            n, t, mask_ratio=self.mask_ratio, patch_length=self.patch_length, generator=generator
        ).to(x.device)  # (B, T)
        hidden = x.masked_fill(mask[:, None, :], 0.0)  # (B, C, T): masked steps zeroed in every channel
        reconstruction = self.trainable["decoder"](feature_map(encoder, hidden))  # (B, C, T)
        return masked_mse(reconstruction, x, mask)
