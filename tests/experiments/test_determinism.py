"""Results are a function of the run spec: ``--workers 1`` and ``--workers 2`` give the same bytes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from fairssl.config import build_config
from fairssl.experiments.runner import run_study
from fairssl.experiments.store import Store

pytestmark = pytest.mark.slow

ARTIFACTS = ("encoder.pt", "model.pt", "predictions.parquet", "activations.npz", "pool.csv")


@pytest.fixture(autouse=True)
def _no_report_figures(monkeypatch):
    """The report's figures are not what is compared here; drawing them only costs time."""
    import fairssl.report.html

    monkeypatch.setattr(
        fairssl.report.html, "build_report", lambda run_dir, **_: Path(run_dir) / "report.html"
    )


def _files(root: Path, pattern: str) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.glob(pattern)) if p.is_file()}


def test_one_worker_and_two_workers_give_bit_identical_artifacts_and_tables(
    tmp_path, tiny_config_dict
) -> None:
    import torch

    cfg: dict[str, Any] = copy.deepcopy(tiny_config_dict)
    cfg["seeds"] = [0, 1]
    threads_before = torch.get_num_threads()
    folders = {}
    for workers in (1, 2):
        cfg["runtime"] = {"workers": workers}  # runtime.threads unset: the fixed default
        folders[workers] = run_study(build_config(cfg), run_dir=tmp_path / f"w{workers}", log=lambda _m: None)
    assert torch.get_num_threads() == threads_before  # the study restores the caller's setting

    one, two = folders[1], folders[2]
    artifacts = {name: data for name, data in _files(one, "runs/*/*").items() if name.endswith(ARTIFACTS)}
    # 2 encoders + 6 fine-tunings x 4 files (model, test and validation predictions, activations) + 2 pool.csv
    assert len(artifacts) == 2 + 2 * 3 * 4 + 2
    assert artifacts == {k: v for k, v in _files(two, "runs/*/*").items() if k.endswith(ARTIFACTS)}

    tables = {k: v for k, v in _files(one, "results/*").items() if k.endswith((".csv", ".parquet"))}
    assert any(name.endswith(".csv") for name in tables) and any(n.endswith(".parquet") for n in tables)
    other = {k: v for k, v in _files(two, "results/*").items() if k.endswith((".csv", ".parquet"))}
    assert tables.keys() == other.keys()
    differ = [name for name in tables if tables[name] != other[name]]
    assert not differ, f"tables differ between --workers 1 and 2: {differ}"

    # the thread count is recorded with every run: in the store, done.json and spec.json
    for folder in (one, two):
        with Store(folder / "results.sqlite", readonly=True) as store:
            assert {r.threads for r in store.records()} == {1}
        for done in folder.glob("runs/*/done.json"):
            assert json.loads(done.read_text())["threads"] == 1
            assert json.loads((done.parent / "spec.json").read_text())["threads"] == 1
