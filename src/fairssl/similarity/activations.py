"""Capture the activations of named layers of a torch model with forward hooks.

The encoder's blocks are named ``conv1``, ``conv2``, ``conv3`` (:mod:`fairssl.ssl.encoder`); inside a
:class:`fairssl.ssl.heads.Classifier` they are ``encoder.conv1``, ... . A layer may be given by its full
module path or by a short name that is a unique dotted suffix of one path (``conv1`` finds
``encoder.conv1`` when no other module ends in ``.conv1``), so the same names work for an SSL encoder and
a fine-tuned classifier.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from fairssl.errors import ConfigError, DataError

__all__ = ["capture_activations", "resolve_layers"]


def resolve_layers(model: nn.Module, layers: Sequence[str]) -> dict[str, str]:
    """Map each requested layer name to the full module path in ``model.named_modules()``.

    An exact path wins; otherwise the name must be the dotted suffix of exactly one path. Raises
    :class:`ConfigError` (listing the available names) for unknown, ambiguous or repeated names.
    """
    if isinstance(layers, str) or len(layers) == 0:
        raise ConfigError(
            f"layers must be a non-empty list of layer names, got {layers!r}; pass e.g. ['conv1', 'conv2']"
        )
    paths = [name for name, _ in model.named_modules() if name]
    resolved: dict[str, str] = {}
    for layer in layers:
        if layer in paths:
            full = layer
        else:
            matches = [p for p in paths if p.endswith("." + layer)]
            if len(matches) != 1:
                problem = "is not a module of the model" if not matches else f"is ambiguous ({matches})"
                raise ConfigError(
                    f"layer {layer!r} {problem}; available layer names: {', '.join(paths) or '(none)'}; "
                    "pass a full module path or a unique suffix"
                )
            full = matches[0]
        if full in resolved.values() or layer in resolved:
            raise ConfigError(
                f"layer {layer!r} is requested twice (module {full!r}) in {list(layers)}; "
                "pass each layer once"
            )
        resolved[layer] = full
    return resolved


def _check_windows(X: Any) -> tuple[int, ...]:
    """Validate X (N, ...) and return its shape; X is converted batch by batch (memmaps stay mapped)."""
    if isinstance(X, np.ndarray):
        if not any(np.issubdtype(X.dtype, t) for t in (np.floating, np.integer, np.bool_)):
            raise DataError(f"X must be a numeric array, got dtype {X.dtype}; pass float32 windows (N, C, T)")
    elif not isinstance(X, torch.Tensor):
        raise DataError(
            f"X must be a numpy array or torch tensor, got {type(X).__name__}; "
            "pass windows of shape (N, C, T)"
        )
    shape = tuple(int(s) for s in X.shape)
    if len(shape) < 2 or shape[0] == 0:
        raise DataError(
            f"X must have shape (N, ...) with N >= 1 examples, got {shape}; pass windows (N, C, T)"
        )
    return shape


def _batch(X: np.ndarray | torch.Tensor, start: int, stop: int, device: torch.device) -> torch.Tensor:
    """Rows start:stop of X as a float32 tensor on ``device``."""
    if isinstance(X, torch.Tensor):
        return X[start:stop].detach().to(device=device, dtype=torch.float32)
    rows = np.array(X[start:stop], dtype=np.float32, order="C", copy=True)  # a writable copy of one batch
    return torch.from_numpy(rows).to(device)


def _model_device(model: nn.Module) -> torch.device | None:
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return None


def capture_activations(
    model: nn.Module,
    X: np.ndarray | torch.Tensor,
    layers: Sequence[str],
    *,
    batch_size: int = 512,
    device: str | torch.device = "cpu",
    flatten: bool = True,
) -> dict[str, np.ndarray]:
    """Run ``model`` on ``X`` (N, C, T) in batches and return each named layer's output.

    Returns ``{layer: array}`` keyed by the names as given, in the order given; each array is float32
    of shape (N, C_out * T_out) when ``flatten`` (the layer output (N, C_out, T_out) flattened per
    example), else (N, C_out, T_out). Row i belongs to window i of ``X``.

    The model runs in eval mode (dropout off, so captures are deterministic) under ``torch.no_grad``;
    every module's train/eval flag and the model's device are restored afterwards, and the hooks are
    removed even if the forward pass fails.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}; pass e.g. 512")
    resolved = resolve_layers(model, layers)
    n = _check_windows(X)[0]
    modules = dict(model.named_modules())
    outputs: dict[str, np.ndarray] = {}
    offset = [0]  # start row of the batch being run, shared with the hooks

    def make_hook(layer: str) -> Any:
        def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
            if not isinstance(output, torch.Tensor):
                raise ConfigError(
                    f"layer {layer!r} returns {type(output).__name__}, not a tensor; choose a layer whose "
                    "output is a single tensor"
                )
            batch = output.detach().to("cpu", torch.float32).numpy()  # (b, C_out, T_out)
            if flatten:
                batch = batch.reshape(batch.shape[0], -1)  # (b, C_out * T_out)
            if layer not in outputs:
                outputs[layer] = np.empty((n, *batch.shape[1:]), dtype=np.float32)
            outputs[layer][offset[0] : offset[0] + batch.shape[0]] = batch

        return hook

    was_training = {m: m.training for m in model.modules()}
    original_device = _model_device(model)
    target = torch.device(device)
    handles = [modules[full].register_forward_hook(make_hook(layer)) for layer, full in resolved.items()]
    try:
        if original_device is not None and original_device != target:
            model.to(target)
        model.eval()
        with torch.no_grad():
            for start in range(0, n, batch_size):
                offset[0] = start
                model(_batch(X, start, start + batch_size, target))
    finally:
        for handle in handles:
            handle.remove()
        for module, mode in was_training.items():
            module.training = mode
        if original_device is not None and original_device != target:
            model.to(original_device)
    missing = [layer for layer in resolved if layer not in outputs]
    if missing:
        raise ConfigError(
            f"layers {missing} were never called during the forward pass; choose layers that the model's "
            "forward uses"
        )
    return {layer: outputs[layer] for layer in resolved}
