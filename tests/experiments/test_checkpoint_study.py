"""A tiny study end to end: the supervised runs store their trajectory, stage 5 writes
``checkpoint_match.csv`` and the ``checkpoint_*`` columns, the report words the comparison, and a run
without the (optional) trajectory still reads as complete."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from fairssl.config import build_config
from fairssl.experiments.grid import RunSpec
from fairssl.experiments.integrity import OPTIONAL, check_run
from fairssl.experiments.runner import run_study
from fairssl.experiments.workspace import Workspace

pytestmark = pytest.mark.slow

TINY: dict[str, Any] = {  # tests/conftest.py's TINY (a module-scoped fixture cannot use its copy)
    "name": "tiny",
    "seeds": [0],
    "data": {
        "simulate": {
            "n_subjects": 80,
            "windows_per_subject": 5,
            "pool_fraction": 0.3,
            "labelled_fraction": 1.0,
        }
    },
    "model": {"widths": [8, 8, 8]},
    "pretrain": {"epochs": 2, "batch_size": 32},
    "finetune": {"epochs": 2, "batch_size": 32, "setups": ["supervised", "0", "2-first-last"]},
    "evaluation": {"n_boot": 20, "min_group_size": 5, "min_subjects": 1, "min_positives": 1},
    "similarity": {"n_draws": 2, "n_permutations": 2},
}


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg: dict[str, Any] = json.loads(json.dumps(TINY))
    cfg["seeds"] = [0, 1]
    cfg["finetune"].update(epochs=3, setups=["supervised", "0"])
    cfg["runtime"] = {"workers": 1}
    cfg["similarity"]["enabled"] = False
    return run_study(build_config(cfg), run_dir=tmp_path_factory.mktemp("ck") / "run", log=lambda _m: None)


def _specs(run: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(run.glob("runs/*/done.json"))]


def test_supervised_runs_store_a_trajectory_and_ssl_runs_do_not(study: Path) -> None:
    for rec in _specs(study):
        folder = study / "runs" / rec["run_id"]
        has = (folder / "trajectory.parquet").is_file()
        assert has == (rec.get("setup") == "supervised"), rec["run_id"]
        if has:
            assert "trajectory.parquet" in rec["artifacts"]  # checksummed like every artifact
            traj = pd.read_parquet(folder / "trajectory.parquet")
            assert sorted(traj["epoch"].unique()) == [1, 2, 3] and set(traj["split"]) == {"val", "test"}
            # the selected epoch's test scores are the run's predictions
            best = rec["summary"]["best_epoch"]
            pred = pd.read_parquet(folder / "predictions.parquet").set_index("window_id")
            test = traj[(traj["split"] == "test") & (traj["epoch"] == best)].set_index("window_id")
            np.testing.assert_allclose(test.loc[pred.index, "prob_1"], pred["prob_1"], rtol=1e-5)


def test_stage_five_writes_the_match_and_the_checkpoint_comparison(study: Path) -> None:
    match = pd.read_csv(study / "results" / "checkpoint_match.csv")
    assert list(match.columns)[:1] == ["variant"]  # every stage-5 table names its grid point
    match = match.drop(columns="variant")
    assert list(match.columns) == [
        "setup",
        "seed",
        "epoch",
        "val_auroc_ssl",
        "val_auroc_checkpoint",
        "test_auroc_checkpoint",
    ]
    assert sorted(match["seed"]) == [0, 1] and set(match["setup"].astype(str)) == {"0"}
    assert match["epoch"].between(1, 3).all()
    # the SSL side is the AUROC of its stored validation predictions
    for rec in _specs(study):
        if rec.get("setup") != "0":
            continue
        val = pd.read_parquet(study / "runs" / rec["run_id"] / "val_predictions.parquet")
        mine = match[match["seed"] == rec["seed"]].iloc[0]
        assert mine["val_auroc_ssl"] == pytest.approx(roc_auc_score(val["y"], val["prob_1"]))
    comp = pd.read_csv(study / "results" / "comparison.csv").set_index("setup")
    row = comp.loc["0"]
    assert row["checkpoint_epochs"] == ", ".join(str(e) for e in match.sort_values("seed")["epoch"])
    assert np.isfinite(row["checkpoint_pd_change"]) and np.isfinite(row["checkpoint_auroc"])
    assert row["checkpoint_auroc"] == pytest.approx(match["test_auroc_checkpoint"].mean(), abs=1e-6)
    assert row["checkpoint_verdict"] in ("not_tested", "at_chance")
    family = json.loads((study / "results" / "family.json").read_text())
    assert family["declared"] == 3  # PD and AUROC vs supervised, PD vs matched: the checkpoint is not in it
    changes = pd.read_csv(study / "results" / "changes.csv")
    assert not changes[changes["baseline"] == "checkpoint:0"]["in_family"].any()
    curve = pd.read_csv(study / "results" / "accuracy_curve.csv")
    assert set(curve["kind"]) == {"degradation", "trajectory"}
    traj = curve[curve["kind"] == "trajectory"]
    assert sorted(traj["seed"].unique()) == [0, 1] and sorted(traj["epoch"].unique()) == [1, 2, 3]


def test_the_report_shows_the_checkpoint_sentence(study: Path) -> None:
    html = (study / "report.html").read_text()
    assert "Against the supervised model&#39;s own" in html or "Against the supervised model's own" in html
    # the wording depends on how close the trajectory came (sentences.CHECKPOINT_TOLERANCE)
    assert "trained to the same validation AUROC" in html or "the closest its training came" in html
    assert "setup 0 had PD change" in html


def test_a_run_without_the_optional_trajectory_is_complete(study: Path) -> None:
    assert OPTIONAL["finetune"] == ("trajectory.parquet",)
    ws = Workspace(study)
    rec = next(r for r in _specs(study) if r.get("setup") == "supervised")
    spec = RunSpec(**{k: rec[k] for k in ("run_id", "kind", "seed", "setup", "depends_on", "threads")})
    folder = ws.run(spec.run_id)
    assert check_run(ws, spec).state == "ok"
    # a damaged trajectory is a damaged run (it is checksummed)
    path = folder / "trajectory.parquet"
    original = path.read_bytes()
    path.write_bytes(original[:-10])
    assert check_run(ws, spec).state == "damaged"
    path.write_bytes(original)
    # a run published before trajectories existed: no file, none recorded
    done = json.loads((folder / "done.json").read_text())
    path.unlink()
    assert check_run(ws, spec).state == "damaged"  # recorded, then deleted: damaged
    del done["artifacts"]["trajectory.parquet"]
    (folder / "done.json").write_text(json.dumps(done))
    assert check_run(ws, spec).state == "ok"
    legacy = {k: v for k, v in done.items() if k != "artifacts"}
    (folder / "done.json").write_text(json.dumps(legacy))
    assert check_run(ws, spec).state == "legacy"  # decodes, complete without the trajectory
