"""VICReg (Bardes, Ponce & LeCun, ICLR 2022): variance-invariance-covariance regularisation.

Per batch x (B, C, T): two views drawn independently with ``pretrain.augmentation``, embeddings
Z = h(f(view_1)), Z' = h(f(view_2)) (B, P) through the encoder f and an expander h (the MLP of
``model.projection`` widths, ReLU between layers, no batch norm). With z_j the column j of Z::

    s(Z, Z') = 1/(B P) sum_{b, j} (Z_bj - Z'_bj)^2                              invariance
    v(Z)     = 1/P sum_j max(0, gamma - sqrt(Var(z_j) + eps))   (Var unbiased)  variance hinge
    c(Z)     = 1/P sum_{i != j} Cov(Z)_ij^2,  Cov(Z) = (Z - mean)^T (Z - mean) / (B - 1)
    loss     = lambda s(Z, Z') + mu (v(Z) + v(Z')) / 2 + nu (c(Z) + c(Z'))

as in the authors' code (facebookresearch/vicreg), with lambda = mu = 25, nu = 1, gamma = 1,
eps = 1e-4 by default. Options (``pretrain.objective``): ``invariance_weight``, ``variance_weight``,
``covariance_weight``, ``gamma``, ``eps``.

Loss range: >= 0, lower is better. A collapsed expander (all embeddings equal) scores about
mu * gamma (25 at the defaults): the variance hinge is what rules collapse out. Needs B >= 2.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import Tensor
from torch.nn.functional import mse_loss, relu

from fairssl.errors import DataError
from fairssl.objective_options import OBJECTIVE_OPTIONS
from fairssl.ssl.augment import build_augmentation, make_views
from fairssl.ssl.heads import ProjectionHead
from fairssl.ssl.objectives.base import Objective, Option

if TYPE_CHECKING:
    from fairssl.config import ModelConfig, PretrainConfig
    from fairssl.ssl.encoder import Encoder


def variance_term(z: Tensor, *, gamma: float = 1.0, eps: float = 1e-4) -> Tensor:
    """v(Z) of (B, P) embeddings: mean over columns of max(0, gamma - sqrt(unbiased Var + eps)).

    0 when every column's standard deviation is at least gamma; gamma - sqrt(eps) for a collapsed Z.
    """
    std = torch.sqrt(z.var(dim=0) + eps)  # (P,)
    return relu(gamma - std).mean()


def covariance_term(z: Tensor) -> Tensor:
    """c(Z) of (B, P) embeddings: sum of squared off-diagonal covariances / P; 0 for decorrelated columns."""
    b, p = z.shape
    centred = z - z.mean(dim=0)  # (B, P)
    cov = centred.T @ centred / (b - 1)  # (P, P)
    off_diagonal = cov - torch.diag(torch.diagonal(cov))
    return off_diagonal.pow(2).sum() / p


def vicreg_loss(
    z1: Tensor,
    z2: Tensor,
    *,
    invariance_weight: float = 25.0,
    variance_weight: float = 25.0,
    covariance_weight: float = 1.0,
    gamma: float = 1.0,
    eps: float = 1e-4,
) -> Tensor:
    """VICReg loss of two embedding batches z1, z2 (B, P), row b of each from the same window (see module)."""
    if z1.ndim != 2 or z1.shape != z2.shape or z1.shape[0] < 2:
        raise DataError(
            f"VICReg needs two embedding batches of the same shape (B, P) with B >= 2, got "
            f"{tuple(z1.shape)} and {tuple(z2.shape)}; pass the embeddings of the two views of one batch"
        )
    invariance = mse_loss(z1, z2)
    variance = (variance_term(z1, gamma=gamma, eps=eps) + variance_term(z2, gamma=gamma, eps=eps)) / 2
    covariance = covariance_term(z1) + covariance_term(z2)
    return invariance_weight * invariance + variance_weight * variance + covariance_weight * covariance


class VICReg(Objective):
    """VICReg on the expander embeddings of two independently augmented views."""

    name = "vicreg"
    options: ClassVar[Mapping[str, Option]] = OBJECTIVE_OPTIONS["vicreg"]

    def __init__(
        self,
        encoder: Encoder,
        *,
        model: ModelConfig,
        config: PretrainConfig,
        window_shape: tuple[int, int],
    ) -> None:
        super().__init__(encoder, model=model, config=config, window_shape=window_shape)
        self.trainable["expander"] = ProjectionHead(encoder.out_dim, model.projection).to(self.device)
        self.augmentation = build_augmentation(config.augmentation, tri_axial=config.tri_axial)

    def loss(self, encoder: Encoder, x: Tensor, generator: torch.Generator) -> Tensor:
        b = x.shape[0]
        v1, v2 = make_views(x, self.augmentation, generator=generator)  # (B, C, T) each
        z = self.trainable["expander"](encoder(torch.cat([v1, v2])))  # (2B, P): one pass for both views
        return vicreg_loss(z[:b], z[b:], **self.settings)
