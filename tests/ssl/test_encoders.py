"""The encoder seam: shapes and names per architecture, the CNN unchanged, lengths, factories."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
import torch
from torch import nn

from fairssl.config_training import ModelConfig
from fairssl.errors import ConfigError
from fairssl.similarity.activations import capture_activations
from fairssl.ssl.encoders import (
    ARCHITECTURES,
    build_encoder,
    check_encoder,
    encoder_layer_names,
    load_factory,
    min_input_length,
    penalised_weights,
)
from fairssl.ssl.encoders.length import check_input_length
from fairssl.ssl.encoders.transformer import sinusoidal_positions


# --- a frozen copy of the CNN as it was before the encoder package (the oracle for "unchanged") ---
class _OldConvBlock(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, *, padding: str, dropout: float) -> None:
        super().__init__(
            nn.Conv1d(c_in, c_out, kernel_size=kernel, stride=1, padding=padding),
            nn.ReLU(),
            nn.Dropout(dropout),
        )
        nn.init.xavier_uniform_(self[0].weight)
        nn.init.zeros_(self[0].bias)


class _OldEncoder(nn.Module):
    def __init__(
        self, in_channels: int, *, widths: Sequence[int], kernels: Sequence[int], padding: str, dropout: float
    ) -> None:
        super().__init__()
        c_in = in_channels
        self.layer_names = tuple(f"conv{i + 1}" for i in range(len(widths)))
        for name, width, kernel in zip(self.layer_names, widths, kernels, strict=True):
            self.add_module(name, _OldConvBlock(c_in, width, kernel, padding=padding, dropout=dropout))
            c_in = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.layer_names:
            x = getattr(self, name)(x)
        return x.amax(dim=2)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_the_cnn_is_the_paper_encoder_bit_for_bit(padding: str) -> None:
    model = ModelConfig(widths=[8, 16, 12], kernels=[5, 3, 3], padding=padding)
    torch.manual_seed(3)
    new = build_encoder(model, 4, 30)
    after_new = torch.rand(1)
    torch.manual_seed(3)
    old = _OldEncoder(4, widths=[8, 16, 12], kernels=[5, 3, 3], padding=padding, dropout=0.1)
    after_old = torch.rand(1)
    assert list(new.state_dict()) == list(old.state_dict())  # same keys, same order
    for key, value in old.state_dict().items():
        assert torch.equal(new.state_dict()[key], value)
    assert torch.equal(after_new, after_old)  # the same random draws were consumed
    x = torch.randn(6, 4, 30)
    new.eval(), old.eval()
    assert torch.equal(new(x), old(x))
    assert new.layer_names == ("conv1", "conv2", "conv3") and new.out_dim == 12


@pytest.mark.parametrize(
    ("arch", "names", "shapes"),
    [
        ("cnn", ("conv1", "conv2", "conv3"), [(2, 8, 28), (2, 16, 26), (2, 12, 24)]),
        ("resnet1d", ("res1", "res2", "res3"), [(2, 8, 32), (2, 16, 16), (2, 12, 8)]),
        ("transformer", ("layer1", "layer2", "layer3"), [(2, 8, 4), (2, 16, 4), (2, 12, 4)]),
    ],
)
def test_every_architecture_exposes_named_blocks_shaped_like_convolutions(
    arch: str, names: tuple[str, ...], shapes: list[tuple[int, ...]]
) -> None:
    model = ModelConfig(arch=arch, widths=[8, 16, 12], kernels=[5, 3, 3], heads=2, patch_length=8)
    torch.manual_seed(0)
    encoder = build_encoder(model, 3, 32).eval()
    assert check_encoder(encoder, source="test") is encoder
    assert encoder.layer_names == names == encoder_layer_names(model)
    assert encoder.out_dim == 12
    x = torch.randn(2, 3, 32)
    acts = capture_activations(encoder, x, list(names))  # hooks on the blocks, as CKA reads them
    assert [acts[n].shape for n in names] == [(2, s[1] * s[2]) for s in shapes]
    h, seen = x, []
    for name, block in zip(names, encoder.blocks(), strict=True):
        assert getattr(encoder, name) is block
        h = block(h)
        seen.append(tuple(h.shape))
    assert seen == shapes
    # the representation is the global max over time of the last block's activation
    torch.testing.assert_close(encoder(x), h.amax(dim=2))
    torch.testing.assert_close(torch.from_numpy(acts[names[-1]]).reshape(shapes[-1]), h)


def test_the_position_code_is_the_sinusoid_formula() -> None:
    code = sinusoidal_positions(5, 6)
    for t in range(5):
        for j in range(3):
            angle = t / 10000 ** (2 * j / 6)
            assert code[2 * j, t].item() == pytest.approx(torch.tensor(angle).sin().item(), abs=1e-6)
            assert code[2 * j + 1, t].item() == pytest.approx(torch.tensor(angle).cos().item(), abs=1e-6)
    assert sinusoidal_positions(4, 5).shape == (5, 4)  # odd widths drop the last cosine row


def test_the_l2_penalty_covers_kernels_and_matrices_not_biases_or_norms() -> None:
    cnn = build_encoder(ModelConfig(widths=[4], kernels=[3]), 2, 10)
    assert [w is cnn.conv1.conv.weight for w in penalised_weights(cnn.conv1)] == [True]
    res = build_encoder(ModelConfig(arch="resnet1d", widths=[4, 6], kernels=[3, 3]), 2, 10)
    # res2: two kernels and the 1x1 shortcut kernel (width changes); no BN scale, no bias
    assert sorted(tuple(w.shape) for w in penalised_weights(res.res2)) == [(6, 4, 1), (6, 4, 3), (6, 6, 3)]


@pytest.mark.parametrize(
    ("settings", "need"),
    [
        ({}, 46),  # the paper's kernels 24/16/8, 'valid': 23 + 15 + 7 + 1
        ({"padding": "same"}, 1),
        ({"arch": "resnet1d"}, 4),  # 3 blocks, two halvings
        ({"arch": "resnet1d", "widths": [8] * 5, "kernels": [3] * 5}, 16),
        ({"arch": "transformer", "patch_length": 12}, 12),  # one patch
    ],
)
def test_min_input_length_follows_each_architectures_rule(settings: dict, need: int) -> None:
    model = ModelConfig(**settings)
    state = torch.get_rng_state()
    assert min_input_length(model) == need
    assert torch.equal(torch.get_rng_state(), state)  # built without touching the global generator
    check_input_length(model, need)
    if need > 1:  # too short: one line from the check and from building, before any forward pass
        with pytest.raises(ConfigError, match=f"too short for the encoder: .*at least {need} steps"):
            check_input_length(model, need - 1)
        with pytest.raises(ConfigError, match=f"too short for .*at least {need}"):
            build_encoder(model, 2, need - 1)
    build_encoder(model, 2, need)(torch.zeros(2, 2, need))  # the shortest window runs


def test_transformer_messages_name_its_own_settings() -> None:
    with pytest.raises(ConfigError, match=r"model.patch_length = 8 needs at least 8 steps \(one patch\)"):
        check_input_length(ModelConfig(arch="transformer"), 7, window_key="data.options.window")
    with pytest.raises(ValueError, match=r"width\(s\) \[6\] not divisible by model.heads = 4"):
        ModelConfig(arch="transformer", widths=[8, 6], kernels=[3, 3])


def test_layer_names_need_no_data_and_leave_the_global_generator_alone() -> None:
    state = torch.get_rng_state()
    assert encoder_layer_names(ModelConfig(widths=[4, 4, 4, 4], kernels=[3] * 4)) == tuple(
        f"conv{i}" for i in range(1, 5)
    )
    assert encoder_layer_names(ModelConfig(arch="resnet1d", widths=[4, 8], kernels=[3, 3])) == (
        "res1",
        "res2",
    )
    assert torch.equal(torch.get_rng_state(), state)
    assert set(ARCHITECTURES) == {"cnn", "resnet1d", "transformer"}


# --- bring your own encoder ------------------------------------------------------------------------------
FACTORY_MODULE = """
import torch
from torch import nn


