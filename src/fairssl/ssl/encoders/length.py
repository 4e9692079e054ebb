"""The shortest window an encoder accepts, and the one-line error for windows that are shorter.

The rule is read from a built encoder's layers (:func:`min_length_of`): walking back from one output
step of the last block, every Conv1d / MaxPool1d / AvgPool1d inverts PyTorch's length rule and every
other layer keeps the length. It holds for the built-in encoders, whose blocks form one chain along
time ('same'-padded residual branches keep the length):

===============  ============================================================================
``cnn``          sum(k_i - 1) + 1 with 'valid' padding (46 for kernels 24/16/8), 1 with 'same'
``resnet1d``     2^(k-1) for k blocks (each block after the first halves the time axis): 4 for 3
``transformer``  ``model.patch_length`` (one patch)
factory          1: fairssl cannot know; the factory is given ``n_steps`` and should raise itself
===============  ============================================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch import nn

from fairssl.errors import ConfigError
from fairssl.runtime import keeps_global_rng

if TYPE_CHECKING:
    from fairssl.config_training import ModelConfig


def _needed_input(layer: Any, out_len: int) -> int:
    """The shortest input giving ``out_len`` output steps through one Conv1d/MaxPool1d/AvgPool1d layer.

    PyTorch's length rule L_out = floor((L_in + 2p - d (k - 1) - 1) / s) + 1 inverted for the smallest
    L_in: (L_out - 1) s + d (k - 1) + 1 - 2p (at least 1); ``padding='same'`` keeps the length.
    """

    def first(v: Any) -> int:
        return int(v[0]) if isinstance(v, (tuple, list)) else int(v)

    padding = layer.padding
    if padding == "same":
        return out_len
    k, s, d = first(layer.kernel_size), first(layer.stride or 1), first(getattr(layer, "dilation", 1))
    p = 0 if padding == "valid" else first(padding)
    return max(1, (out_len - 1) * s + d * (k - 1) + 1 - 2 * p)


def min_length_of(encoder: nn.Module) -> int:
    """The fewest time steps T for which every length-changing layer of ``encoder`` (taken in
    registration order as one chain) gives at least one step. Draws no random numbers."""
    layers = [m for m in encoder.modules() if isinstance(m, (nn.Conv1d, nn.MaxPool1d, nn.AvgPool1d))]
    need = 1
    for layer in reversed(layers):  # from one output step of the last layer back to the input
        need = _needed_input(layer, need)
    return need


@keeps_global_rng
def min_input_length(model: ModelConfig) -> int:
    """The fewest time steps T a window needs for the encoder of ``model`` (see the module's table).
    Read from an encoder built on one channel; the global random states are left as they were."""
    if model.factory is not None:
        return 1
    from fairssl.ssl.encoders.architectures import ARCHITECTURES

    return min_length_of(ARCHITECTURES[model.arch](1, None, model))


def length_problem(model: ModelConfig, n_steps: int, need: int, *, where: str | None = None) -> str:
    """The one-line message for windows of ``n_steps`` steps, shorter than the ``need`` of ``model``."""
    where = where or "set by data.options.window for the long source, data.simulate.n_steps for the simulator"
    if model.arch == "transformer":
        cause = f"model.patch_length = {model.patch_length} needs at least {need} steps (one patch)"
        fix = "smaller model.patch_length"
    elif model.arch == "resnet1d":
        k = len(model.widths)
        cause = f"{k} resnet1d blocks (each after the first halves time) need at least {need} steps"
        fix = "fewer model.widths"
    else:
        cause = (
            f"model.kernels {list(model.kernels)} with padding '{model.padding}' need at least {need} steps"
        )
        same = " or model.padding = 'same'" if model.padding == "valid" else ""
        fix = f"smaller model.kernels{same}"
    return (
        f"windows of {n_steps} steps are too short for the encoder: {cause}; use windows of at least "
        f"{need} steps ({where}), {fix}"
    )


def check_input_length(model: ModelConfig, n_steps: int, *, window_key: str | None = None) -> None:
    """ConfigError (one line) unless windows of ``n_steps`` steps fit the encoder of ``model``.

    Call it once the data are loaded and before any training. ``window_key`` names the setting that
    sets the window length for the study's source (:func:`fairssl.loader_options.window_key`, e.g.
    ``data.options.window``); without it the message names the usual ones.
    """
    need = min_input_length(model)
    if n_steps < need:
        raise ConfigError(length_problem(model, n_steps, need, where=window_key and f"set by {window_key}"))
