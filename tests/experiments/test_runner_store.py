"""The runner with its store: adopted, missing and failed runs; failure isolation end to end."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from fairssl.cli import app
from fairssl.config import build_config
from fairssl.errors import RunError
from fairssl.experiments import training as runner
from fairssl.experiments.runner import run_study
from fairssl.experiments.store import Store

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True, scope="module")
def _no_report_figures(request):
    """These tests are about runs and their store; drawing the report's figures only costs time."""
    import fairssl.report.html

    mp = pytest.MonkeyPatch()
    mp.setattr(fairssl.report.html, "build_report", lambda run_dir, **_: Path(run_dir) / "report.html")
    yield
    mp.undo()


# tests/conftest.py's TINY (a module-scoped fixture cannot use its function-scoped copy)
TINY: dict[str, Any] = {
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
    "runtime": {"workers": 1, "threads": 1},
}


@pytest.fixture(scope="module")
def finished_study(tmp_path_factory) -> tuple[Path, dict[str, Any]]:
    cfg = copy.deepcopy(TINY)
    out = tmp_path_factory.mktemp("study") / "run"
    run_study(build_config(cfg), run_dir=out, log=lambda _m: None)
    return out, cfg


def _copy(finished: tuple[Path, dict[str, Any]], tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(finished[0], out)
    return out


def _mtimes(run_dir: Path) -> dict[str, int]:
    return {p.parent.name: p.stat().st_mtime_ns for p in run_dir.glob("runs/*/done.json")}


def _records(run_dir: Path) -> dict[str, Any]:
    with Store(run_dir / "results.sqlite", readonly=True) as store:
        return {r.run_id: r for r in store.records()}


def test_a_run_published_but_not_recorded_is_adopted_not_recomputed(finished_study, tmp_path) -> None:
    """A kill between the artifact rename and the status update: the store says running."""
    out = _copy(finished_study, tmp_path)
    target = next(r for r in _records(out).values() if r.kind == "finetune")
    with Store(out / "results.sqlite") as store:
        store.mark_running(target.run_id, worker="gone-host:1")
    mtimes = _mtimes(out)
    logs: list[str] = []
    run_study(build_config(finished_study[1]), run_dir=out, log=logs.append)
    assert "resuming: 4 of 4 runs already done" in logs
    assert "recovered 1 finished run(s) from their artifacts" in logs
    assert _mtimes(out) == mtimes
    rec = _records(out)[target.run_id]
    assert rec.status == "done" and rec.seconds is not None


def test_a_done_run_whose_artifacts_are_missing_is_redone(finished_study, tmp_path) -> None:
    out = _copy(finished_study, tmp_path)
    records = _records(out)
    target = next(r for r in records.values() if r.setup == "supervised")
    shutil.rmtree(out / "runs" / target.run_id)
    mtimes = _mtimes(out)
    logs: list[str] = []
    run_study(build_config(finished_study[1]), run_dir=out, log=logs.append)
    assert "redoing 1 run(s) whose artifacts are missing" in logs
    after = _mtimes(out)
    assert set(after) == set(mtimes) | {target.run_id}
    assert {k: after[k] for k in mtimes} == mtimes  # the others untouched
    assert _records(out)[target.run_id].attempts == records[target.run_id].attempts + 1


def test_a_failing_run_does_not_stop_the_grid_and_is_retried_next_time(
    finished_study, tmp_path, monkeypatch
) -> None:
    cfg = finished_study[1]
    out = tmp_path / "run"
    real = runner._finetune_run

    def flaky(spec, *args, **kwargs):
        if spec.setup == "0":
            raise ValueError("loss is NaN\n(at epoch 2)")
        return real(spec, *args, **kwargs)

    monkeypatch.setattr(runner, "_finetune_run", flaky)
    with pytest.raises(
        RunError,
        match=r"1 of 4 runs failed, e\.g\. ft-\w+ \(setup 0, seed 0, variant base\): "
        r"ValueError: loss is NaN \(at epoch 2\).*run the same command again",
    ) as info:
        run_study(build_config(cfg), run_dir=out, log=lambda _m: None)
    assert "\n" not in str(info.value)
    status = {r.setup or r.kind: r.status for r in _records(out).values()}
    assert status == {"pretrain": "done", "supervised": "done", "0": "failed", "2-first-last": "done"}

    res = CliRunner().invoke(app, ["status", str(out)])
    assert res.exit_code == 0
    assert "4 runs: 3 done, 0 running, 0 interrupted, 1 failed, 0 pending" in res.output
    assert "ValueError: loss is NaN (at epoch 2)" in res.output

    monkeypatch.setattr(runner, "_finetune_run", real)
    mtimes = _mtimes(out)
    run_study(build_config(cfg), run_dir=out, log=lambda _m: None)
    records = _records(out)
    assert all(r.status == "done" for r in records.values())
    assert _mtimes(out).items() >= mtimes.items()  # the three finished runs untouched
    failed_id = next(r.run_id for r in records.values() if r.setup == "0")
    assert records[failed_id].attempts == 2
    # the retried grid gives the uninterrupted study's results
    got = pd.read_parquet(out / "results" / "results.parquet")
    want = pd.read_parquet(finished_study[0] / "results" / "results.parquet")
    pd.testing.assert_frame_equal(got, want)


def test_the_cli_exits_non_zero_listing_failures(finished_study, tmp_path, monkeypatch) -> None:
    from fairssl.config_text import to_toml

    cfg = dict(finished_study[1], output_dir=str(tmp_path / "runs"))
    study = tmp_path / "study.toml"
    study.write_text(to_toml(cfg))
    monkeypatch.setattr(runner, "_pretrain_run", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    res = CliRunner().invoke(app, ["run", "--config", str(study)])
    assert res.exit_code == 1
    assert "failed: pre-" in res.output and "OSError: disk full" in res.output
    assert "blocked: its pre-training run pre-" in res.output
    assert "3 of 4 runs failed" in res.output
