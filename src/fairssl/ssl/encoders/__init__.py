"""Encoders of multichannel time series behind one seam (``model.arch``, ``model.factory``).

=================  ==========================  =================================================
``model.arch``     blocks                      module
=================  ==========================  =================================================
``cnn`` (default)  ``conv1..convk``            :mod:`fairssl.ssl.encoders.cnn` (the paper's)
``resnet1d``       ``res1..resk``              :mod:`fairssl.ssl.encoders.resnet1d` (batch norm)
``transformer``    ``layer1..layerk``          :mod:`fairssl.ssl.encoders.transformer` (patches)
factory            the factory's own           ``model.factory = "package.module:function"``
=================  ==========================  =================================================

k = ``len(model.widths)`` for the built-in ones. The seam (:mod:`fairssl.ssl.encoders.base`): ordered
named blocks (``layer_names``, ``blocks()``), ``out_dim`` and forward (N, C, T) -> (N, out_dim); each
block's output is a layer activation (N, C_i, T_i). Setups freeze blocks by position
(:mod:`fairssl.finetune.setups`), so the paper's setups apply to every architecture.

Adding an architecture: one module with a :class:`~fairssl.ssl.encoders.base.BlockEncoder` subclass
(register the blocks under their names with ``add_module``, set ``layer_names`` and ``out_dim``) and a
builder ``(in_channels, n_steps, model_config) -> encoder``; one line in
:data:`~fairssl.ssl.encoders.registry.ARCHITECTURES` and its name in ``ModelConfig.arch``.
"""

from fairssl.ssl.encoders.architectures import ARCHITECTURES
from fairssl.ssl.encoders.base import BlockEncoder, check_encoder, global_max_pool, penalised_weights
from fairssl.ssl.encoders.cnn import LAYER_NAMES, ConvBlock, Encoder
from fairssl.ssl.encoders.length import check_input_length, min_input_length
from fairssl.ssl.encoders.registry import build_encoder, encoder_layer_names, load_factory
from fairssl.ssl.encoders.resnet1d import ResNet1D
from fairssl.ssl.encoders.transformer import PatchTransformer

__all__ = [
    "ARCHITECTURES",
    "LAYER_NAMES",
    "BlockEncoder",
    "ConvBlock",
    "Encoder",
    "PatchTransformer",
    "ResNet1D",
    "build_encoder",
    "check_encoder",
    "check_input_length",
    "encoder_layer_names",
    "global_max_pool",
    "load_factory",
    "min_input_length",
    "penalised_weights",
]
