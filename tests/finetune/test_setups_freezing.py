from __future__ import annotations

import pytest
import torch

from fairssl.config import SETUP_NAMES, build_config
from fairssl.errors import ConfigError
from fairssl.finetune.freezing import freeze, is_frozen, set_train_mode, trainable_parameters, unfreeze
from fairssl.finetune.setups import get_setup


def test_all_paper_setups_resolve_with_their_frozen_layers() -> None:
    frozen = {name: get_setup(name).frozen for name in SETUP_NAMES}
    assert frozen["supervised"] == () and not get_setup("supervised").pretrained
    assert frozen["1-middle"] == ("conv2",)
    assert frozen["2-first-last"] == ("conv1", "conv3")
    assert frozen["3"] == ("conv1", "conv2", "conv3")
    assert all(get_setup(n).pretrained for n in SETUP_NAMES if n != "supervised")


def test_custom_and_linear_probe_setups() -> None:
    assert get_setup("freeze:conv2, conv3").frozen == ("conv2", "conv3")
    probe = get_setup("linear-probe")
    assert probe.linear_head and probe.n_frozen == 3
    with pytest.raises(ConfigError, match=r"unknown layer\(s\) \['conv9'\]"):
        get_setup("freeze:conv9")
    with pytest.raises(ConfigError, match="unknown setup '4'"):
        get_setup("4")
    with pytest.raises(ConfigError, match="which this encoder lacks"):
        get_setup("3", ["conv1", "conv2"])


def test_freeze_unfreeze_and_optimizer_groups() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.BatchNorm1d(3), torch.nn.Linear(3, 1))
    freeze(model[0])
    freeze(model[1])
    assert is_frozen(model[0]) and not is_frozen(model[2])
    params = list(trainable_parameters(model))
    assert len(params) == 2
    opt = torch.optim.SGD(params, lr=0.1)
    set_train_mode(model, [model[1]])
    assert model.training and not model[1].training  # normalisation of a frozen module stays in eval
    unfreeze(model[0], opt)
    assert len(opt.param_groups) == 2 and not is_frozen(model[0])


# ------------------------------------------------------------------------------- random-init controls
@pytest.mark.parametrize(
    ("name", "base"),
    [
        ("random:3", "3"),
        ("random:1-middle", "1-middle"),
        ("random:2-first-middle", "2-first-middle"),
        ("random:freeze:conv1,conv3", "freeze:conv1,conv3"),
        ("random:linear-probe", "linear-probe"),
    ],
)
def test_random_controls_freeze_like_their_setup_but_are_not_pretrained(name: str, base: str) -> None:
    control, ssl = get_setup(name), get_setup(base)
    assert control.name == name and control.control_of == base and control.is_control
    assert control.frozen == ssl.frozen and control.linear_head == ssl.linear_head
    assert ssl.pretrained and not control.pretrained
    assert not ssl.is_control and not get_setup("supervised").is_control


def test_random_controls_check_layers_against_the_encoder() -> None:
    assert get_setup("random:freeze:conv2", ["conv1", "conv2"]).frozen == ("conv2",)
    assert get_setup("random:linear-probe", ["conv1", "conv2"]).frozen == ("conv1", "conv2")
    with pytest.raises(ConfigError, match="which this encoder lacks"):
        get_setup("random:3", ["conv1", "conv2"])
    with pytest.raises(ConfigError, match=r"unknown layer\(s\) \['conv9'\]"):
        get_setup("random:freeze:conv9")


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("random:bogus", r"unknown setup 'random:bogus': 'bogus' is not a setup; random:<setup> takes"),
        ("random:", r"unknown setup 'random:': '' is not a setup"),
        ("random:0", r"setup 'random:0' freezes nothing, so it is the supervised baseline.*use 'supervised'"),
        ("random:supervised", r"setup 'random:supervised' freezes nothing"),
        ("random:freeze:", r"setup 'random:freeze:' freezes nothing"),
        ("random:random:3", r"setup 'random:random:3' nests random: controls; write random:<setup> once"),
        ("bogus", r"unknown setup 'bogus'; allowed: .* or random:<setup> \(a random-init control\)"),
    ],
)
def test_bad_setup_names_fail_in_get_setup_and_in_the_config(name: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        get_setup(name)
    with pytest.raises(ConfigError, match=r"config key 'finetune.setups': " + match):
        build_config({"finetune": {"setups": ["supervised", name]}})


def test_the_config_accepts_random_controls() -> None:
    names = ["supervised", "3", "random:3", "random:freeze:conv1,conv3", "random:linear-probe"]
    assert build_config({"finetune": {"setups": names}}).finetune.setups == names
