"""A study with a grid: shared runs execute once, every results row names its variant."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd
import pytest

from fairssl.config import build_config
from fairssl.experiments.grid import variants
from fairssl.experiments.runner import run_study
from fairssl.experiments.store import Store

pytestmark = pytest.mark.slow


def test_a_pretraining_grid_shares_the_supervised_runs_and_tags_results(
    tmp_path, tiny_config_dict, monkeypatch
) -> None:
    import fairssl.report.html

    monkeypatch.setattr(
        fairssl.report.html, "build_report", lambda run_dir, **_: Path(run_dir) / "report.html"
    )
    cfg = copy.deepcopy(tiny_config_dict)
    cfg["runtime"] = {"workers": 1, "threads": 1}
    cfg["grid"] = {"pretrain.augmentation": ["paper", "none"]}
    config = build_config(cfg)
    out = run_study(config, run_dir=tmp_path / "run", log=lambda _m: None)

    with Store(out / "results.sqlite", readonly=True) as store:
        records = store.records()
    # 2 pre-trainings (one per variant), 1 supervised run shared by both, 2 x 2 SSL fine-tunings
    assert sorted(r.kind for r in records) == ["finetune"] * 5 + ["pretrain"] * 2
    assert all(r.status == "done" for r in records)
    sup = next(r for r in records if r.setup == "supervised")
    assert len(list(out.glob("runs/*/done.json"))) == 7

    names = [v.name for v in variants(config)]
    assert names == ["pretrain.augmentation=paper", "pretrain.augmentation=none"]
    results = pd.read_parquet(out / "results" / "results.parquet")
    assert results.columns[0] == "variant" and set(results["variant"]) == set(names)
    for name in names:
        rows = results[results["variant"] == name]
        assert set(rows["setup"]) == {"supervised", "0", "2-first-last"}
        assert set(rows.loc[rows["setup"] == "supervised", "run_id"]) == {sup.run_id}
    # the shared run's metrics are the same in both variants; the SSL runs differ
    by_variant = {
        name: results[(results["variant"] == name) & (results["setup"] == "supervised")]
        .drop(columns="variant")
        .reset_index(drop=True)
        for name in names
    }
    pd.testing.assert_frame_equal(by_variant[names[0]], by_variant[names[1]])
    summary = pd.read_csv(out / "results" / "summary.csv")
    assert set(summary["variant"]) == set(names) and len(summary) == 6

    # each variant also has its own analysis folder
    for v in variants(config):
        folder = out / "variants" / v.slug
        assert json.loads((folder / "variant.json").read_text())["name"] == v.name
        own = pd.read_csv(folder / "results" / "summary.csv")
        assert len(own) == 3
