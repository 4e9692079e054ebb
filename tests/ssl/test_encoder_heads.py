from __future__ import annotations

import pytest
import torch

from fairssl.errors import ConfigError
from fairssl.finetune.freezing import freeze
from fairssl.finetune.setups import get_setup
from fairssl.ssl.encoder import Encoder
from fairssl.ssl.heads import Classifier, ClassifierHead, ProjectionHead


def n_trainable(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters() if p.requires_grad)


def mimic_model() -> Classifier:
    return Classifier(Encoder(76), ClassifierHead(96))


def test_parameter_count_matches_the_paper_for_mimic_shape() -> None:
    assert n_trainable(mimic_model()) == 153_154


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("1-first", 94_754),
        ("1-middle", 120_322),
        ("2-first-middle", 61_922),
        ("2-first-last", 45_506),
        ("3", 12_674),
    ],
)
def test_trainable_counts_per_setup_match_the_paper(setup: str, expected: int) -> None:
    model = mimic_model()
    for name in get_setup(setup).frozen:
        freeze(getattr(model.encoder, name))
    assert n_trainable(model) == expected


@pytest.mark.parametrize(
    ("padding", "t", "lengths"),
    [("valid", 48, [25, 10, 3]), ("valid", 101, [78, 63, 56]), ("same", 28, [28, 28, 28])],
)
def test_activation_lengths_follow_the_paper(padding: str, t: int, lengths: list[int]) -> None:
    enc = Encoder(5, padding=padding, n_steps=t)
    x = torch.randn(2, 5, t)
    for block, length in zip(enc.blocks(), lengths, strict=True):
        x = block(x)
        assert x.shape[2] == length
    assert enc(torch.randn(2, 5, t)).shape == (2, 96)


def test_heads_shapes_and_linear_projection_output() -> None:
    proj = ProjectionHead(96)
    z = proj(torch.randn(4, 96))
    assert z.shape == (4, 50)
    assert isinstance(proj[-1], torch.nn.Linear)  # no activation after the last layer
    assert mimic_model()(torch.randn(3, 76, 48)).shape == (3, 2)


def test_glorot_weights_and_zero_bias() -> None:
    enc = Encoder(76)
    conv = enc.conv1.conv
    assert torch.all(conv.bias == 0)
    fan_in, fan_out = 76 * 24, 32 * 24
    bound = (6 / (fan_in + fan_out)) ** 0.5
    assert conv.weight.abs().max() <= bound + 1e-7


def test_too_short_windows_and_bad_sizes_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"too short for 'valid' convolutions.*need at least 46"):
        Encoder(5, n_steps=28)
    with pytest.raises(ConfigError, match="equal length"):
        Encoder(5, widths=(8, 8), kernels=(3,))
    with pytest.raises(ConfigError, match="padding must be 'valid' or 'same'"):
        Encoder(5, padding="causal")
