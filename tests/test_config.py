from __future__ import annotations

import tomllib

import pytest

from fairssl.config import SETUP_NAMES, build_config, load_config, save_config
from fairssl.config_text import example_toml
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
    assert cfg == build_config({})  # the example pins nothing but the quick defaults


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


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        # an empty list leaves the CKA and probe stages with a table of no columns (DataError there)
        ({"evaluation": {"attributes": []}}, r"evaluation.attributes': must list attribute names"),
        ({"evaluation": {"attributes": ["sex", " "]}}, r"evaluation.attributes': must list attribute"),
        ({"evaluation": {"attributes": ["sex", "race", "sex"]}}, r"lists \['sex'\] more than once"),
        ({"evaluation": {"reference": {"sex": ""}}}, r"evaluation.reference': the reference group of"),
        # validate_reference in the evaluation stage rejects a reference of an attribute not evaluated
        (
            {"evaluation": {"attributes": ["race"], "reference": {"sex": "male"}}},
            r"evaluation.reference names \['sex'\], which are not in evaluation.attributes \['race'\]",
        ),
        # the probes' intervals need n_boot >= 1 (similarity/probes.py _check_options)
        ({"probes": {"n_boot": 0}}, r"probes.n_boot': must be at least 1: .*probes.enabled = false"),
        # the simulator ignores loader options; its knobs are [data.simulate]
        ({"data": {"options": {"window": 24}}}, r"data.options \['window'\] .*\[data.simulate\]"),
    ],
)
def test_analysis_and_data_settings_that_used_to_fail_late_fail_at_load(raw: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        build_config(raw)
    assert "\n" not in str(info.value)


def test_min_group_size_below_what_the_conditioned_cka_needs_fails_at_load() -> None:
    """Debiased CKA needs 4 windows (similarity/cka.py), and the CKA stage's group table asks at least
    4 of min_group_size (similarity/conditioned.py): 2 must not pass the config."""
    import pandas as pd

    from fairssl.similarity.conditioned import group_table

    frame = pd.DataFrame({"sex": ["f"] * 4 + ["m"] * 5})
    with pytest.raises(ConfigError, match="min_group_size must be an integer >= 4"):
        group_table(frame, min_group_size=3)  # what the CKA stage did 40 s into a run
    for bad in (2, 3):
        with pytest.raises(ConfigError, match=r"min_group_size': must be at least 4: the conditioned CKA"):
            build_config({"evaluation": {"min_group_size": bad}})
    cfg = build_config({"evaluation": {"min_group_size": 4}})
    table = group_table(frame, min_group_size=cfg.evaluation.min_group_size)  # the smallest accepted works
    assert list(table["status"]) == ["used", "used"]


def test_valid_reference_and_attribute_settings_still_load() -> None:
    cfg = build_config({"evaluation": {"attributes": ["sex", "race"], "reference": {"sex": "male"}}})
    assert cfg.evaluation.reference == {"sex": "male"}
    assert build_config({"evaluation": {"reference": {"race": "white"}}}).evaluation.attributes is None
    assert build_config({"probes": {"n_boot": 1}}).probes.n_boot == 1


def test_a_config_that_is_not_utf8_or_is_a_folder_is_one_line(tmp_path) -> None:
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes('name = "étude"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1.toml is not UTF-8 text \(byte 0xe9 at offset 8\)"):
        load_config(latin1)
    with pytest.raises(ConfigError, match="is a folder; give the path of a TOML file"):
        load_config(tmp_path)


def _example_profile_notes() -> list[tuple[str, object, object, object]]:
    """(dotted key, shown value, quick, paper) of the example's '# key = v  # profile: quick q, paper p'."""
    import re

    notes, section = [], ""
    for line in example_toml().splitlines():
        head = re.match(r"^\[([\w.]+)\]", line)
        if head:
            section = head.group(1)
        m = re.match(r"^# (\w+) = (.+?)\s+# profile: quick (.+?), paper (.+)$", line)
        if m:
            key, shown, quick, paper = m.groups()
            value = [tomllib.loads(f"v = {t}")["v"] for t in (shown, quick, paper)]
            notes.append((f"{section}.{key}", *value))
    return notes


def _flat(data: dict, prefix: str = "") -> dict[str, object]:
    """{"a": {"b": 1}} -> {"a.b": 1} (tables of sections only; values that are dicts stay whole if empty)."""
    out: dict[str, object] = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def test_example_matches_its_profile_and_pins_nothing_the_profiles_differ_in() -> None:
    """`profile = "quick"  # minutes` must be true: the example may not pin the paper's 200 epochs."""
    raw = tomllib.loads(example_toml())
    assert raw["profile"] == "quick"
    quick, paper = _flat(build_config({}).to_dict()), _flat(build_config({}, profile="paper").to_dict())
    differing = {key for key in quick if key != "profile" and quick[key] != paper[key]}
    assert {"pretrain.epochs", "finetune.epochs"} <= differing
    for profile, defaults in (("quick", quick), ("paper", paper)):
        got = _flat(build_config(raw, profile=profile).to_dict())
        for key in differing:
            assert got[key] == defaults[key], (profile, key)
    notes = _example_profile_notes()
    assert {k for k, *_ in notes} == differing  # every differing key is documented
    for key, shown, q, p in notes:
        assert shown == q == quick[key] and p == paper[key], key
    assert build_config(raw).pretrain.epochs == quick["pretrain.epochs"] != 200  # the quick profile's


def test_window_keys_name_real_options_of_each_loader() -> None:
    from fairssl.config import SimulationConfig
    from fairssl.loader_options import WINDOW_KEYS, loader_options, window_key

    for source, key in WINDOW_KEYS.items():
        section, sub, name = key.split(".")
        if source == "simulate":
            assert (section, sub) == ("data", "simulate") and name in SimulationConfig.model_fields
            continue
        data = build_config({"data": {"source": source, "path": "/x" if source != "pbcseq" else None}}).data
        assert (section, sub) == ("data", "options")
        assert name in [o.name for o in loader_options(data)[1]], key
        assert window_key(data) == key
    assert window_key(build_config({"data": {"source": "arrays", "path": "/x"}}).data) is None


def test_loader_options_resolve_given_defaults_and_required() -> None:
    from fairssl.loader_options import loader_options

    data = build_config({"data": {"source": "long", "path": "/t.csv", "options": {"stride": 6}}}).data
    loader, options = loader_options(data)
    assert loader.endswith("load_long_table")
    by_name = {o.name: o for o in options}
    # the defaults the README documents for the long source
    assert by_name["time_col"].value == "time" and not by_name["time_col"].given
    assert by_name["label_rule"].value == "last" and by_name["subject_col"].value == "subject"
    assert by_name["stride"].value == 6 and by_name["stride"].given
    assert by_name["window"].required and "path" not in by_name
    bad = build_config({"data": {"source": "long", "path": "/t.csv", "options": {"windw": 6}}}).data
    with pytest.raises(ConfigError, match=r"data.options \['windw'\] are not options of .*'long'.*window"):
        loader_options(bad)
    assert loader_options(build_config({}).data)[1] == []


def test_probe_resamples_the_config_rejects_are_the_ones_the_probe_stage_rejects() -> None:
    """probes.n_boot = 0 passed the config and failed in stage 5; the probe code needs >= 1."""
    import numpy as np
    import pandas as pd

    from fairssl.similarity.probes import demographic_probe

    rng = np.random.default_rng(0)
    acts = {"conv1": rng.normal(size=(40, 3))}
    sens = pd.DataFrame({"sex": ["f", "m"] * 20})
    subjects = np.repeat(np.arange(10), 4)
    with pytest.raises(ConfigError, match="n_boot must be an integer >= 1"):
        demographic_probe(acts, sens, subjects=subjects, n_splits=2, min_group_size=5, n_boot=0)
    with pytest.raises(ConfigError, match=r"probes\.n_boot"):
        build_config({"probes": {"n_boot": 0}})
    n_boot = build_config({"probes": {"n_boot": 1}}).probes.n_boot
    table = demographic_probe(acts, sens, subjects=subjects, n_splits=2, min_group_size=5, n_boot=n_boot)
    assert len(table) > 0


def test_required_loader_options_are_checked_before_loading() -> None:
    from fairssl.loader_options import check_loader_options

    long = {"source": "long", "path": "/t.csv"}
    with pytest.raises(
        ConfigError, match=r"data source 'long' needs data.options.window \(it has no default\)"
    ):
        check_loader_options(build_config({"data": long}))
    check_loader_options(build_config({"data": {**long, "options": {"window": 24}}}))
    check_loader_options(build_config({"data": long, "grid": {"data.options.window": [12, 24]}}))
    with pytest.raises(ConfigError, match=r"data.options \['windo'\] are not options"):
        check_loader_options(build_config({"data": {**long, "options": {"window": 2, "windo": 2}}}))
    check_loader_options(build_config({}))  # the simulator
