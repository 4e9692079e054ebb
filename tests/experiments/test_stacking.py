"""``runtime.stack_runs``: fine-tuning runs of a grid trained as one stacked model, scheduled, recorded
and published as runs trained alone, with the same predictions to float rounding."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fairssl.config import build_config
from fairssl.experiments.executors import InlineBackend, Outcome, Task, execute
from fairssl.experiments.grid import RunSpec
from fairssl.experiments.runner import run_study
from fairssl.experiments.stacking import stack_batches, stack_key
from fairssl.experiments.store import Store

PRE = RunSpec("pre-0", "pretrain", 0)
SSL = [RunSpec(f"ft-{s}", "finetune", 0, setup=s, depends_on="pre-0") for s in ("0", "1-first", "3")]
SUP = RunSpec("ft-sup", "finetune", 0, setup="supervised")
CTRL = RunSpec("ft-ctrl", "finetune", 0, setup="random:3")


def _config(**runtime: Any):
    return build_config({"runtime": {"stack_runs": 4, **runtime}})


def test_runs_waiting_on_one_encoder_share_a_key_and_the_runs_without_pretraining_share_another() -> None:
    cfg = _config()
    keys = {s.run_id: stack_key(s, cfg) for s in [PRE, *SSL, SUP, CTRL]}
    assert keys["pre-0"] is None  # pre-training never stacks
    assert keys["ft-0"] == keys["ft-1-first"] == keys["ft-3"] is not None
    assert keys["ft-sup"] == keys["ft-ctrl"] is not None and keys["ft-sup"] != keys["ft-0"]
    other_encoder = RunSpec("ft-0-s1", "finetune", 1, setup="0", depends_on="pre-1")
    assert stack_key(other_encoder, cfg) != keys["ft-0"]  # waits on another pre-training run
    shared_encoder = RunSpec("ft-0-s1b", "finetune", 1, setup="0", depends_on="pre-0")
    assert stack_key(shared_encoder, cfg) == keys["ft-0"]  # seeds that share one encoder stack together
    assert stack_key(RunSpec("ft-sup-s1", "finetune", 1, setup="supervised"), cfg) == keys["ft-sup"]
    probe = RunSpec("ft-lp", "finetune", 0, setup="linear-probe", depends_on="pre-0")
    assert stack_key(probe, cfg) not in (None, keys["ft-0"])  # a linear head stacks only with its kind


def test_runs_the_stacked_engine_cannot_hold_train_alone() -> None:
    assert stack_key(SSL[0], build_config({})) is None  # stack_runs = 1, the default
    assert stack_key(SSL[0], _config()) is not None
    resnet = build_config({"runtime": {"stack_runs": 4}, "model": {"arch": "resnet1d"}})
    assert stack_key(SSL[0], resnet) is None
    gradual = build_config({"runtime": {"stack_runs": 4}, "finetune": {"unfreeze_every": 2}})
    assert stack_key(RunSpec("a", "finetune", 0, setup="3", depends_on="pre-0"), gradual) is None
    assert stack_key(RunSpec("b", "finetune", 0, setup="0", depends_on="pre-0"), gradual) is not None


def test_ready_runs_are_cut_into_tasks_in_grid_order() -> None:
    a = [RunSpec(f"a{i}", "finetune", 0) for i in range(5)]
    b = [RunSpec(f"b{i}", "finetune", 0) for i in range(2)]
    alone = RunSpec("p", "pretrain", 0)
    ready = [a[0], b[0], alone, a[1], a[2], b[1], a[3], a[4]]
    key = {**{s.run_id: "A" for s in a}, **{s.run_id: "B" for s in b}, "p": None}
    tasks = [[s.run_id for s in t] for t in stack_batches(ready, key, 3)]
    assert tasks == [["a0", "a1", "a2"], ["b0", "b1"], ["p"], ["a3", "a4"]]
    assert [[s.run_id for s in t] for t in stack_batches(ready, key, 1)] == [[s.run_id] for s in ready]


def _schedule(runs: list[RunSpec], fn, tmp_path: Path):
    """``execute`` on the inline backend with task function ``fn``, stacking up to 4 runs per task."""
    store = Store(tmp_path / "s.sqlite")
    store.add_runs(runs)
    cfg = _config()
    result = execute(
        runs,
        backend=InlineBackend(fn),
        store=store,
        make_task=lambda s: Task(s, cfg, str(tmp_path)),
        stack={s.run_id: stack_key(s, cfg) for s in runs},
        stack_size=4,
    )
    return store, result


def test_the_scheduler_sends_a_stacked_task_and_records_each_runs_own_outcome(tmp_path) -> None:
    runs = [PRE, *SSL, SUP]
    sent: list[tuple[str, ...]] = []

    def fn(task: Task) -> Outcome:
        ids = tuple(s.run_id for s in task.specs)
        sent.append(ids)
        if len(ids) == 1:
            return Outcome(ids[0], True, {"epochs": 1.0}, worker="w")
        parts = tuple(
            Outcome(
                i,
                i != "ft-1-first",
                {"stacked_runs": float(len(ids))} if i != "ft-1-first" else {},
                error=None if i != "ft-1-first" else "OSError: disk full",
            )
            for i in ids
        )
        return Outcome(ids[0], False, parts=parts)

    store, result = _schedule(runs, fn, tmp_path)
    assert ("ft-0", "ft-1-first", "ft-3") in sent and ("pre-0",) in sent and ("ft-sup",) in sent
    assert sent.index(("pre-0",)) < sent.index(("ft-0", "ft-1-first", "ft-3"))
    assert result.failed == {"ft-1-first": "OSError: disk full"}
    assert sorted(result.done) == ["ft-0", "ft-3", "ft-sup", "pre-0"]
    assert store.metrics("ft-3") == {"stacked_runs": 3.0}


def test_a_stacked_task_that_fails_as_a_whole_fails_each_of_its_runs(tmp_path) -> None:
    def fn(task: Task) -> Outcome:
        if task.also:
            return Outcome(task.spec.run_id, False, error="RuntimeError: out of memory")
        return Outcome(task.spec.run_id, True, worker="w")

    runs = [PRE, *SSL]
    store, result = _schedule(runs, fn, tmp_path)
    assert result.done == ["pre-0"]
    assert result.failed == {s.run_id: "RuntimeError: out of memory" for s in SSL}
    assert store.counts()["failed"] == 3


@pytest.fixture
def _no_report(monkeypatch):
    import fairssl.report.html

    monkeypatch.setattr(
        fairssl.report.html, "build_report", lambda run_dir, **_: Path(run_dir) / "report.html"
    )


@pytest.mark.slow
def test_a_stacked_study_equals_the_study_trained_run_by_run(tmp_path, tiny_config_dict, _no_report) -> None:
    cfg: dict[str, Any] = copy.deepcopy(tiny_config_dict)
    cfg["finetune"] |= {"setups": ["supervised", "random:2-first-last", "0", "2-first-last", "1-first"]}
    cfg["finetune"]["epochs"] = 3
    cfg["seeds"] = [0, 1]
    folders = {}
    for stack in (1, 4):
        cfg["runtime"] = {"workers": 1, "stack_runs": stack}
        folders[stack] = run_study(build_config(cfg), run_dir=tmp_path / f"s{stack}", log=lambda _m: None)
    alone, stacked = folders[1], folders[4]
    runs = sorted(p.name for p in (alone / "runs").iterdir() if (p / "model.pt").exists())
    assert len(runs) == 10 and runs == sorted(
        p.name for p in (stacked / "runs").iterdir() if (p / "model.pt").exists()
    )
    together = {}
    for run in runs:
        a = pd.read_parquet(alone / "runs" / run / "predictions.parquet")
        b = pd.read_parquet(stacked / "runs" / run / "predictions.parquet")
        assert a["window_id"].tolist() == b["window_id"].tolist()
        np.testing.assert_allclose(b["prob_1"], a["prob_1"], rtol=0, atol=1e-5)
        ha = pd.read_csv(alone / "runs" / run / "history.csv")
        hb = pd.read_csv(stacked / "runs" / run / "history.csv")
        np.testing.assert_allclose(hb["val_loss"], ha["val_loss"], rtol=0, atol=1e-5)
        done = json.loads((stacked / "runs" / run / "done.json").read_text())
        assert "stacked_runs" not in json.loads((alone / "runs" / run / "done.json").read_text())["summary"]
        together[done["setup"], done["seed"]] = done["summary"]["stacked_runs"]
        if done["setup"] == "supervised":  # its recorded scores per epoch, as when it trains alone
            ta = pd.read_parquet(alone / "runs" / run / "trajectory.parquet")
            tb = pd.read_parquet(stacked / "runs" / run / "trajectory.parquet")
            assert len(ta) == len(tb) > 0 and ta["window_id"].tolist() == tb["window_id"].tolist()
            np.testing.assert_allclose(tb["prob_1"], ta["prob_1"], rtol=0, atol=1e-5)
    # each seed's SSL setups trained as one model; the runs without pre-training, of both seeds, as another
    assert together == {
        **{(s, seed): 3 for s in ("0", "2-first-last", "1-first") for seed in (0, 1)},
        **{(s, seed): 4 for s in ("supervised", "random:2-first-last") for seed in (0, 1)},
    }
    with Store(stacked / "results.sqlite", readonly=True) as store:
        assert store.counts()["done"] == 12


@pytest.mark.slow
def test_a_run_of_a_stacked_task_that_cannot_be_written_fails_alone_and_is_redone_on_resume(
    tmp_path, tiny_config_dict, monkeypatch, _no_report
) -> None:
    import fairssl.experiments.training as training
    from fairssl.errors import RunError

    cfg: dict[str, Any] = copy.deepcopy(tiny_config_dict)
    cfg["runtime"] = {"workers": 1, "stack_runs": 4}
    write = training.write_finetuned

    def failing(model, result, ds, config, out):
        if json.loads((out / "spec.json").read_text())["setup"] == "0":
            raise OSError("No space left on device")
        return write(model, result, ds, config, out)

    monkeypatch.setattr(training, "write_finetuned", failing)
    with pytest.raises(RunError, match=r"1 of 4 runs failed.*setup 0.*No space left"):
        run_study(build_config(cfg), run_dir=tmp_path / "s", log=lambda _m: None)
    done = {
        json.loads(p.read_text())["setup"]: json.loads(p.read_text())
        for p in tmp_path.glob("s/runs/*/done.json")
    }
    assert done["2-first-last"]["summary"]["stacked_runs"] == 2  # its partner is published all the same
    assert set(done) == {None, "supervised", "2-first-last"}
    monkeypatch.setattr(training, "write_finetuned", write)
    lines: list[str] = []
    run_study(build_config(cfg), run_dir=tmp_path / "s", log=lines.append)
    assert any("3 of 4 runs already done" in line for line in lines), lines[:5]
    with Store(tmp_path / "s" / "results.sqlite", readonly=True) as store:
        assert store.counts()["done"] == 4
