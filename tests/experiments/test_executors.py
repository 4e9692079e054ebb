"""Scheduling on the executors: dependency order, failure isolation, blocked runs, dead workers."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from fairssl.config import RuntimeConfig, build_config
from fairssl.errors import MissingDependencyError
from fairssl.experiments.executors import (
    InlineBackend,
    LocalBackend,
    Outcome,
    Task,
    execute,
    make_backend,
    resolve_workers,
)
from fairssl.experiments.grid import RunSpec
from fairssl.experiments.store import Store
from fairssl.runtime import threads_per_run

CONFIG = build_config({})
PRE0 = RunSpec("pre-0", "pretrain", 0)
PRE1 = RunSpec("pre-1", "pretrain", 1)
FT0 = RunSpec("ft-0", "finetune", 0, setup="0", depends_on="pre-0")
FT1 = RunSpec("ft-1", "finetune", 1, setup="0", depends_on="pre-1")
SUP = RunSpec("ft-sup", "finetune", 0, setup="supervised")


def _run(runs: list[RunSpec], backend, tmp_path: Path, **kw):
    store = Store(tmp_path / "s.sqlite")
    store.add_runs(runs)
    finished: list[tuple[str, bool]] = []
    result = execute(
        runs,
        backend=backend,
        store=store,
        make_task=lambda s: Task(s, CONFIG, str(tmp_path)),
        on_finish=lambda s, o: finished.append((s.run_id, o.ok)),
        **kw,
    )
    return store, result, finished


def test_fine_tuning_waits_for_its_pretraining(tmp_path) -> None:
    calls: list[str] = []

    def fn(task: Task) -> Outcome:
        calls.append(task.spec.run_id)
        return Outcome(task.spec.run_id, True, {"epochs": 1.0}, 0.1, worker="w")

    # listed dependents-first: the scheduler must still run each pre-training before its fine-tuning
    store, result, finished = _run([FT0, FT1, SUP, PRE1, PRE0], InlineBackend(fn), tmp_path)
    assert calls.index("pre-0") < calls.index("ft-0") and calls.index("pre-1") < calls.index("ft-1")
    assert sorted(result.done) == sorted(["pre-0", "pre-1", "ft-0", "ft-1", "ft-sup"]) and not result.failed
    assert store.counts()["done"] == 5 and store.metrics("ft-0") == {"epochs": 1.0}
    assert [ok for _, ok in finished] == [True] * 5


def test_already_done_dependencies_are_not_rerun(tmp_path) -> None:
    calls: list[str] = []

    def fn(task: Task) -> Outcome:
        calls.append(task.spec.run_id)
        return Outcome(task.spec.run_id, True)

    _store, result, _ = _run([FT0], InlineBackend(fn), tmp_path, already_done={"pre-0"})
    assert calls == ["ft-0"] and result.done == ["ft-0"]


def test_a_failed_run_does_not_stop_the_grid_and_blocks_its_dependents(tmp_path) -> None:
    calls: list[str] = []

    def fn(task: Task) -> Outcome:
        calls.append(task.spec.run_id)
        if task.spec.run_id == "pre-0":
            raise ValueError("diverged\nat epoch 3")
        if task.spec.run_id == "ft-sup":
            return Outcome("ft-sup", False, error="RuntimeError: out of memory")
        return Outcome(task.spec.run_id, True)

    store, result, finished = _run([PRE0, PRE1, FT0, FT1, SUP], InlineBackend(fn), tmp_path)
    assert "ft-0" not in calls  # blocked, never started
    assert sorted(result.done) == ["ft-1", "pre-1"]
    assert result.failed["pre-0"] == "ValueError: diverged at epoch 3"
    assert result.failed["ft-sup"] == "RuntimeError: out of memory"
    assert result.failed["ft-0"].startswith("blocked: its pre-training run pre-0 failed (ValueError")
    for run_id in ("pre-0", "ft-0", "ft-sup"):
        rec = store.get(run_id)
        assert rec is not None and rec.status == "failed" and rec.error == result.failed[run_id]
    assert store.counts() == {"pending": 0, "running": 0, "done": 2, "failed": 3}
    assert len(finished) == 5


def test_a_dependency_outside_the_grid_blocks(tmp_path) -> None:
    _store, result, _ = _run([FT0], InlineBackend(lambda t: Outcome(t.spec.run_id, True)), tmp_path)
    assert "it is not part of this grid" in result.failed["ft-0"]


def test_an_interrupt_puts_in_flight_runs_back_to_pending(tmp_path) -> None:
    def fn(task: Task) -> Outcome:
        if task.spec.run_id == "pre-1":
            raise KeyboardInterrupt
        return Outcome(task.spec.run_id, True)

    store = Store(tmp_path / "s.sqlite")
    store.add_runs([PRE0, PRE1, SUP])
    with pytest.raises(KeyboardInterrupt):
        execute(
            [PRE0, PRE1, SUP],
            backend=InlineBackend(fn),
            store=store,
            make_task=lambda s: Task(s, CONFIG, str(tmp_path)),
        )
    status = {r.run_id: r.status for r in store.records()}
    assert status == {"pre-0": "done", "pre-1": "pending", "ft-sup": "pending"}


FAKE_TASKS = """
import json, os, time
from pathlib import Path
from fairssl.experiments.executors import Outcome

