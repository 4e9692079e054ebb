from __future__ import annotations

import pytest
import torch

from fairssl.config import SETUP_NAMES
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
