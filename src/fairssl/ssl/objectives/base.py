"""The :class:`Objective` contract and the checking of its options (``pretrain.objective``).

An objective owns everything pre-training needs beside the encoder: heads (projection, predictor,
decoder), their state, and any module the optimiser does not train (BYOL's EMA target). The training
loop in :mod:`fairssl.ssl.pretrain` only calls, per batch of windows x (B, C, T)::

    loss = objective.loss(encoder, x, generator)   # scalar tensor, differentiable
    loss.backward(); optimiser.step(); scheduler.step()
    objective.after_step(encoder)                  # e.g. the EMA update of a target network

and optimises ``[*encoder.parameters(), *objective.parameters()]``. ``state_dict`` /
``load_state_dict`` cover every module it owns, so a checkpoint resumes bit for bit.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor, nn

from fairssl.objective_options import Option, resolve_options

if TYPE_CHECKING:
    from fairssl.config import ModelConfig, PretrainConfig
    from fairssl.ssl.encoder import Encoder


class Objective(ABC):
    """A self-supervised pre-training objective (one per ``pretrain.method``).

    Subclasses set ``name`` and ``options`` (their knobs in ``pretrain.objective``), build their
    modules in ``__init__`` into ``self.trainable`` (optimised with the encoder) and ``self.frozen``
    (never optimised, always in eval mode, e.g. an EMA target), and implement :meth:`loss`.

    ``encoder`` is the freshly built encoder (its ``out_dim`` D is the representation's width; its
    device is where the modules go), ``model`` gives head widths (``model.projection``), ``config`` the
    pre-training settings (augmentation, temperature, ``objective`` options) and ``window_shape`` the
    (C, T) of the windows.
    """

    name: ClassVar[str]
    options: ClassVar[Mapping[str, Option]] = {}

    def __init__(
        self,
        encoder: Encoder,
        *,
        model: ModelConfig,
        config: PretrainConfig,
        window_shape: tuple[int, int],
    ) -> None:
        self.settings = self.check_options(config.objective)
        self.device = next(encoder.parameters()).device
        self.trainable = nn.ModuleDict()
        self.frozen = nn.ModuleDict()

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        """The objective's options, ``options`` on top of the defaults (ConfigError if invalid)."""
        return resolve_options(cls.name, options, cls.options)

    @abstractmethod
    def loss(self, encoder: Encoder, x: Tensor, generator: torch.Generator) -> Tensor:
        """Scalar loss of a batch ``x`` (B, C, T); every random draw comes from ``generator``."""

    def after_step(self, encoder: Encoder) -> None:
        """Called after every optimiser step (default: nothing)."""
        return None

    def parameters(self) -> list[nn.Parameter]:
        """The parameters the optimiser trains beside the encoder's (those of ``trainable``)."""
        return list(self.trainable.parameters())

    def train(self, mode: bool = True) -> None:
        """Training (dropout on) or evaluation mode for the trainable modules; frozen ones stay in eval."""
        self.trainable.train(mode)
        self.frozen.eval()

    def state_dict(self) -> dict[str, Any]:
        """Every tensor the objective owns: ``{"trainable": ..., "frozen": ...}`` module state dicts."""
        return {"trainable": self.trainable.state_dict(), "frozen": self.frozen.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output (strict: every key must match)."""
        self.trainable.load_state_dict(state["trainable"])
        self.frozen.load_state_dict(state["frozen"])