def record(task):
    start = time.time()
    time.sleep(float(task.spec.payload.get("sleep", 0.2)))
    log = {"start": start, "end": time.time(), "pid": os.getpid()}
    Path(task.run_dir, task.spec.run_id + ".json").write_text(json.dumps(log))
    return Outcome(task.spec.run_id, True, {"pid": float(os.getpid())}, 0.2, worker=str(os.getpid()))

def die_on_pre(task):
    if task.spec.kind == "pretrain":
        os._exit(3)
    return record(task)
"""


@pytest.fixture
def fake_tasks(tmp_path, monkeypatch):
    """A module the spawned workers can import (the parent's sys.path travels to them)."""
    folder = tmp_path / "mods"
    folder.mkdir()
    (folder / "fairssl_fake_tasks.py").write_text(textwrap.dedent(FAKE_TASKS))
    monkeypatch.syspath_prepend(str(folder))
    import fairssl_fake_tasks

    yield fairssl_fake_tasks
    sys.modules.pop("fairssl_fake_tasks", None)


@pytest.mark.slow
def test_local_workers_respect_dependencies(tmp_path, fake_tasks) -> None:
    import json

    runs = [FT0, FT1, SUP, PRE0, PRE1]
    _store, result, _ = _run(runs, LocalBackend(2, fn=fake_tasks.record), tmp_path)
    assert sorted(result.done) == sorted(r.run_id for r in runs) and not result.failed
    log = {r.run_id: json.loads((tmp_path / f"{r.run_id}.json").read_text()) for r in runs}
    assert log["ft-0"]["start"] >= log["pre-0"]["end"] and log["ft-1"]["start"] >= log["pre-1"]["end"]


@pytest.mark.slow
def test_a_dead_worker_fails_its_run_and_a_fresh_pool_runs_the_rest(tmp_path, fake_tasks) -> None:
    later = [RunSpec(f"ft-s{i}", "finetune", i, setup="supervised") for i in (2, 3)]
    # one worker: the dying pre-training is the only run in flight when the pool breaks
    store, result, _ = _run([PRE0, FT0, *later], LocalBackend(1, fn=fake_tasks.die_on_pre), tmp_path)
    assert result.failed["pre-0"] == "a worker process died (killed or out of memory)"
    assert result.failed["ft-0"].startswith("blocked: its pre-training run pre-0 failed")
    assert sorted(result.done) == ["ft-s2", "ft-s3"]  # submitted after the break, to a fresh pool
    assert store.counts() == {"pending": 0, "running": 0, "done": 2, "failed": 2}


def test_a_store_write_that_fails_leaves_no_run_marked_running(tmp_path, monkeypatch) -> None:
    """A full disk hits the store's own write of a finished run: the error propagates and the run is
    back to pending (not "running" forever); the next resume adopts or redoes it."""
    from fairssl.experiments.store import StoreError

    store = Store(tmp_path / "s.sqlite")
    store.add_runs([PRE0, SUP])
    original = Store.mark_done

    def mark_done(self, run_id, **kw):
        if run_id == "ft-sup":
            raise StoreError("could not write the results store: database or disk is full")
        return original(self, run_id, **kw)

    monkeypatch.setattr(Store, "mark_done", mark_done)
    backend = InlineBackend(lambda t: Outcome(t.spec.run_id, True))
    with pytest.raises(StoreError, match="disk is full"):
        execute([PRE0, SUP], backend=backend, store=store, make_task=lambda s: Task(s, CONFIG, "."))
    assert {r.run_id: r.status for r in store.records()} == {"pre-0": "done", "ft-sup": "pending"}


def test_threads_per_run_come_from_the_config_never_from_the_worker_count() -> None:
    # the thread count is fixed (runtime.threads, default 1); workers fill the cores with runs
    assert resolve_workers(RuntimeConfig(), cores=8) == (8, 1)
    assert resolve_workers(RuntimeConfig(), cores=1) == (1, 1)
    assert resolve_workers(RuntimeConfig(workers=3), cores=8) == (3, 1)
    assert resolve_workers(RuntimeConfig(workers=1), cores=8) == (1, 1)
    assert resolve_workers(RuntimeConfig(threads=2), cores=8) == (4, 2)
    assert resolve_workers(RuntimeConfig(workers=2, threads=3), cores=8) == (2, 3)
    for workers in (1, 2, 5):
        assert threads_per_run(RuntimeConfig(workers=workers)) == 1


def test_make_backend_picks_inline_for_one_worker_and_a_pool_for_more() -> None:
    inline, threads = make_backend(RuntimeConfig(workers=1))
    assert isinstance(inline, InlineBackend) and threads == 1
    pool, threads = make_backend(RuntimeConfig(workers=2, threads=1))
    assert isinstance(pool, LocalBackend) and pool.slots == 2 and threads == 1
    pool.close()


def test_ray_executor_without_ray_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(MissingDependencyError, match=r'pip install "fairssl\[ray\]"') as info:
        make_backend(RuntimeConfig(executor="ray"))
    assert "\n" not in str(info.value)
