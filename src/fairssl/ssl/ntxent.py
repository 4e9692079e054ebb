"""SimCLR's NT-Xent (normalised temperature-scaled cross-entropy) contrastive loss.

Given projections z1, z2 (B, D) of two views of the same B windows, stack them into 2B rows
z = [z1; z2], L2-normalise each row and take cosine similarities s_ij = z_i . z_j. Row i's positive is
its other view p(i) = i + B (mod 2B); its 2B-1 candidates are every other row (self-similarity is
masked out), so it has 2B-2 negatives:

    loss = 1/(2B) * sum_i  -log( exp(s_{i,p(i)} / tau) / sum_{j != i} exp(s_ij / tau) )

averaged over all 2B anchors (both directions). The reference (paper.md) *sums* the two directional
means, so its value is twice this one.

Range: >= 0; lower is better. It tends to 0 when each positive pair is aligned and far from all
negatives (possible only when tau is small against the similarity gaps), and is about log(2B - 1)
when all similarities are equal (e.g. random projections with similarities small against tau).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn.functional import cross_entropy, normalize

from fairssl.errors import ConfigError, DataError


def _check_temperature(temperature: float) -> None:
    if (
        not isinstance(temperature, int | float)
        or isinstance(temperature, bool)
        or not math.isfinite(temperature)
        or temperature <= 0
    ):
        raise ConfigError(
            f"NT-Xent temperature must be a finite number > 0, got {temperature!r}; use e.g. temperature=0.1"
        )


def nt_xent(z1: Tensor, z2: Tensor, *, temperature: float = 0.1) -> Tensor:
    """NT-Xent loss of two batches of projections z1, z2 (B, D), row i of each from the same window.

    Returns a scalar tensor (differentiable): the mean over the 2B anchors of the cross-entropy of
    picking the anchor's other view among its 2B-1 candidates, with logits cosine / temperature.
    >= 0, lower is better; about log(2B-1) for uninformative projections. Invariant to rescaling
    each row (cosine similarity) and symmetric in (z1, z2).
    """
    _check_temperature(temperature)
    if z1.ndim != 2 or z1.shape != z2.shape or z1.shape[0] < 1:
        raise DataError(
            f"NT-Xent needs two projection batches of the same shape (B, D) with B >= 1, got "
            f"{tuple(z1.shape)} and {tuple(z2.shape)}; pass the projections of the two views of one batch"
        )
    b = z1.shape[0]
    z = normalize(torch.cat([z1, z2], dim=0), dim=1)  # (2B, D), unit rows
    logits = (z @ z.T) / temperature  # (2B, 2B) cosine similarity / tau
    self_mask = torch.eye(2 * b, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))  # drop self-similarity from the candidates
    idx = torch.arange(b, device=z.device)
    positives = torch.cat([idx + b, idx])  # (2B,): row i's other view
    return cross_entropy(logits, positives)


class NTXentLoss(nn.Module):
    """Module form of :func:`nt_xent`: ``NTXentLoss(temperature)(z1, z2) -> scalar``.

    ``temperature`` must be > 0 (paper: 0.1); smaller values weight hard negatives more.
    """

    def __init__(self, temperature: float = 0.1) -> None:
        super().__init__()
        _check_temperature(temperature)
        self.temperature = float(temperature)

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        return nt_xent(z1, z2, temperature=self.temperature)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"
