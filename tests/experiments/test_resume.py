"""SIGKILL `fairssl run` in the middle of a grid, re-run it, and get an uninterrupted run's results."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from fairssl.cli import app
from fairssl.config import build_config
from fairssl.config_text import to_toml
from fairssl.experiments.runner import run_study
from fairssl.experiments.store import Store
from fairssl.experiments.workspace import run_dir_for

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _no_report_figures(request):
    """These tests are about runs and their store; drawing the report's figures only costs time."""
    import fairssl.report.html

    mp = pytest.MonkeyPatch()
    mp.setattr(fairssl.report.html, "build_report", lambda run_dir, **_: Path(run_dir) / "report.html")
    yield
    mp.undo()


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.is_file() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the worker processes")
def test_sigkill_mid_grid_then_rerun_matches_an_uninterrupted_run(tmp_path, tiny_config_dict) -> None:
    cfg: dict[str, Any] = copy.deepcopy(tiny_config_dict)
    cfg["seeds"] = [0, 1]  # 2 pre-trainings + 6 fine-tunings
    cfg["finetune"]["epochs"] = 4  # fine-tunings long enough that the kill lands mid-grid
    cfg["runtime"] = {"workers": 2, "threads": 1}
    cfg["output_dir"] = str(tmp_path / "killed")
    study = tmp_path / "tiny.toml"
    study.write_text(to_toml(cfg))
    run_dir = run_dir_for(build_config(cfg))
    store_path = run_dir / "results.sqlite"

    log = (tmp_path / "killed.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "fairssl.cli", "run", "--config", str(study)], stdout=log, stderr=log
    )
    deadline = time.monotonic() + 90
    counts: dict[str, int] = {}
    workers: set[int] = set()
    while time.monotonic() < deadline and proc.poll() is None:
        if store_path.is_file():
            with Store(store_path, readonly=True) as store:
                counts = store.counts()
            if counts["done"] >= 1:
                break
            workers.update(_children(proc.pid))  # the pool's processes, started with the first run
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    log.close()
    output = (tmp_path / "killed.log").read_text()
    assert 1 <= counts.get("done", 0) < 8, f"the kill did not land mid-grid: {counts}; output:\n{output}"

    # the orphaned pool workers notice their parent is gone and exit
    deadline = time.monotonic() + 15
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in workers), f"orphaned workers still alive: {workers}"

    # status: nothing is shown as running, the in-flight runs show as interrupted
    res = CliRunner().invoke(app, ["status", str(run_dir)])
    assert res.exit_code == 0, res.output
    assert "8 runs:" in res.output and " 0 running" in res.output
    with Store(store_path, readonly=True) as store:
        before = {r.run_id: r.finished_at for r in store.records() if r.status == "done"}
        in_flight = [r.run_id for r in store.records() if r.status == "running"]
        assert all(r.interrupted for r in store.records() if r.status == "running")
    # a worker may have published its run in the moment before it noticed the kill: that run is
    # finished too (adopted on resume, not recomputed)
    published = {p.parent.name: p.stat().st_mtime_ns for p in run_dir.glob("runs/*/done.json")}
    assert set(before) <= set(published)

    # re-run the same command: finishes the grid, recomputes nothing finished
    res = CliRunner().invoke(app, ["run", "--config", str(study)])
    assert res.exit_code == 0, res.output
    assert f"resuming: {len(published)} of 8 runs already done" in res.output
    with Store(store_path, readonly=True) as store:
        after = {r.run_id: r for r in store.records()}
    assert all(r.status == "done" for r in after.values())
    assert {rid: after[rid].finished_at for rid in before} == before
    assert {rid: (run_dir / "runs" / rid / "done.json").stat().st_mtime_ns for rid in published} == published
    assert all(after[rid].attempts == 2 for rid in in_flight if rid not in published)
    assert all(after[rid].attempts == 1 for rid in published)

    # the same results as an uninterrupted run with the same seeds
    cfg["output_dir"] = str(tmp_path / "clean")
    clean = run_study(build_config(cfg), log=lambda _m: None)
    got = pd.read_parquet(run_dir / "results" / "results.parquet")
    want = pd.read_parquet(clean / "results" / "results.parquet")
    assert len(got) > 0 and "variant" in got.columns
    pd.testing.assert_frame_equal(got, want)
