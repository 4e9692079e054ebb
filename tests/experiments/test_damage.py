"""Faults on a finished study: damaged artifacts, a damaged checkpoint, a malformed store, a full disk,
and ``--out`` pointed at another study's folder."""

from __future__ import annotations

import copy
import errno
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from fairssl.config import build_config
from fairssl.errors import DataError, RunError
from fairssl.experiments import runner as runner_module
from fairssl.experiments import training
from fairssl.experiments.runner import check_same_study, run_study
from fairssl.experiments.store import Store

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
    "runtime": {"workers": 1},
}


@pytest.fixture(autouse=True, scope="module")
def _no_report_figures():
    import fairssl.report.html

    mp = pytest.MonkeyPatch()
    mp.setattr(fairssl.report.html, "build_report", lambda run_dir, **_: Path(run_dir) / "report.html")
    yield
    mp.undo()


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("study") / "run"
    run_study(build_config(copy.deepcopy(TINY)), run_dir=out, log=lambda _m: None)
    return out


def _copy(finished: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    return out


def _records(run_dir: Path) -> dict[str, Any]:
    with Store(run_dir / "results.sqlite", readonly=True) as store:
        return {r.run_id: r for r in store.records()}


def _mtimes(run_dir: Path) -> dict[str, int]:
    return {p.parent.name: p.stat().st_mtime_ns for p in run_dir.glob("runs/*/done.json")}


def _same_results(a: Path, b: Path) -> None:
    pd.testing.assert_frame_equal(
        pd.read_parquet(a / "results" / "results.parquet"), pd.read_parquet(b / "results" / "results.parquet")
    )


def test_damaged_artifacts_are_rerun_with_one_line_each_and_give_the_same_bytes(finished, tmp_path) -> None:
    out = _copy(finished, tmp_path)
    records = _records(out)
    pre = next(r.run_id for r in records.values() if r.kind == "pretrain")
    fts = [r.run_id for r in records.values() if r.kind == "finetune"]
    damage = {pre: "encoder.pt", fts[0]: "activations.npz", fts[1]: "predictions.parquet", fts[2]: "model.pt"}
    sizes = {}
    for run_id, name in damage.items():
        path = out / "runs" / run_id / name
        sizes[run_id] = path.stat().st_size
        path.write_bytes(path.read_bytes()[: sizes[run_id] // 3])
    logs: list[str] = []
    run_study(build_config(copy.deepcopy(TINY)), run_dir=out, log=logs.append)
    for run_id, name in damage.items():
        line = (
            f"re-running damaged run {run_id}: {name} is {sizes[run_id] // 3} bytes, {sizes[run_id]} were "
            "published (truncated or replaced)"
        )
        assert line in logs, logs
        # the re-run reproduces the original bytes exactly (a run is a function of its spec)
        assert (out / "runs" / run_id / name).read_bytes() == (finished / "runs" / run_id / name).read_bytes()
    after = _records(out)
    assert all(r.status == "done" for r in after.values())
    assert all(after[rid].attempts == records[rid].attempts + 1 for rid in damage)
    _same_results(out, finished)


def test_a_damaged_pretraining_checkpoint_is_discarded_not_fatal(finished, tmp_path) -> None:
    out = _copy(finished, tmp_path)
    pre = next(r for r in _records(out).values() if r.kind == "pretrain").run_id
    part = out / "runs" / ".partial" / pre
    part.mkdir(parents=True)
    shutil.move(out / "runs" / pre / "spec.json", part / "spec.json")  # an attempt killed mid-training
    shutil.rmtree(out / "runs" / pre)
    (part / "checkpoint.pt").write_bytes(b"PK\x03\x04 truncated")
    with Store(out / "results.sqlite") as store:
        store.mark_running(pre, worker="gone-host:1")
    logs: list[str] = []
    run_study(build_config(copy.deepcopy(TINY)), run_dir=out, log=logs.append)
    assert any(
        m.startswith(f"discarded the damaged pre-training checkpoint of {pre} (it cannot be loaded (")
        and m.endswith("; it restarts from epoch 1")
        for m in logs
    ), logs
    assert _records(out)[pre].status == "done"
    assert (out / "runs" / pre / "encoder.pt").read_bytes() == (
        finished / "runs" / pre / "encoder.pt"
    ).read_bytes()


def test_a_malformed_store_is_rebuilt_from_the_artifacts_without_retraining(finished, tmp_path) -> None:
    out = _copy(finished, tmp_path)
    for side in ("-wal", "-shm"):
        (out / f"results.sqlite{side}").unlink(missing_ok=True)
    (out / "results.sqlite").write_bytes(b"\x00garbage" * 512)
    mtimes = _mtimes(out)
    logs: list[str] = []
    run_study(build_config(copy.deepcopy(TINY)), run_dir=out, log=logs.append)
    assert logs[0] == (
        "the results store results.sqlite was unreadable (file is not a database); rebuilt it from the "
        "runs' artifacts (the damaged file is kept as results.sqlite.damaged)"
    )
    assert "recovered 4 finished run(s) from their artifacts" in logs
    assert _mtimes(out) == mtimes  # nothing retrained
    after = _records(out)
    assert len(after) == 4 and all(r.status == "done" and r.threads == 1 for r in after.values())
    _same_results(out, finished)


def test_a_full_disk_during_a_run_fails_it_cleanly_and_a_rerun_resumes(
    finished, tmp_path, monkeypatch
) -> None:
    out = tmp_path / "run"
    real = training.save_npz_atomic

    def full(path, **arrays):
        if "ft-" in str(path.parent.name) and full.calls == 0:
            full.calls += 1
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, **arrays)

    full.calls = 0
    monkeypatch.setattr(training, "save_npz_atomic", full)
    with pytest.raises(RunError, match=r"1 of 4 runs failed.*No space left on device") as info:
        run_study(build_config(copy.deepcopy(TINY)), run_dir=out, log=lambda _m: None)
    assert "\n" not in str(info.value)
    assert info.value.exit_code == 2  # the machine's problem, the user's to fix: exit 2
    status = sorted(r.status for r in _records(out).values())
    assert status == ["done", "done", "done", "failed"]  # never "running"
    assert not list((out / "runs" / ".partial").glob("*/.*.tmp*"))  # no half-written file left

    monkeypatch.setattr(training, "save_npz_atomic", real)
    logs: list[str] = []
    run_study(build_config(copy.deepcopy(TINY)), run_dir=out, log=logs.append)
    assert "resuming: 3 of 4 runs already done" in logs
    assert all(r.status == "done" for r in _records(out).values())
    _same_results(out, finished)


def test_out_pointing_at_another_study_is_refused_unless_forced(finished, tmp_path, monkeypatch) -> None:
    out = _copy(finished, tmp_path)
    config_before = (out / "config.toml").read_bytes()
    other = build_config({**copy.deepcopy(TINY), "seeds": [7]})
    with pytest.raises(DataError) as info:
        run_study(other, run_dir=out, log=lambda _m: None)
    message = str(info.value)
    assert "\n" not in message and info.value.exit_code == 2
    assert message.startswith(f"--out {out} holds another study (tiny-") and "this config is tiny-" in message
    assert "--force" in message
    assert (out / "config.toml").read_bytes() == config_before

    # the same study with other analysis (or runtime) settings is the same study
    same = build_config({**copy.deepcopy(TINY), "evaluation": {**TINY["evaluation"], "n_boot": 30}})
    check_same_study(same, out)
    check_same_study(build_config({**copy.deepcopy(TINY), "runtime": {"workers": 2}}), out)

    # force: the check is skipped (the study itself is not run here)
    ran: list[Path] = []
    monkeypatch.setattr(runner_module, "_run_locked", lambda config, ws, store, **kw: ran.append(ws.root))
    assert run_study(other, run_dir=out, log=lambda _m: None, force=True) == out and ran == [out]
