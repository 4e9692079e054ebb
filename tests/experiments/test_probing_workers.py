"""The probe stage over several models (:func:`fairssl.experiments.probing.run_probes`): probing the models
in a pool of worker processes gives exactly the tables of probing them one after the other."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pandas as pd
import pytest

from fairssl import shared_jobs
from fairssl.config import build_config
from fairssl.experiments import probing
from fairssl.experiments.grid import RunSpec
from fairssl.experiments.probing import run_probes
from fairssl.experiments.workspace import Workspace

WIDTHS = [4, 6]
STEPS = [8, 4]


def _study(tmp_path, n_models: int = 3) -> tuple[Workspace, list[RunSpec], dict[str, pd.DataFrame]]:
    """``n_models`` runs' stored activations (conv1 4 x 8, conv2 6 x 4 features) and predictions of 40
    subjects x 5 windows, subject-level sex and race, a weak group and label signal per model."""
    ws = Workspace(tmp_path)
    rng = np.random.default_rng(0)
    n_subj, per = 40, 5
    n = n_subj * per
    subjects = np.repeat([f"s{i:02d}" for i in range(n_subj)], per)
    sex = np.repeat(rng.choice(["f", "m"], size=n_subj), per)
    race = np.repeat(rng.choice(["a", "b", "c"], size=n_subj, p=[0.5, 0.3, 0.2]), per)
    y = (rng.random(n) < 0.3 + 0.3 * (sex == "f")).astype(int)
    window_id = np.arange(n)[::-1]  # stored in another order than the predictions: aligned by id
    specs, preds = [], {}
    for m in range(n_models):
        run_id = f"ft-{m:02d}"
        specs.append(RunSpec(run_id=run_id, kind="finetune", seed=m, setup=f"setup{m}"))
        signal = (0.5 * (race == "b") + 0.4 * y + 0.1 * m)[:, None]
        acts = {
            f"conv{i + 1}": (rng.normal(size=(n, w * t)) + signal).astype(np.float32)
            for i, (w, t) in enumerate(zip(WIDTHS, STEPS, strict=True))
        }
        ws.run(run_id).mkdir(parents=True)
        order = np.argsort(window_id)
        np.savez(
            ws.run(run_id) / "activations.npz",
            window_id=window_id[order],
            **{k: a[order] for k, a in acts.items()},
        )
        preds[run_id] = pd.DataFrame(
            {"window_id": window_id, "subject": subjects, "y": y, "sex": sex, "race": race}
        )
    return ws, specs, preds


def _config(workers: int):
    return build_config(
        {
            "model": {"widths": WIDTHS, "kernels": [3, 3]},
            "evaluation": {"min_group_size": 20},
            "probes": {"n_boot": 10, "max_features": 12, "n_splits": 4},
            "runtime": {"workers": workers},
        }
    )


def test_two_workers_give_the_serial_tables(tmp_path, monkeypatch: pytest.MonkeyPatch, workers_gone) -> None:
    pools: list[int] = []
    in_parent: list[str] = []
    real_share, real_local = probing._share, probing._one_blas_thread_here

    def counted(jobs, workers):
        pools.append(workers)
        return real_share(jobs, workers)

    def parent_job(call):  # jobs run by this process (the spawned worker does not see the patch)
        frame = real_local(call)
        in_parent.append(frame["layer"].iloc[0] if len(frame) else "")
        return frame

    monkeypatch.setattr(probing, "_share", counted)
    monkeypatch.setattr(probing, "_one_blas_thread_here", parent_job)
    tables = {}
    messages: dict[int, list[str]] = {1: [], 2: []}
    calls = {}
    for workers in (1, 2):
        ws, specs, preds = _study(tmp_path / f"w{workers}")
        tables[workers] = run_probes(
            _config(workers), ws, specs, preds, ["sex", "race"], gaps=[], log=messages[workers].append
        )
        calls[workers], in_parent[:] = len(in_parent), []
    assert pools == [1, 2]
    # 3 models x 2 probes: serially all 6 here; with 2 workers the pool's worker takes the first two at
    # once and this process starts from the back, so both share the work
    assert calls[1] == 6 and calls[2] <= 6  # who runs which job depends on timing (see below)
    assert "2 processes" in messages[2][0] and "processes" not in messages[1][0]
    for name in ("probes_demographic", "probes_task"):
        serial, pooled_ = tables[1][name], tables[2][name]
        assert len(serial) > 0 and set(serial["run_id"]) == {"ft-00", "ft-01", "ft-02"}
        assert list(serial["run_id"].drop_duplicates()) == ["ft-00", "ft-01", "ft-02"]  # run order kept
        pd.testing.assert_frame_equal(serial, pooled_)
        assert serial.attrs == pooled_.attrs
        on_disk = [pd.read_csv(tmp_path / f"w{w}" / "results" / f"{name}.csv") for w in (1, 2)]
        pd.testing.assert_frame_equal(on_disk[0], on_disk[1])
    assert workers_gone()  # the pool was shut down


def test_the_pool_is_used_only_for_two_models_and_two_workers(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One model (or one worker) is probed in this process: no pool is started."""
    started: list[int] = []
    real_pool = shared_jobs.cf.ProcessPoolExecutor

    def spy(*args, **kwargs):
        started.append(kwargs["max_workers"])
        return real_pool(*args, **kwargs)

    monkeypatch.setattr(shared_jobs.cf, "ProcessPoolExecutor", spy)
    ws, specs, preds = _study(tmp_path, n_models=1)
    out = run_probes(_config(4), ws, specs, preds, ["sex"], log=lambda _: None)
    assert started == [] and set(out["probes_demographic"]["run_id"]) == {"ft-00"}


def test_a_stage_started_early_gives_the_serial_tables(tmp_path, workers_gone) -> None:
    """Started, left to the pool while this process does other work, finished later: the tables of
    probing the models one after the other, and the pool is gone afterwards."""
    ws1, specs, preds = _study(tmp_path / "serial")
    serial = run_probes(_config(1), ws1, specs, preds, ["sex", "race"], log=lambda _: None)
    ws2, specs, preds = _study(tmp_path / "early")
    with probing.ProbeStage(_config(2), ws2, specs, preds, ["sex", "race"], log=lambda _: None) as stage:
        assert stage.in_background
        futures = [f for f in stage.jobs.futures if f is not None]
        assert len(futures) == 6  # every job handed to the pool at once
        futures[0].result(timeout=120)  # the pool works while this process is busy elsewhere
        gaps: list[dict] = []
        early = stage.finish(gaps=gaps, log=lambda _: None)
        assert not stage.in_background
    assert workers_gone()
    for name in ("probes_demographic", "probes_task"):
        pd.testing.assert_frame_equal(serial[name], early[name])


def test_closing_a_started_stage_cancels_its_pool(tmp_path) -> None:
    """Leaving the stage without finishing it (an error in the work beside it) shuts the pool down and
    writes no table."""
    ws, specs, preds = _study(tmp_path)
    stage = probing.ProbeStage(_config(2), ws, specs, preds, ["sex"], log=lambda _: None)
    with pytest.raises(KeyboardInterrupt), stage:
        assert stage.in_background
        raise KeyboardInterrupt
    assert not stage.in_background and not multiprocessing.active_children()
    assert not (ws.results / "probes_demographic.csv").exists()
