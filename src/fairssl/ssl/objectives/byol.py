"""BYOL (Grill et al., NeurIPS 2020): predict a slowly moving target network's projection.

Online network: encoder f, projector g (the MLP of ``model.projection`` widths, (B, D) -> (B, P)),
predictor q (P -> ``model.projection[0]`` ReLU -> P). Target network: copies f', g' of f and g made
at the start, never optimised, updated after every optimiser step by an exponential moving average

    theta' <- tau theta' + (1 - tau) theta        (tau = 0.99 by default; buffers are copied)

Per batch x (B, C, T): two views drawn independently with ``pretrain.augmentation``;
p_v = q(g(f(view_v))) and, without gradient, t_v = g'(f'(view_v)); the symmetric loss is

    loss = mean_b [2 - 2 cos(p_1, t_2)] + mean_b [2 - 2 cos(p_2, t_1)]

Range [0, 8], lower is better; about 4 when predictions and targets are unrelated. The target runs
in eval mode (no dropout: its outputs are the regression targets) and its weights are part of the
checkpoint. Option (``pretrain.objective``): ``tau`` (constant; no cosine schedule).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import Tensor, nn
from torch.nn.functional import cosine_similarity

from fairssl.objective_options import OBJECTIVE_OPTIONS
from fairssl.ssl.augment import build_augmentation, make_views
from fairssl.ssl.heads import ProjectionHead
from fairssl.ssl.objectives.base import Objective, Option

if TYPE_CHECKING:
    from fairssl.config import ModelConfig, PretrainConfig
    from fairssl.ssl.encoder import Encoder


def byol_loss(prediction: Tensor, target: Tensor) -> Tensor:
    """mean_b [2 - 2 cos(prediction_b, target_b)] of two (B, P) batches: 0 aligned, 2 orthogonal, 4 opposite.

    Equals the mean squared distance of the L2-normalised rows. ``target`` is not differentiated.
    """
    return (2.0 - 2.0 * cosine_similarity(prediction, target.detach(), dim=1)).mean()


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, *, tau: float) -> None:
    """In place: every parameter p' of ``target`` <- tau p' + (1 - tau) p of ``online``; buffers copied.

    The two modules must have the same architecture (parameters and buffers in the same order).
    """
    for p_target, p_online in zip(target.parameters(), online.parameters(), strict=True):
        p_target.mul_(tau).add_(p_online.detach(), alpha=1.0 - tau)
    for b_target, b_online in zip(target.buffers(), online.buffers(), strict=True):
        b_target.copy_(b_online)


class BYOL(Objective):
    """BYOL: online predictor regresses the EMA target's projection of the other view."""

    name = "byol"
    options: ClassVar[Mapping[str, Option]] = OBJECTIVE_OPTIONS["byol"]

    def __init__(
        self,
        encoder: Encoder,
        *,
        model: ModelConfig,
        config: PretrainConfig,
        window_shape: tuple[int, int],
    ) -> None:
        super().__init__(encoder, model=model, config=config, window_shape=window_shape)
        projector = ProjectionHead(encoder.out_dim, model.projection)
        width = int(model.projection[-1])
        predictor = ProjectionHead(width, [int(model.projection[0]), width])
        self.trainable["projector"] = projector.to(self.device)
        self.trainable["predictor"] = predictor.to(self.device)
        self.frozen["encoder"] = copy.deepcopy(encoder)
        self.frozen["projector"] = copy.deepcopy(projector)
        self.frozen.requires_grad_(False)
        self.frozen.eval()
        self.augmentation = build_augmentation(config.augmentation, tri_axial=config.tri_axial)
        self.tau = float(self.settings["tau"])

    def loss(self, encoder: Encoder, x: Tensor, generator: torch.Generator) -> Tensor:
        b = x.shape[0]
        v1, v2 = make_views(x, self.augmentation, generator=generator)  # (B, C, T) each
        views = torch.cat([v1, v2])  # (2B, C, T): one pass for both views
        p = self.trainable["predictor"](self.trainable["projector"](encoder(views)))  # (2B, P)
        with torch.no_grad():
            t = self.frozen["projector"](self.frozen["encoder"](views))  # (2B, P)
        return byol_loss(p[:b], t[b:]) + byol_loss(p[b:], t[:b])

    def after_step(self, encoder: Encoder) -> None:
        ema_update(self.frozen["encoder"], encoder, tau=self.tau)
        ema_update(self.frozen["projector"], self.trainable["projector"], tau=self.tau)
