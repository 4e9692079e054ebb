"""The built-in encoder architectures by ``model.arch`` name (see :mod:`fairssl.ssl.encoders.registry`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from fairssl.ssl.encoders.base import BlockEncoder
from fairssl.ssl.encoders.cnn import build_cnn
from fairssl.ssl.encoders.resnet1d import build_resnet1d
from fairssl.ssl.encoders.transformer import build_transformer

if TYPE_CHECKING:
    from fairssl.config_training import ModelConfig

Builder = Callable[[int, "int | None", "ModelConfig"], BlockEncoder]

ARCHITECTURES: dict[str, Builder] = {
    "cnn": build_cnn,
    "resnet1d": build_resnet1d,
    "transformer": build_transformer,
}
"""``model.arch`` -> builder(in_channels, n_steps or None, model_config). A new architecture is one
module with a :class:`BlockEncoder` subclass and its builder, plus one line here and its name in
``ModelConfig.arch``."""
