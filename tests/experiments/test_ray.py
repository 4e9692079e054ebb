"""The tiny grid on a local Ray instance gives the local executor's results (same seeds, same metrics)."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pandas as pd
import pytest

from fairssl.config import build_config
from fairssl.experiments.runner import run_study
from fairssl.experiments.store import Store

ray = pytest.importorskip("ray")

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def test_ray_executor_matches_the_local_executor(tmp_path, tiny_config_dict, monkeypatch) -> None:
    import fairssl.report.html

    monkeypatch.setattr(
        fairssl.report.html, "build_report", lambda run_dir, **_: Path(run_dir) / "report.html"
    )
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    cfg = copy.deepcopy(tiny_config_dict)
    cfg["seeds"] = [0, 1]
    cfg["runtime"] = {"workers": 1, "threads": 1}
    local = run_study(build_config(cfg), run_dir=tmp_path / "local", log=lambda _m: None)

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        cfg["runtime"] = {"executor": "ray", "threads": 1}
        remote = run_study(build_config(cfg), run_dir=tmp_path / "ray", log=lambda _m: None)
    finally:
        ray.shutdown()

    with Store(remote / "results.sqlite", readonly=True) as store:
        records = store.records()
    assert len(records) == 8 and all(r.status == "done" for r in records)
    # the runs executed in Ray worker processes, not in this one
    assert all(r.worker and not r.worker.endswith(f":{os.getpid()}") for r in records)
    pd.testing.assert_frame_equal(
        pd.read_parquet(remote / "results" / "results.parquet"),
        pd.read_parquet(local / "results" / "results.parquet"),
    )
