from __future__ import annotations

import tomllib

import pytest

from fairssl.config import SETUP_NAMES, build_config, example_toml, load_config, save_config
from fairssl.errors import ConfigError


def test_quick_profile_is_default_and_paper_uses_the_papers_settings() -> None:
    quick = build_config({})
    paper = build_config({}, profile="paper")
    assert quick.profile == "quick"
    assert paper.pretrain.epochs == 200 and paper.pretrain.temperature == 0.1
    assert paper.pretrain.batch_size == 128 and paper.finetune.batch_size == 128
    assert paper.finetune.optimizer == "adadelta" and paper.finetune.class_weights
    assert paper.finetune.selection == "loss" and paper.finetune.patience == 10
    assert paper.model.widths == [32, 64, 96] and paper.model.kernels == [24, 16, 8]
    assert paper.model.projection == [256, 128, 50] and paper.model.head_dropout == 0.6
    assert tuple(paper.finetune.setups) == SETUP_NAMES
    assert quick.pretrain.epochs < paper.pretrain.epochs


def test_file_profile_and_cli_profile_precedence(tmp_path) -> None:
    f = tmp_path / "s.toml"
    f.write_text('profile = "paper"\n')
    assert load_config(f).profile == "paper"
    assert load_config(f, profile="quick").profile == "quick"


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ({"pretrain": {"epohcs": 3}}, r"unknown config key 'pretrain.epohcs'; allowed keys here: .*epochs"),
        ({"finetune": {"optimizer": "rmsprop"}}, r"finetune.optimizer.*'adadelta', 'adam' or 'sgd'.*rmsprop"),
        ({"finetune": {"setups": ["2-first"]}}, r"unknown setup '2-first'; allowed: supervised"),
        ({"data": {"source": "mimic3"}}, r"data.path is required"),
        ({"seeds": []}, r"seeds must be a non-empty list"),
        ({"nmae": "x"}, r"unknown config key 'nmae'"),
        ({"pretrain": {"temperature": 0}}, r"pretrain.temperature.*greater than 0"),
        ({"data": {"simulate": {"pool_fraction": 1.5}}}, r"data.simulate.pool_fraction"),
    ],
)
def test_bad_values_give_one_line_naming_the_key(raw: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        build_config(raw)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("evaluation", "match"),
    [
        ({"min_group_size": 3}, r"evaluation.min_group_size': must be at least 4: the conditioned CKA"),
        ({"min_subjects": -1}, r"evaluation.min_subjects': must be 0 \(no check\) or a positive number"),
        ({"min_positives": -2}, r"evaluation.min_positives': must be 0 \(no check\) or a positive number"),
        ({"parity": "binary"}, r"evaluation.parity': Input should be 'pairwise' or 'paper'"),
        ({"deviation": "squared"}, r"evaluation.deviation': Input should be 'abs' or 'log'"),
        ({"reference": "largest"}, r"evaluation.reference': must be majority, rest, best or a table"),
        ({"privileged": {"sex": " "}}, r"evaluation.privileged': the privileged group of \['sex'\] is empty"),
        (
            {"attributes": ["sex"], "privileged": {"race": "white"}},
            r"evaluation.privileged names \['race'\], which are not in evaluation.attributes \['sex'\]",
        ),
        (
            {"attributes": ["sex", "race"], "parity": "paper", "privileged": {"sex": "male"}},
            r"parity = \"paper\" needs a privileged group for every attribute; .*lacks \['race'\]",
        ),
    ],
)
def test_evaluation_options_are_checked_at_load(evaluation: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        build_config({"evaluation": evaluation})
    assert "\n" not in str(info.value)


def test_evaluation_parity_defaults_and_valid_settings(tmp_path) -> None:
    ev = build_config({}).evaluation
    assert (ev.parity, ev.deviation, ev.privileged) == ("pairwise", "abs", {})
    assert (ev.min_group_size, ev.min_subjects, ev.min_positives) == (30, 5, 5)
    # attributes unknown at load: privileged is checked on the data
    cfg = build_config({"evaluation": {"parity": "paper", "privileged": {"sex": "male"}}})
    # a grid may vary parity while privileged stays set
    build_config({"evaluation": {"attributes": ["sex"], "privileged": {"sex": "male"}, "deviation": "log"}})
    full = build_config(
        {
            "evaluation": {
                "attributes": ["sex", "race"],
                "parity": "paper",
                "privileged": {"sex": "male", "race": "white"},
                "min_subjects": 0,
                "min_positives": 10,
            }
        }
    )
    for config in (cfg, full):
        save_config(config, tmp_path / "c.toml")
        assert load_config(tmp_path / "c.toml") == config


def test_unknown_profile_and_missing_file_and_bad_toml(tmp_path) -> None:
    with pytest.raises(ConfigError, match="unknown profile 'fast'; allowed: quick, paper"):
        build_config({}, profile="fast")
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("seeds = [0,\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_saved_config_round_trips(tmp_path) -> None:
    cfg = build_config({"seeds": [3, 4], "evaluation": {"reference": {"sex": "male"}}}, profile="paper")
    save_config(cfg, tmp_path / "c.toml")
    assert load_config(tmp_path / "c.toml") == cfg


def test_example_is_valid_and_documents_every_section() -> None:
    raw = tomllib.loads(example_toml())
    cfg = build_config(raw)
    for section in ("data", "model", "pretrain", "finetune", "evaluation", "similarity", "runtime"):
        assert f"[{section}]" in example_toml()
    assert cfg.seeds == [0, 1, 2]


def test_digest_changes_with_settings() -> None:
    a = build_config({})
    b = build_config({"finetune": {"lr": 0.01}})
    assert a.digest() == build_config({}).digest()
    assert a.digest() != b.digest()
    assert a.digest("data") == b.digest("data")


def test_example_grid_block_is_valid_when_uncommented() -> None:
    text = example_toml().replace('# "pretrain.augmentation"', '"pretrain.augmentation"')
    cfg = build_config(tomllib.loads(text))
    assert cfg.grid == {"pretrain.augmentation": ["paper", "default"]}
