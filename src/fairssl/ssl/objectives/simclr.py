"""SimCLR (Chen et al. 2020): two augmented views, a projection head, NT-Xent.

Per batch x (B, C, T): two views drawn independently with ``pretrain.augmentation``
(:func:`fairssl.ssl.augment.make_views`), z_v = g(f(view_v)) with the encoder f and the projection
head g (``model.projection`` widths, (B, D) -> (B, P)), and the loss is
:func:`fairssl.ssl.ntxent.nt_xent` (z_1, z_2) at ``pretrain.temperature``. No options.

Loss range: >= 0, lower is better; about log(2B - 1) for uninformative projections (5.5 at B = 128).
This is the pre-training of the paper and of every fairssl version before objectives existed, draw
for draw: the same modules built in the same order, the same random draws, the same arithmetic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from fairssl.ssl.augment import build_augmentation, make_views
from fairssl.ssl.heads import ProjectionHead
from fairssl.ssl.ntxent import nt_xent
from fairssl.ssl.objectives.base import Objective

if TYPE_CHECKING:
    from fairssl.config import ModelConfig, PretrainConfig
    from fairssl.ssl.encoder import Encoder


class SimCLR(Objective):
    """NT-Xent between the projections of two independently augmented views."""

    name = "simclr"

    def __init__(
        self,
        encoder: Encoder,
        *,
        model: ModelConfig,
        config: PretrainConfig,
        window_shape: tuple[int, int],
    ) -> None:
        super().__init__(encoder, model=model, config=config, window_shape=window_shape)
        self.trainable["head"] = ProjectionHead(encoder.out_dim, model.projection).to(self.device)
        self.augmentation = build_augmentation(config.augmentation, tri_axial=config.tri_axial)
        self.temperature = config.temperature

    def loss(self, encoder: Encoder, x: Tensor, generator: torch.Generator) -> Tensor:
        head = self.trainable["head"]
        v1, v2 = make_views(x, self.augmentation, generator=generator)  # (B, C, T) each
        return nt_xent(head(encoder(v1)), head(encoder(v2)), temperature=self.temperature)