class Mine(nn.Module):
    def __init__(self, c, t, width):
        super().__init__()
        self.stem = nn.Conv1d(c, width, 3, padding=1)
        self.mix = nn.Sequential(nn.Conv1d(width, width, 1), nn.BatchNorm1d(width), nn.ReLU())
        self.layer_names = ("stem", "mix")
        self.out_dim = width
        self.n_steps = t

    def blocks(self):
        return [self.stem, self.mix]

    def forward(self, x):
        return self.mix(self.stem(x)).mean(dim=2)


def build(in_channels, n_steps, model):
    return Mine(in_channels, n_steps, model.widths[-1])


def no_names(in_channels, n_steps, model):
    m = Mine(in_channels, n_steps, 4)
    del m.layer_names
    return m


def wrong_block(in_channels, n_steps, model):
    m = Mine(in_channels, n_steps, 4)
    m.blocks = lambda: [m.mix, m.stem]
    return m


def not_a_module(in_channels, n_steps, model):
    return "encoder"


NOT_CALLABLE = 3
"""


@pytest.fixture
def factory_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "my_encoders.py").write_text(FACTORY_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_encoders"
    sys.modules.pop("my_encoders", None)


def test_a_factory_builds_the_encoder_and_gives_its_names(factory_module: str) -> None:
    model = ModelConfig(factory=f"{factory_module}:build", widths=[6], kernels=[3])
    encoder = build_encoder(model, 2, 11)
    assert type(encoder).__name__ == "Mine" and encoder.n_steps == 11 and encoder.out_dim == 6
    assert encoder_layer_names(model) == ("stem", "mix")
    assert min_input_length(model) == 1  # fairssl cannot know: the factory checks n_steps itself


@pytest.mark.parametrize(
    ("function", "match"),
    [
        ("no_names", r"model.factory = 'my_encoders:no_names' returned a Mine without layer_names"),
        ("wrong_block", r"has no submodule attribute 'stem' that is blocks\(\)\[0\]"),
        ("not_a_module", r"returned a str, not a torch.nn.Module"),
        ("missing", r"module 'my_encoders' has no function 'missing'"),
        ("NOT_CALLABLE", r"module 'my_encoders' has no function 'NOT_CALLABLE'"),
    ],
)
def test_a_factory_that_breaks_the_seam_is_one_config_error(
    factory_module: str, function: str, match: str
) -> None:
    model = ModelConfig(factory=f"{factory_module}:{function}", widths=[4], kernels=[3])
    with pytest.raises(ConfigError, match=match) as err:
        build_encoder(model, 2, 10)
    assert "\n" not in str(err.value)


def test_bad_factory_strings_and_modules_are_config_errors() -> None:
    with pytest.raises(
        ValueError, match=r"model.factory = 'no_colon' is not of the form 'package.module:function'"
    ):
        ModelConfig(factory="no_colon")
    with pytest.raises(
        ConfigError, match=r"module 'fairssl_no_such_mod' cannot be imported \(ModuleNotFoundError"
    ):
        load_factory("fairssl_no_such_mod:build")
