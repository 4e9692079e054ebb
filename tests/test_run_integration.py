"""`fairssl run` end to end at a tiny size: outputs, determinism, resume."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from fairssl.cli import app
from fairssl.config import build_config
from fairssl.config_text import to_toml
from fairssl.experiments.runner import run_study

pytestmark = pytest.mark.slow


def _run(cfg: dict[str, Any], out: Path) -> Path:
    return run_study(build_config(cfg), run_dir=out, log=lambda _m: None)


def test_fairssl_run_writes_config_results_and_report(tmp_path, tiny_config_dict) -> None:
    study = tmp_path / "study.toml"
    tiny_config_dict["output_dir"] = str(tmp_path / "runs")
    study.write_text(to_toml(tiny_config_dict))
    res = CliRunner().invoke(app, ["run", "--config", str(study)])
    assert res.exit_code == 0, res.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    # 1. the resolved config, loadable as it is
    resolved = tomllib.loads((run_dir / "config.toml").read_text())
    assert resolved["finetune"]["setups"] == ["supervised", "0", "2-first-last"]
    # 2. machine-readable results: one row per run x label x attribute x group x metric
    results = pd.read_parquet(run_dir / "results" / "results.parquet")
    assert {
        "run_id",
        "setup",
        "seed",
        "label",
        "attribute",
        "group",
        "metric",
        "estimate",
        "ci_low",
        "ci_high",
    } <= set(results.columns)
    assert set(results["setup"]) == {"supervised", "0", "2-first-last"}
    assert {"auroc", "disparate_impact", "parity_deviation"} <= set(results["metric"])
    assert {"sex", "age_group", "race"} <= set(results["attribute"])
    assert set(results["label"]) == {"recorded", "clean"}
    summary = pd.read_csv(run_dir / "results" / "summary.csv")
    assert summary["auroc"].between(0, 1).all() and (summary["parity_deviation"] >= 0).all()
    cka = pd.read_csv(run_dir / "results" / "cka.csv")
    assert set(cka["setup"]) == {"0", "2-first-last"} and len(cka) == 2 * 9
    # 3. the report, with the two required figures embedded
    html = (run_dir / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 2
    assert (run_dir / "figures" / "auroc_by_setup.png").is_file()
    assert (run_dir / "figures" / "parity_deviation_by_setup.pdf").is_file()
    assert "supervised" in res.output and "parity deviation" in res.output


def test_same_config_and_seed_give_identical_metrics(tmp_path, tiny_config_dict) -> None:
    a = _run(tiny_config_dict, tmp_path / "a")
    b = _run(tiny_config_dict, tmp_path / "b")
    ra = pd.read_parquet(a / "results" / "results.parquet").drop(columns=["run_id"])
    rb = pd.read_parquet(b / "results" / "results.parquet").drop(columns=["run_id"])
    pd.testing.assert_frame_equal(ra, rb)
    tiny_config_dict["seeds"] = [1]
    c = _run(tiny_config_dict, tmp_path / "c")
    rc = pd.read_csv(c / "results" / "summary.csv")
    assert not rc["auroc"].equals(pd.read_csv(a / "results" / "summary.csv")["auroc"])


def test_rerun_resumes_and_recomputes_nothing_finished(tmp_path, tiny_config_dict) -> None:
    out = _run(tiny_config_dict, tmp_path / "r")
    done = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("runs/*/done.json")}
    assert len(done) == 4  # 1 pre-training + 3 setups
    logs: list[str] = []
    run_study(build_config(tiny_config_dict), run_dir=out, log=logs.append)
    assert any("4 of 4 runs already done" in line for line in logs)
    # the analysis says what it is doing and how long each phase took (minutes at paper size)
    for phase in ("evaluation", "similarity"):
        assert any(line.startswith(f"{phase}: ") for line in logs), logs
        assert any(re.fullmatch(rf"{phase} done \(\d+ s\)", line) for line in logs), logs
    assert {p.parent.name: p.stat().st_mtime_ns for p in out.glob("runs/*/done.json")} == done


def test_pool_composition_grid_runs_every_variant_and_records_shares(tmp_path, tiny_config_dict) -> None:
    tiny_config_dict["grid"] = {"pretrain.pool": ["full", "exclude:sex=female"]}
    tiny_config_dict["finetune"]["setups"] = ["supervised", "3"]
    out = _run(tiny_config_dict, tmp_path / "pools")
    results = pd.read_parquet(out / "results" / "results.parquet")
    assert set(results["variant"]) == {"pretrain.pool=full", "pretrain.pool=exclude:sex=female"}
    pools = {p.parent.name: pd.read_csv(p) for p in out.glob("runs/pre-*/pool.csv")}
    assert len(pools) == 2
    male_only = [t for t in pools.values() if set(t[t.attribute == "sex"]["group"]) == {"male"}]
    assert len(male_only) == 1 and male_only[0].groupby("attribute")["share"].sum().round(6).eq(1).all()
    from fairssl.experiments.store import Store

    with Store(out / "results.sqlite", readonly=True) as store:
        metrics = [store.metrics(r.run_id) for r in store.records() if r.kind == "pretrain"]
    assert any(m.get("pool_share:sex=male") == 1.0 for m in metrics)
    # the stacked results/pool.csv and the root report's across-variants section
    stacked = pd.read_csv(out / "results" / "pool.csv")
    sex = stacked[stacked.attribute == "sex"].groupby(["variant", "group"])["share"].sum()
    assert "female" not in sex.loc["pretrain.pool=exclude:sex=female"].index
    assert sex.loc["pretrain.pool=full"].sum() == pytest.approx(1.0)
    tables = out / "results" / "report_tables"
    comparison = pd.read_csv(tables / "variant_comparison.csv")
    assert len(comparison) == 4 and set(comparison["setup"].astype(str)) == {"supervised", "3"}
    shares = pd.read_csv(tables / "pool_shares.csv").set_index(["attribute", "group"])
    assert shares.loc[("sex", "female"), "pretrain.pool=exclude:sex=female"] == "0.0% (0)"
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="sec-variants"' in html and "Fairness and AUROC across variants" in html
    assert (out / "figures" / "fairness_across_variants.png").is_file()
