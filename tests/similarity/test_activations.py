"""capture_activations on the real Encoder/Classifier at tiny sizes: shapes, oracle, modes, hooks, errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from fairssl.errors import ConfigError, DataError
from fairssl.similarity.activations import capture_activations, resolve_layers
from fairssl.ssl.encoder import Encoder
from fairssl.ssl.heads import Classifier, ClassifierHead

torch.set_num_threads(1)

C, T = 4, 16  # conv lengths with kernels (5, 4, 3), 'valid': 16 -> 12 -> 9 -> 7


def _classifier(dropout: float = 0.5) -> Classifier:
    torch.manual_seed(0)
    encoder = Encoder(C, widths=(3, 5, 6), kernels=(5, 4, 3), dropout=dropout)
    return Classifier(encoder, ClassifierHead(encoder.out_dim, hidden=8))


def _windows(n: int = 10) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, C, T)).astype(np.float32)


def _hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


def test_shapes_and_dtype_flattened_and_not() -> None:
    model = _classifier()
    X = _windows(10)
    acts = capture_activations(model, X, ["conv1", "conv2", "conv3"], batch_size=4)
    assert list(acts) == ["conv1", "conv2", "conv3"]
    assert acts["conv1"].shape == (10, 3 * 12)
    assert acts["conv2"].shape == (10, 5 * 9)
    assert acts["conv3"].shape == (10, 6 * 7)
    assert all(a.dtype == np.float32 for a in acts.values())
    raw = capture_activations(model, X, ["conv2"], flatten=False)
    assert raw["conv2"].shape == (10, 5, 9)
    np.testing.assert_array_equal(raw["conv2"].reshape(10, -1), acts["conv2"])


def test_matches_a_manual_eval_forward_pass() -> None:
    model = _classifier()
    X = _windows(7)
    acts = capture_activations(model, torch.from_numpy(X), ["encoder.conv1", "conv3"], batch_size=3)
    model.eval()
    with torch.no_grad():
        conv1, conv2, conv3 = model.encoder.blocks()
        h1 = conv1(torch.from_numpy(X))
        h3 = conv3(conv2(h1))
    np.testing.assert_allclose(acts["encoder.conv1"], h1.reshape(7, -1).numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(acts["conv3"], h3.reshape(7, -1).numpy(), rtol=1e-6, atol=1e-6)


def test_short_and_full_names_give_the_same_layer() -> None:
    model = _classifier()
    X = _windows(5)
    short = capture_activations(model, X, ["conv2"])
    full = capture_activations(model, X, ["encoder.conv2"])
    np.testing.assert_array_equal(short["conv2"], full["encoder.conv2"])
    assert resolve_layers(model, ["conv2", "head"]) == {"conv2": "encoder.conv2", "head": "head"}


def test_bare_encoder_uses_the_same_short_names() -> None:
    model = _classifier()
    X = _windows(5)
    from_classifier = capture_activations(model, X, ["conv1"])
    from_encoder = capture_activations(model.encoder, X, ["conv1"])
    np.testing.assert_array_equal(from_classifier["conv1"], from_encoder["conv1"])


def test_deterministic_in_eval_mode_and_independent_of_batch_size() -> None:
    model = _classifier(dropout=0.5)
    model.train()
    X = _windows(9)
    first = capture_activations(model, X, ["conv1", "conv3"], batch_size=2)
    second = capture_activations(model, X, ["conv1", "conv3"], batch_size=100)
    for layer in first:
        np.testing.assert_allclose(first[layer], second[layer], rtol=1e-6, atol=1e-6)


def test_modes_restored_and_hooks_removed() -> None:
    model = _classifier()
    model.train()
    conv1, conv2, _ = model.encoder.blocks()
    conv1.eval()  # a frozen block kept in eval must stay in eval
    capture_activations(model, _windows(4), ["conv1", "conv2"])
    assert model.training
    assert conv2.training
    assert not conv1.training
    assert _hook_count(model) == 0


def test_hooks_removed_and_mode_restored_on_error() -> None:
    model = _classifier()
    model.train()
    wrong_channels = np.zeros((3, C + 1, T), dtype=np.float32)
    with pytest.raises(RuntimeError):
        capture_activations(model, wrong_channels, ["conv1"])
    assert _hook_count(model) == 0
    assert model.training


def test_unknown_layer_lists_available_names() -> None:
    with pytest.raises(
        ConfigError, match=r"layer 'conv9' is not a module.*available layer names: .*encoder\.conv1"
    ):
        capture_activations(_classifier(), _windows(3), ["conv9"])


def test_ambiguous_and_repeated_layer_names() -> None:
    two = nn.ModuleDict(
        {"a": Encoder(C, widths=(2,), kernels=(3,)), "b": Encoder(C, widths=(2,), kernels=(3,))}
    )
    with pytest.raises(ConfigError, match=r"layer 'conv1' is ambiguous \(\['a\.conv1', 'b\.conv1'\]\)"):
        resolve_layers(two, ["conv1"])
    with pytest.raises(ConfigError, match=r"layer 'encoder\.conv1' is requested twice"):
        resolve_layers(_classifier(), ["conv1", "encoder.conv1"])
    with pytest.raises(ConfigError, match="layers must be a non-empty list of layer names"):
        resolve_layers(_classifier(), [])


class _WithUnused(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.used = nn.Conv1d(C, 2, 3)
        self.unused = nn.Conv1d(C, 2, 3)
        self.pair = _TupleOut()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pair(self.used(x))[0]


class _TupleOut(nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x, x


def test_layers_not_called_or_not_returning_a_tensor() -> None:
    model = _WithUnused()
    with pytest.raises(ConfigError, match=r"layers \['unused'\] were never called during the forward pass"):
        capture_activations(model, _windows(3), ["used", "unused"])
    with pytest.raises(ConfigError, match="layer 'pair' returns tuple, not a tensor"):
        capture_activations(model, _windows(3), ["pair"])
    assert _hook_count(model) == 0


def test_argument_errors() -> None:
    model = _classifier()
    with pytest.raises(ConfigError, match="batch_size must be a positive integer, got 0"):
        capture_activations(model, _windows(3), ["conv1"], batch_size=0)
    with pytest.raises(DataError, match="X must be a numpy array or torch tensor, got list"):
        capture_activations(model, [[1.0]], ["conv1"])  # type: ignore[arg-type]
    with pytest.raises(
        DataError, match=r"X must have shape \(N, \.\.\.\) with N >= 1 examples, got \(0, 4, 16\)"
    ):
        capture_activations(model, np.zeros((0, C, T), dtype=np.float32), ["conv1"])
    with pytest.raises(DataError, match="X must be a numeric array, got dtype <U1"):
        capture_activations(model, np.array([["a"]]), ["conv1"])


def test_read_only_memmap_input_is_read_batch_by_batch(tmp_path: Path) -> None:
    X = _windows(6)
    path = tmp_path / "X.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    model = _classifier()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. torch's warning about non-writable arrays
        from_map = capture_activations(model, mapped, ["conv2"], batch_size=4)
    np.testing.assert_array_equal(from_map["conv2"], capture_activations(model, X, ["conv2"])["conv2"])
