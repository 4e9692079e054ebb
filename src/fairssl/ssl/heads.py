"""Heads on top of the encoder's (N, D) representation.

- :class:`ProjectionHead` (pre-training only): D -> 256 ReLU -> 128 ReLU -> 50, linear output; also
  VICReg's expander and BYOL's projector and predictor (:mod:`fairssl.ssl.objectives`).
- :class:`ReconstructionHead` (masked pre-training only): (D, T') feature map -> hidden ReLU -> (C, T).
- :class:`ClassifierHead` (fine-tuning): D -> 128 ReLU -> Dropout(0.6) -> K logits.
- :class:`Classifier`: encoder + classifier head, the model every fine-tuning setup trains.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from fairssl.ssl.encoder import Encoder


def _dense(d_in: int, d_out: int) -> nn.Linear:
    layer = nn.Linear(d_in, d_out)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class ProjectionHead(nn.Sequential):
    """(N, D) -> (N, dims[-1]); ReLU between layers, none after the last (SimCLR's projection g)."""

    def __init__(self, in_dim: int, dims: Sequence[int] = (256, 128, 50)) -> None:
        layers: list[nn.Module] = []
        d = in_dim
        for i, width in enumerate(dims):
            layers.append(_dense(d, width))
            if i < len(dims) - 1:
                layers.append(nn.ReLU())
            d = width
        super().__init__(*layers)


class ReconstructionHead(nn.Sequential):
    """(N, D, T') -> (N, C, T): Flatten, Linear(D T', hidden) ReLU Linear(hidden, C T), reshaped.

    The decoder of masked pre-training. It reads the last conv block's whole activation map (the
    encoder before its global pool), which keeps where in the window each feature fired; decoding
    from the pooled (N, D) vector instead, which drops time positions, barely learned on sinusoids
    (validation MSE 0.86 -> 0.84 against 0.86 -> 0.76 in 60 short epochs). D T' hidden + hidden C T
    weights: about 1.0M for D = 96, T' = 3, hidden 256 and a MIMIC window of 76 x 48.
    """

    def __init__(self, in_features: int, n_channels: int, n_steps: int, *, hidden: int = 256) -> None:
        super().__init__(
            nn.Flatten(),  # (N, D, T') -> (N, D T')
            _dense(in_features, hidden),
            nn.ReLU(),
            _dense(hidden, n_channels * n_steps),
            nn.Unflatten(1, (n_channels, n_steps)),  # (N, C T) -> (N, C, T)
        )


class ClassifierHead(nn.Sequential):
    """(N, D) -> (N, K) logits: Linear(D, hidden) ReLU Dropout(p) Linear(hidden, K)."""

    def __init__(self, in_dim: int, n_classes: int = 2, *, hidden: int = 128, dropout: float = 0.6) -> None:
        super().__init__(_dense(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout), _dense(hidden, n_classes))

    @property
    def hidden_layer(self) -> nn.Linear:
        return self[0]  # type: ignore[return-value]


class Classifier(nn.Module):
    """Encoder + classifier head: (N, C, T) -> (N, K) logits."""

    def __init__(self, encoder: Encoder, head: ClassifierHead) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))
