"""Which encoder a ``[model]`` section builds: a built-in architecture or a user's factory.

``model.arch`` picks an entry of :data:`ARCHITECTURES`; ``model.factory = "package.module:function"``
(when set, it wins over ``arch``) imports ``function`` and calls ``function(in_channels, n_steps,
model_config)``, which must return an ``nn.Module`` satisfying the seam of
:mod:`fairssl.ssl.encoders.base` (checked, one-line ConfigError naming what is missing).

Layer names come from the encoder, never from a naming rule: :func:`encoder_layer_names` builds the
encoder of a config on a one-channel input (global random states kept) and reads its ``layer_names``.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fairssl.config_training import check_factory_string
from fairssl.errors import ConfigError
from fairssl.runtime import keeps_global_rng
from fairssl.ssl.encoders.architectures import ARCHITECTURES
from fairssl.ssl.encoders.base import BlockEncoder, check_encoder
from fairssl.ssl.encoders.length import length_problem, min_length_of

if TYPE_CHECKING:
    from fairssl.config_training import ModelConfig

PROBE_STEPS = 512
"""Window length a factory encoder is built with when only its layer names are wanted (in_channels 1),
unless the factory function has a ``layer_names`` attribute."""


def load_factory(spec: str) -> Callable[..., Any]:
    """The function ``spec`` (``package.module:function``) names; a one-line ConfigError when the module
    does not import or has no such callable."""
    check_factory_string(spec)
    module_name, function_name = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # any import failure of user code is a configuration problem here
        raise ConfigError(
            f"model.factory = '{spec}': module '{module_name}' cannot be imported "
            f"({type(err).__name__}: {err}); put it on the Python path or fix the name"
        ) from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ConfigError(
            f"model.factory = '{spec}': module '{module_name}' has no function '{function_name}'; "
            "name a function (in_channels, n_steps, model_config) -> encoder"
        )
    return function


def build_encoder(model: ModelConfig, in_channels: int, n_steps: int | None) -> BlockEncoder:
    """The encoder of ``model`` for windows of ``in_channels`` x ``n_steps`` (None: the length is not
    checked). A built-in one raises ConfigError when windows are too short for it; a factory's encoder
    is checked against the seam. Draws weights from the global torch generator (seed first)."""
    if model.factory is not None:
        encoder = load_factory(model.factory)(in_channels, n_steps, model)
        return check_encoder(encoder, source=f"model.factory = '{model.factory}'")
    built = ARCHITECTURES[model.arch](in_channels, n_steps, model)
    if n_steps is not None:
        need = min_length_of(built)
        if n_steps < need:
            raise ConfigError(length_problem(model, n_steps, need))
    return built


def encoder_layer_names(model: ModelConfig) -> tuple[str, ...]:
    """The ordered block names of the encoder ``model`` builds (e.g. ``('conv1', 'conv2', 'conv3')``).

    Needs no data: built on one input channel, global random states restored, cached per config. A
    factory encoder is built with ``n_steps = PROBE_STEPS`` unless its function carries ``layer_names``.
    """
    return _names(model.model_dump_json())


@functools.lru_cache(maxsize=64)
def _names(model_json: str) -> tuple[str, ...]:
    from fairssl.config_training import ModelConfig

    model = ModelConfig.model_validate_json(model_json)
    if model.factory is not None:
        given = getattr(load_factory(model.factory), "layer_names", None)
        if given is not None:
            return tuple(str(n) for n in given)
    return tuple(_probe(model).layer_names)


@keeps_global_rng
def _probe(model: ModelConfig) -> BlockEncoder:
    return build_encoder(model, 1, PROBE_STEPS if model.factory is not None else None)
