"""The SQLite results store: records, transitions, atomicity under SIGKILL, the run-folder lock."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from fairssl.errors import RunError
from fairssl.experiments.grid import RunSpec
from fairssl.experiments.store import Store, StoreError, lock_run_dir, worker_alive, worker_id

PRE = RunSpec("pre-1", "pretrain", 0, variant="base", payload={"seed": 0})
FT = RunSpec("ft-1", "finetune", 0, setup="0", depends_on="pre-1", variant="finetune.lr=0.1")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_add_runs_registers_pending_rows_once(tmp_path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        assert store.add_runs([PRE, FT]) == 2
        assert store.add_runs([PRE, FT]) == 0
        pre, ft = store.records()
        assert (pre.run_id, pre.kind, pre.status, pre.attempts) == ("pre-1", "pretrain", "pending", 0)
        assert (ft.setup, ft.variant, ft.depends_on) == ("0", "finetune.lr=0.1", "pre-1")
        assert ft.spec == FT.to_dict() and pre.spec["payload"] == {"seed": 0}
        assert store.counts() == {"pending": 2, "running": 0, "done": 0, "failed": 0}


def test_the_file_is_in_wal_mode(tmp_path) -> None:
    Store(tmp_path / "s.sqlite").close()
    conn = sqlite3.connect(tmp_path / "s.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_transitions_record_attempts_times_metrics_and_errors(tmp_path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        store.add_runs([PRE, FT])
        store.mark_running("pre-1", worker="host:1")
        rec = store.get("pre-1")
        assert rec is not None
        assert (rec.status, rec.attempts, rec.worker) == ("running", 1, "host:1")
        assert rec.started_at is not None and rec.finished_at is None
        store.mark_done("pre-1", seconds=2.5, metrics={"epochs": 3, "best_epoch": 2}, worker="host:2")
        rec = store.get("pre-1")
        assert rec is not None
        assert (rec.status, rec.seconds, rec.worker, rec.error) == ("done", 2.5, "host:2", None)
        assert rec.finished_at is not None and rec.started_at is not None
        assert rec.finished_at >= rec.started_at
        assert store.metrics("pre-1") == {"epochs": 3.0, "best_epoch": 2.0}

        store.mark_running("ft-1")
        store.mark_failed("ft-1", "ValueError: bad\n  second line")
        rec = store.get("ft-1")
        assert rec is not None
        assert (rec.status, rec.error, rec.worker) == ("failed", "ValueError: bad second line", worker_id())
        store.mark_running("ft-1")  # a retry clears the error and counts the attempt
        rec = store.get("ft-1")
        assert rec is not None
        assert (rec.status, rec.attempts, rec.error) == ("running", 2, None)

        store.mark_pending(["pre-1", "ft-1"])
        assert store.counts() == {"pending": 2, "running": 0, "done": 0, "failed": 0}
        assert store.metrics("pre-1") == {}


def test_unknown_run_ids_are_refused(tmp_path) -> None:
    with (
        Store(tmp_path / "s.sqlite") as store,
        pytest.raises(RunError, match="run ft-x is not in the results"),
    ):
        store.mark_running("ft-x")


def test_a_failed_change_rolls_back_whole(tmp_path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        store.add_runs([PRE])
        store.mark_running("pre-1")
        with pytest.raises(ValueError):
            store.mark_done("pre-1", metrics={"epochs": 3.0, "broken": "not a number"})  # type: ignore[dict-item]
        rec = store.get("pre-1")
        assert rec is not None and rec.status == "running" and rec.finished_at is None
        assert store.metrics("pre-1") == {}


def test_sigkill_inside_a_transaction_leaves_the_record_unchanged(tmp_path) -> None:
    """The child is killed after `UPDATE runs SET status = 'done'` ran, before the metrics and COMMIT."""
    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        store.add_runs([PRE])
    script = textwrap.dedent(
        f"""
        import os, signal
        from fairssl.experiments.store import Store
        store = Store({str(path)!r})
        store.mark_running("pre-1")
        def kill(statement):
            if statement.startswith("INSERT INTO metrics"):
                os.kill(os.getpid(), signal.SIGKILL)
        store._conn.set_trace_callback(kill)
        store.mark_done("pre-1", seconds=1.0, metrics={{"epochs": 3.0}})
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    with Store(path) as store:
        rec = store.get("pre-1")
        assert rec is not None
        assert rec.status == "running" and rec.finished_at is None and rec.seconds is None
        assert store.metrics("pre-1") == {}
        assert rec.interrupted  # its worker (the killed child) is gone
        assert store._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_readonly_store_needs_the_file_and_never_writes(tmp_path) -> None:
    with pytest.raises(RunError, match=r"no results store at .*; run `fairssl run` first"):
        Store(tmp_path / "missing.sqlite", readonly=True)
    assert not (tmp_path / "missing.sqlite").exists()
    with Store(tmp_path / "s.sqlite") as store:
        store.add_runs([PRE])
    with Store(tmp_path / "s.sqlite", readonly=True) as ro:
        assert [r.run_id for r in ro.records()] == ["pre-1"]
        with pytest.raises(StoreError, match=r"could not write the results store .*readonly database; make"):
            ro.mark_running("pre-1")


def test_worker_liveness() -> None:
    host = socket.gethostname()
    assert worker_alive(worker_id()) is True
    assert worker_alive(f"{host}:{_dead_pid()}") is False
    assert worker_alive("another-host-xyz:1") is None
    assert worker_alive(None) is False and worker_alive("garbage") is False


def test_a_second_study_on_the_same_folder_is_refused(tmp_path) -> None:
    busy = r"run folder .* is in use by `fairssl run` \(worker .*\); wait"
    with lock_run_dir(tmp_path), pytest.raises(RunError, match=busy), lock_run_dir(tmp_path):
        pass
    with lock_run_dir(tmp_path):  # released when the first holder exits
        pass


def test_the_store_appears_complete_and_an_existing_one_is_kept(tmp_path) -> None:
    path = tmp_path / "results.sqlite"
    with Store(path) as store:
        # created beside and linked into place: a reader sees the tables from the first moment
        with Store(path, readonly=True) as reader:
            assert reader.records() == [] and reader.counts()["pending"] == 0
        store.add_runs([PRE])
    assert not list(tmp_path.glob(".*.tmp*"))  # no creation leftovers
    with Store(path) as again:
        assert [r.run_id for r in again.records()] == ["pre-1"]
