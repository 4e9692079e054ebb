"""Data replicates: grid expansion, which setting each replicate redraws, the guard against a source that
cannot redraw, and a whole study pooled over replicates (report included)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fairssl.config import StudyConfig
from fairssl.errors import ConfigError, DataError
from fairssl.experiments.grid import (
    ID_NEUTRAL_DEFAULTS,
    _id_section,
    expand,
    replicate_settings,
    unique_runs,
    variants,
)
from fairssl.experiments.runner import check_replicates_differ, run_study
from fairssl.experiments.study_analysis import reanalyse
from fairssl.loader_options import REPLICATE_STRIDE, replicate_key


def _config(tiny: dict[str, Any], **extra: Any) -> StudyConfig:
    return StudyConfig.model_validate({**tiny, **extra})


def test_replicates_expand_each_grid_point(tiny_config_dict: dict[str, Any]) -> None:
    cfg = _config(tiny_config_dict, replicates=3, grid={"finetune.lr": [0.1, 0.2]})
    vs = variants(cfg)
    assert [v.name for v in vs] == [f"finetune.lr={lr}, replicate={r}" for lr in (0.1, 0.2) for r in range(3)]
    assert [v.point for v in vs] == ["finetune.lr=0.1"] * 3 + ["finetune.lr=0.2"] * 3
    seeds = [v.config.data.simulate.seed for v in vs]
    assert seeds == [0, REPLICATE_STRIDE, 2 * REPLICATE_STRIDE] * 2
    assert all(v.config.finetune.lr == (0.1 if i < 3 else 0.2) for i, v in enumerate(vs))
    # every replicate trains its own models: no run is shared between replicates of a point
    runs = unique_runs(expand(cfg))
    per_variant = len(cfg.seeds) * len(cfg.finetune.setups)
    assert sum(r.kind == "finetune" for r in runs) == 6 * per_variant


def test_one_replicate_is_the_study_as_before(tiny_config_dict: dict[str, Any]) -> None:
    one = _config(tiny_config_dict)
    assert [v.name for v in variants(one)] == ["base"]
    three = _config(tiny_config_dict, replicates=3)
    assert variants(three)[0].name == "replicate=0"
    # replicate 0 is the configured data: its runs are the one-replicate study's runs
    ids = {s.run_id for s in expand(one)}
    assert ids == {s.run_id for s in expand(three) if s.variant == "replicate=0"}


def test_settings_added_later_leave_run_ids_alone_at_their_neutral_value() -> None:
    values = {"lr": 0.1, "method": "simclr", "objective": {}, "seed": 3}
    assert _id_section("pretrain", values, drop=("seed",)) == {"lr": 0.1}
    assert _id_section("pretrain", {**values, "method": "vicreg"}, drop=("seed",)) == {
        "lr": 0.1,
        "method": "vicreg",
    }
    assert set(ID_NEUTRAL_DEFAULTS) == {"model", "pretrain", "finetune"}
    neutral_model = {"widths": [8], "arch": "cnn", "factory": None, "patch_length": 8, "heads": 4}
    assert _id_section("model", neutral_model) == {"widths": [8]}
    assert _id_section("model", {"widths": [8], "arch": "resnet1d"}) == {"widths": [8], "arch": "resnet1d"}
    # without a mitigation, its targets and options do not enter the id (a grid's `none` cell)
    ft = {
        "lr": 1e-3,
        "mitigation": "none",
        "mitigation_attributes": ["sex"],
        "mitigation_options": {"eta": 1},
    }
    assert _id_section("finetune", ft) == {"lr": 1e-3}
    assert _id_section("finetune", {**ft, "mitigation": "reweigh"}) == {**ft, "mitigation": "reweigh"}


def test_replicate_key_per_source(tiny_config_dict: dict[str, Any]) -> None:
    cfg = _config(tiny_config_dict)
    assert replicate_key(cfg.data) == ("data.simulate.seed", 0)
    assert replicate_settings(cfg, 2) == {"data.simulate.seed": 2 * REPLICATE_STRIDE}
    long = StudyConfig.model_validate(
        {"data": {"source": "long", "path": "/t.csv", "options": {"window": 6, "seed": 5}}}
    )
    assert replicate_key(long.data) == ("data.options.seed", 5)
    # a folder's split is given by its files; a loader that draws only part of the split (MIMIC-III
    # redraws validation, not the benchmark's test set) is caught on its data (next test)
    fixed = StudyConfig.model_validate({"data": {"source": "folder", "path": "/m"}, "replicates": 2})
    with pytest.raises(ConfigError, match=r"fixed split.*replicates = 1"):
        variants(fixed)


def _npz(path: Path, *, with_split: bool) -> Path:
    rng = np.random.default_rng(0)
    n_subj, per = 30, 4
    subject = np.repeat([f"s{i:02d}" for i in range(n_subj)], per)
    arrays: dict[str, Any] = {
        "X": rng.standard_normal((n_subj * per, 2, 16)).astype(np.float32),
        "y": rng.integers(0, 2, n_subj * per),
        "subject": subject,
        "sex": np.repeat(rng.choice(["f", "m"], n_subj), per),
    }
    if with_split:
        arrays["split"] = np.repeat(np.array(["train", "val", "test"])[np.arange(n_subj) % 3], per)
    np.savez(path, **arrays)
    return path


def test_a_source_that_ignores_the_seed_is_refused_before_training(tmp_path: Path) -> None:
    for given, expect in ((True, True), (False, False)):
        path = _npz(tmp_path / f"w{given}.npz", with_split=given)
        cfg = StudyConfig.model_validate({"data": {"source": "arrays", "path": str(path)}, "replicates": 2})
        if expect:
            with pytest.raises(DataError, match="replicate 1 of base has the same test set"):
                check_replicates_differ(variants(cfg))
        else:
            check_replicates_differ(variants(cfg))


def test_study_with_replicates_pools_them(tiny_config_dict: dict[str, Any], tmp_path: Path) -> None:
    cfg = _config(
        tiny_config_dict,
        replicates=2,
        output_dir=str(tmp_path),
        runtime={"workers": 1},
        finetune={**tiny_config_dict["finetune"], "setups": ["supervised", "0"]},
    )
    root = run_study(cfg, log=lambda _m: None)
    results = root / "results"
    pooled = pd.read_csv(results / "comparison.csv")
    per = pd.read_csv(results / "replicate_comparison.csv")
    assert set(pooled["variant"]) == {"base"}
    assert set(per["variant"]) == {"replicate=0", "replicate=1"}
    ssl = pooled.set_index("setup").loc["0"]
    assert ssl["replicates"] == 2 and ssl["n_pairs"] == 2
    assert "data split (2 replicates)" in ssl["sources"]
    # the pooled change is the mean of the replicates' changes (one seed each)
    per_ssl = per[per["setup"] == "0"]
    assert ssl["pd_change"] == pytest.approx(per_ssl["pd_change"].mean())
    info = json.loads((results / "replicates.json").read_text())
    assert info["replicates"] == 2 and info["redraws"] == "data.simulate.seed"
    assert info["points"]["base"]["unit"] == "replicates"
    page = (root / "report.html").read_text()
    assert "data replicates" in page and "replicate=1" in page
    # analysis settings change without retraining: pooled again
    reanalyse(root, {"evaluation.alpha": 0.1}, log=lambda _m: None)
    again = pd.read_csv(results / "comparison.csv").set_index("setup").loc["0"]
    assert again["alpha"] == 0.1 and again["replicates"] == 2


def test_a_study_without_resamples_completes_every_stage(
    tiny_config_dict: dict[str, Any], tmp_path: Path
) -> None:
    """``evaluation.n_boot = 0`` (point values only): the results then hold a plug-in ``value`` column
    beside ``estimate``, which the label-amplification table once read twice (a TypeError)."""
    evaluation = {**tiny_config_dict["evaluation"], "n_boot": 0}
    cfg = _config(
        tiny_config_dict,
        output_dir=str(tmp_path),
        runtime={"workers": 1},
        evaluation=evaluation,
        finetune={**tiny_config_dict["finetune"], "setups": ["supervised", "0"]},
        similarity={"enabled": False},
        probes={"enabled": False},
    )
    root = run_study(cfg, log=lambda _m: None)
    record = json.loads((root / "results" / "analysis.json").read_text())
    assert record["stages"]["inference"]["status"] == "completed"
    amp = pd.read_csv(root / "results" / "label_amplification.csv")
    assert len(amp) and {"setup", "attribute", "group"} <= set(amp.columns)


def test_mitigation_attributes_are_checked_against_the_data_before_training(
    tiny_config_dict: dict[str, Any], tmp_path: Path
) -> None:
    from fairssl.experiments.runner import check_mitigation_attributes
    from fairssl.experiments.workspace import load_study_data

    cfg = _config(
        tiny_config_dict,
        output_dir=str(tmp_path),
        finetune={**tiny_config_dict["finetune"], "mitigation": "reweigh", "mitigation_attributes": ["sx"]},
    )
    ds = load_study_data(cfg)
    with pytest.raises(DataError, match=r"mitigation_attributes names \['sx'\].*attributes are \["):
        check_mitigation_attributes(cfg, ds)
    with pytest.raises(DataError, match="mitigation_attributes names"):
        run_study(cfg, log=lambda _m: None)
    assert not list((tmp_path).glob("*/runs/*/done.json"))  # nothing was trained
    ok = cfg.with_settings({"finetune.mitigation_attributes": ["sex"]}, keep_grid=True)
    check_mitigation_attributes(ok, ds)
