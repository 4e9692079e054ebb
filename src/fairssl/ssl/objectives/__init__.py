"""Self-supervised pre-training objectives, chosen by ``pretrain.method``.

============  =====================================================  ================================
method        what the encoder learns                                options (``pretrain.objective``)
============  =====================================================  ================================
``simclr``    NT-Xent between two augmented views (the paper's)      none (``pretrain.temperature``)
``vicreg``    invariance + variance hinge + covariance penalty       invariance_weight, variance_weight,
                                                                     covariance_weight, gamma, eps
``byol``      predict an EMA target's projection of the other view   tau
``masked``    rebuild masked time patches (no views, no augmenting)  mask_ratio, patch_length,
                                                                     decoder_hidden
============  =====================================================  ================================

Adding an objective is one file plus its registry lines:

1. ``objectives/<name>.py``: a subclass of :class:`~fairssl.ssl.objectives.base.Objective` with
   ``name``, ``options`` (its table in :data:`fairssl.objective_options.OBJECTIVE_OPTIONS`: each an
   :class:`~fairssl.objective_options.Option` with default, meaning, range), an ``__init__`` that
   builds its heads into ``self.trainable`` (and any module the optimiser must not train, e.g. an EMA
   target, into ``self.frozen``) on ``self.device``, and
   ``loss(encoder, x, generator)`` that draws every random number from ``generator``; override
   ``after_step(encoder)`` when something must change after each optimiser step. Give the loss a pure
   function with an oracle test (a hand-written loop) and state its range and direction.
2. One line in :data:`OBJECTIVES` below, its options in ``OBJECTIVE_OPTIONS`` and the name in
   ``PretrainConfig.method``'s ``Literal`` (a test checks the three agree).

Pre-training (:func:`fairssl.ssl.pretrain.pretrain`) checkpoints the objective's ``state_dict`` and
resumes bit for bit; the parametrised resume test in ``tests/ssl/test_objectives_pretrain.py`` picks
up every registered objective.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fairssl.errors import ConfigError
from fairssl.objective_options import check_objective_options
from fairssl.ssl.objectives.base import Objective, Option
from fairssl.ssl.objectives.byol import BYOL
from fairssl.ssl.objectives.masked import Masked
from fairssl.ssl.objectives.simclr import SimCLR
from fairssl.ssl.objectives.vicreg import VICReg

if TYPE_CHECKING:
    from fairssl.config import ModelConfig, PretrainConfig
    from fairssl.ssl.encoder import Encoder

OBJECTIVES: dict[str, type[Objective]] = {
    "simclr": SimCLR,
    "vicreg": VICReg,
    "byol": BYOL,
    "masked": Masked,
}
"""Every objective by its ``pretrain.method`` name."""


def objective_class(method: str) -> type[Objective]:
    """The objective registered as ``method`` (ConfigError naming the registered ones otherwise)."""
    if method not in OBJECTIVES:
        raise ConfigError(f"unknown pretrain.method {method!r}; allowed: {', '.join(OBJECTIVES)}")
    return OBJECTIVES[method]


def build_objective(
    method: str,
    encoder: Encoder,
    *,
    model: ModelConfig,
    config: PretrainConfig,
    window_shape: tuple[int, int],
) -> Objective:
    """The objective ``method`` for ``encoder`` and windows of ``window_shape`` (C, T), on its device.

    Options come from ``config.objective``; heads are sized by ``encoder.out_dim`` and ``model``.
    """
    return objective_class(method)(encoder, model=model, config=config, window_shape=window_shape)


__all__ = [
    "OBJECTIVES",
    "Objective",
    "Option",
    "build_objective",
    "check_objective_options",
    "objective_class",
]
