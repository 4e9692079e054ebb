"""`fairssl status RUN_DIR`: counts from the store, interrupted runs, failures' messages."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from typer.testing import CliRunner

from fairssl.cli import app
from fairssl.config import build_config, save_config
from fairssl.experiments.grid import expand, unique_runs
from fairssl.experiments.store import Store

runner = CliRunner()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _folder(tmp_path, tiny_config_dict):
    cfg = build_config({**tiny_config_dict, "seeds": [0, 1]})  # 2 pre-trainings + 6 fine-tunings
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    save_config(cfg, run_dir / "config.toml")
    return run_dir, unique_runs(expand(cfg))


def test_status_counts_each_state_and_lists_failures(tmp_path, tiny_config_dict) -> None:
    run_dir, runs = _folder(tmp_path, tiny_config_dict)
    host = socket.gethostname()
    with Store(run_dir / "results.sqlite") as store:
        store.add_runs(runs)
        pre0, pre1, ft0, ft1, ft2 = (r.run_id for r in runs[:5])
        for rid in (pre0, pre1):
            store.mark_running(rid)
            store.mark_done(rid, seconds=1.0)
        store.mark_running(ft0, worker=f"{host}:{os.getpid()}")  # alive: this process
        store.mark_running(ft1, worker=f"{host}:{_dead_pid()}")  # its worker is gone
        store.mark_running(ft2)
        store.mark_failed(ft2, "ValueError: loss is NaN")
    res = runner.invoke(app, ["status", str(run_dir)])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0] == "8 runs: 2 done, 1 running, 1 interrupted, 1 failed, 3 pending"
    assert any(line.startswith(f"running: {ft0} (") for line in lines)
    assert any(line.startswith(f"interrupted: {ft1} (") for line in lines)
    assert any(
        line.startswith(f"failed: {ft2} (") and line.endswith("after 1 attempt: ValueError: loss is NaN")
        for line in lines
    )
    assert "run the same `fairssl run` command again" in res.output


def test_status_of_a_finished_study_without_an_analysis_record_says_how_to_analyse(
    tmp_path, tiny_config_dict
) -> None:
    run_dir, runs = _folder(tmp_path, tiny_config_dict)
    with Store(run_dir / "results.sqlite") as store:
        store.add_runs(runs)
        for r in runs:
            store.mark_running(r.run_id)
            store.mark_done(r.run_id)
    res = runner.invoke(app, ["status", str(run_dir)])
    assert res.exit_code == 0
    first, second = res.output.strip().splitlines()
    assert first == "8 runs: 8 done, 0 running, 0 interrupted, 0 failed, 0 pending"
    assert second.startswith("analysis: no record (interrupted, or written by an older fairssl); run ")
    assert second.endswith(f"`fairssl analyse {run_dir}` to (re)compute it")


def test_status_before_any_run_counts_the_grid_as_pending(tmp_path, tiny_config_dict) -> None:
    run_dir, _ = _folder(tmp_path, tiny_config_dict)
    res = runner.invoke(app, ["status", str(run_dir)])
    assert res.exit_code == 0
    assert res.output.splitlines()[0] == "8 runs: 0 done, 0 running, 0 interrupted, 0 failed, 8 pending"
    assert not (run_dir / "results.sqlite").exists()  # status never writes


def test_status_of_a_folder_that_is_not_a_run_folder(tmp_path) -> None:
    res = runner.invoke(app, ["status", str(tmp_path)])
    assert res.exit_code == 2 and "is not a run folder (no config.toml)" in res.output


def test_status_shows_the_epoch_a_running_run_has_reached(tmp_path, tiny_config_dict) -> None:
    from fairssl.experiments.workspace import Workspace, epoch_reporter, read_progress

    run_dir, runs = _folder(tmp_path, tiny_config_dict)
    pre = runs[0].run_id
    with Store(run_dir / "results.sqlite") as store:
        store.add_runs(runs)
        store.mark_running(pre, worker=f"{socket.gethostname()}:{os.getpid()}")
    part = Workspace(run_dir).partial(pre)
    part.mkdir(parents=True)
    report = epoch_reporter(part, 200, interval=0.0)
    report({"epoch": 1.0, "train_loss": 4.0, "val_loss": 3.5})
    report({"epoch": 12.0, "train_loss": 2.0, "val_loss": 1.25})
    assert read_progress(part) is not None and read_progress(part)["epoch"] == 12.0
    res = runner.invoke(app, ["status", str(run_dir)])
    assert res.exit_code == 0
    assert "epoch 12/200, val loss 1.250" in res.output


def test_training_writes_progress_every_epoch_or_interval(tmp_path) -> None:
    import numpy as np

    from fairssl.config import ModelConfig, PretrainConfig
    from fairssl.experiments.workspace import epoch_reporter, read_progress
    from fairssl.ssl.pretrain import pretrain

    X = np.random.default_rng(0).normal(size=(64, 3, 20)).astype(np.float32)
    model = ModelConfig(widths=[4, 4, 4], kernels=[3, 3, 3], projection=[8, 4])
    for interval, expected in ((0.0, [1.0, 2.0, 3.0]), (3600.0, [1.0, 1.0, 3.0])):
        (tmp_path / "progress.json").unlink(missing_ok=True)
        seen: list[float] = []
        report = epoch_reporter(tmp_path, 3, interval=interval)

        def spy(row: dict[str, float], report=report, seen=seen) -> None:
            report(row)
            seen.append(read_progress(tmp_path)["epoch"])

        pretrain(X, X[:32], model=model, config=PretrainConfig(epochs=3, batch_size=32), on_epoch=spy)
        # every epoch without a throttle; with one, the first epoch and then the last only
        assert seen == expected
