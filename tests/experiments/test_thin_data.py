"""Real data is thin: a study on a small, imbalanced cohort runs to a complete report, says what it could
not compute and why, and re-analyses with other settings without training anything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fairssl.cli import app
from fairssl.config import build_config, load_config
from fairssl.errors import ConfigError, RunError
from fairssl.experiments import analyse as analyse_module
from fairssl.experiments.runner import run_study
from fairssl.experiments.status import study_status
from fairssl.experiments.store import Store
from fairssl.experiments.study_analysis import reanalyse
from fairssl.report.analysis_record import read_analysis_record

pytestmark = pytest.mark.slow

ETHNICITY_TEST = ["A"] * 12 + ["B"] * 8 + ["C"] * 6 + ["D"] * 2 + ["E"] * 2
"""Test subjects per group (3 windows each): D and E have 6 test windows, below a minimum of 12."""


def write_thin_cohort(folder: Path, seed: int = 0) -> tuple[Path, Path]:
    """A long table in a real cohort's shape: 105 subjects x 24 rows, one channel of mean 25 and SD 9.5
    (unscaled), time gaps of 5-10 steps inside some series, a fixed split; test set: sex with 2 female
    subjects (6 windows), a 5-group ethnicity with 2 groups of 2 subjects."""
    rng = np.random.default_rng(seed)
    splits = ["train"] * 60 + ["val"] * 15 + ["test"] * 30
    rows, demo = [], []
    for i, split in enumerate(splits):
        sid = f"s{i:03d}"
        if split == "test":
            j = i - 75
            sex, eth = ("female" if j < 2 else "male"), ETHNICITY_TEST[j]
        else:
            sex, eth = str(rng.choice(["female", "male"])), str(rng.choice(list("ABCDE")))
        demo.append({"subject": sid, "sex": sex, "ethnicity": eth})
        t = np.arange(24, dtype=float)
        t[12:] += rng.choice([0, 0, 5, 10])
        hr = 25 + 9.5 * (0.7 * rng.normal() + 0.7 * rng.normal(size=24))
        y = rng.random(24) < 1 / (1 + np.exp(-2 * (hr - 25) / 9.5))
        steps = rng.normal(size=24)
        for k in range(24):
            rows.append(
                {
                    "subject": sid,
                    "time": t[k],
                    "hr": hr[k],
                    "steps": steps[k],
                    "label": int(y[k]),
                    "split": split,
                }
            )
    data, demographics = folder / "cohort.csv", folder / "demographics.csv"
    pd.DataFrame(rows).to_csv(data, index=False)
    pd.DataFrame(demo).to_csv(demographics, index=False)
    return data, demographics


def thin_config(folder: Path) -> dict[str, Any]:
    data, demographics = write_thin_cohort(folder)
    return {
        "name": "thin",
        "seeds": [0, 1],
        "output_dir": str(folder / "out"),
        "data": {
            "source": "long",
            "path": str(data),
            "options": {"window": 8, "stride": 8, "demographics": str(demographics), "split_col": "split"},
        },
        "model": {"widths": [8, 8, 8], "padding": "same"},
        "pretrain": {"epochs": 2, "batch_size": 32},
        "finetune": {"epochs": 3, "batch_size": 32, "setups": ["supervised", "0", "2-first-last"]},
        "evaluation": {"n_boot": 30, "min_group_size": 12, "min_subjects": 2, "min_positives": 1},
        "similarity": {"n_draws": 2, "n_permutations": 2},
        "probes": {"n_boot": 10},
    }


@pytest.fixture(scope="module")
def thin_study(tmp_path_factory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("thin")
    raw = thin_config(folder)
    path = folder / "study.toml"
    from fairssl.config_text import to_toml

    path.write_text(to_toml(raw))
    res = CliRunner().invoke(app, ["run", "--config", str(path), "--out", str(folder / "run")])
    assert res.exit_code == 0, res.output
    return folder / "run", raw


def _gaps(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "results" / "unavailable.csv", dtype=str, keep_default_na=False)


def test_a_thin_cohort_runs_to_a_complete_report_with_reason_codes(thin_study) -> None:
    run_dir, _ = thin_study
    assert (run_dir / "report.html").is_file()
    record = read_analysis_record(run_dir)
    assert record.present
    assert {s: i.status for s, i in record.stages.items()} == dict.fromkeys(
        ("evaluation", "inference", "similarity", "probes"), "completed"
    )
    gaps = _gaps(run_dir)
    below = gaps[(gaps.stage == "evaluation") & (gaps.reason == "group_below_min_size")]
    # exactly the groups the fixture made small: sex=female and ethnicity D, E (6 test windows each)
    assert sorted(zip(below.attribute, below.group, strict=True)) == [
        ("ethnicity", "D"),
        ("ethnicity", "E"),
        ("sex", "female"),
    ]
    assert (below.setup == "").all()  # the shared test set: one row for every setup
    assert below.detail.str.contains("6 test windows").all()
    assert below.detail.str.contains("evaluation.min_group_size = 12").all()
    # sex is left with one group: no parity deviation, no best-vs-worst CKA, no probes
    sex = gaps[(gaps.attribute == "sex") & (gaps.group == "")]
    assert {"parity_deviation", "cka_best_worst", "probe_demographic", "probe_task"} <= set(sex.quantity)
    assert not gaps[(gaps.attribute == "ethnicity") & (gaps.quantity == "cka_best_worst")].shape[0]
    results = pd.read_csv(run_dir / "results" / "results.csv")
    eth_pd = results[
        (results.metric == "parity_deviation")
        & (results.attribute == "ethnicity")
        & (results.label == "recorded")
    ]
    assert len(eth_pd) == 6  # ethnicity keeps A, B, C: a parity deviation for each of the 6 models


def test_status_says_which_analysis_stages_completed(thin_study) -> None:
    run_dir, _ = thin_study
    lines = study_status(run_dir).lines()
    assert lines[0].startswith("8 runs: 8 done")
    n_gaps = len(_gaps(run_dir))
    assert lines[-1] == (
        "analysis: evaluation completed, inference completed, similarity completed, probes completed; "
        f"{n_gaps} things could not be computed (results/unavailable.csv)"
    )


def _attempts(run_dir: Path) -> dict[str, int]:
    with Store(run_dir / "results.sqlite", readonly=True) as store:
        return {r.run_id: r.attempts for r in store.records()}


def _artifact_times(run_dir: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime_ns for p in (run_dir / "runs").rglob("*") if p.is_file()}


def test_reanalysis_changes_an_evaluation_setting_without_training(thin_study, tmp_path) -> None:
    import shutil

    run_dir = tmp_path / "copy"
    shutil.copytree(thin_study[0], run_dir)
    attempts, times = _attempts(run_dir), _artifact_times(run_dir)
    report = reanalyse(run_dir, {"evaluation.min_group_size": 5}, log=lambda _m: None)
    assert report == run_dir / "report.html" and report.is_file()
    assert _attempts(run_dir) == attempts and _artifact_times(run_dir) == times  # nothing trained
    assert load_config(run_dir / "config.toml").evaluation.min_group_size == 5
    record = read_analysis_record(run_dir)
    assert record.present and record.settings["evaluation"]["min_group_size"] == 5
    gaps = _gaps(run_dir)
    assert gaps[gaps.reason == "group_below_min_size"].empty  # 6 test windows now meet the minimum
    results = pd.read_csv(run_dir / "results" / "results.csv")
    sex_pd = results[(results.metric == "parity_deviation") & (results.attribute == "sex")]
    assert len(sex_pd) > 0


def test_reanalysis_refuses_a_training_setting(thin_study) -> None:
    with pytest.raises(ConfigError, match=r"finetune\.epochs changes training.*fairssl run --set"):
        reanalyse(thin_study[0], {"finetune.epochs": 5})


def test_a_failing_stage_leaves_a_report_and_says_so(thin_study, tmp_path, monkeypatch) -> None:
    import shutil

    run_dir = tmp_path / "copy"
    shutil.copytree(thin_study[0], run_dir)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("kernel matrix is not square")

    monkeypatch.setattr(analyse_module, "similarity_stage", broken)
    cfg = build_config(thin_study[1])
    with pytest.raises(
        RunError, match=r"analysis stage similarity failed: RuntimeError: kernel .*analysis\.log"
    ):
        run_study(cfg, run_dir=run_dir, log=lambda _m: None)
    assert (run_dir / "report.html").is_file()
    record = json.loads((run_dir / "results" / "analysis.json").read_text())
    assert record["stages"]["similarity"]["status"] == "failed"
    assert record["stages"]["probes"]["status"] == "completed"  # the probes do not need stage 4
    assert "kernel matrix is not square" in (run_dir / "results" / "analysis.log").read_text()
    assert (
        study_status(run_dir)
        .lines()[-1]
        .startswith(
            "analysis: evaluation completed, inference completed, similarity failed (RuntimeError: kernel"
        )
    )
    res = CliRunner().invoke(app, ["status", str(run_dir)])
    assert "similarity failed" in res.output


def test_a_killed_analysis_leaves_a_record_of_where_it_stopped(thin_study, tmp_path, monkeypatch) -> None:
    import shutil

    run_dir = tmp_path / "copy"
    shutil.copytree(thin_study[0], run_dir)

    def killed(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt  # not an Exception: escapes the stage like a kill would

    monkeypatch.setattr(analyse_module, "similarity_stage", killed)
    with pytest.raises(KeyboardInterrupt):
        reanalyse(run_dir, {}, log=lambda _m: None)
    record = read_analysis_record(run_dir)
    assert {s: i.status for s, i in record.stages.items()} == {
        "evaluation": "completed",
        "inference": "completed",
        "similarity": "running",
        "probes": "running",  # started in the background beside the inference and the CKA
    }
    assert "similarity running" in study_status(run_dir).lines()[-1]


def test_a_results_table_cut_mid_row_is_refused_by_the_report(thin_study, tmp_path) -> None:
    """A truncated summary.csv once made `fairssl report` exit 0 with a different conclusion."""
    import shutil

    run_dir = tmp_path / "copy"
    shutil.copytree(thin_study[0], run_dir)
    summary = run_dir / "results" / "summary.csv"
    text = summary.read_text()
    summary.write_text(text[: len(text) * 2 // 3])  # cut mid-row
    res = CliRunner().invoke(app, ["report", str(run_dir)])
    assert res.exit_code == 2
    (line,) = [x for x in res.output.splitlines() if x.startswith("error:")]
    assert "summary.csv is" in line and "truncated or replaced" in line and "fairssl analyse" in line
    assert CliRunner().invoke(app, ["analyse", str(run_dir)]).exit_code == 0  # recomputed, trusted again
    assert CliRunner().invoke(app, ["report", str(run_dir)]).exit_code == 0


def test_the_thin_cohort_was_scaled_and_its_gaps_counted(thin_study) -> None:
    run_dir, _ = thin_study
    warnings = (run_dir / "dataset" / "warnings.txt").read_text()
    assert "span" in warnings and "max_gap" in warnings  # windows across the 5-10 step gaps are said
    from fairssl.experiments.workspace import load_study_data

    ds = load_study_data(load_config(run_dir / "config.toml"))
    assert ds.info["scaling"] == "standard"  # the unscaled channel (mean 25, SD 9.5) was standardised
    hr = np.asarray(ds.X[ds.split == "train"])[:, list(ds.channel_names).index("hr")]
    assert abs(hr.mean()) < 0.05 and abs(hr.std() - 1) < 0.05
