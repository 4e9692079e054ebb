"""Checksums of published runs, damaged checkpoints, and a malformed results store."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from fairssl.atomic import save_npz_atomic, torch_save_atomic, write_json_atomic, write_parquet_atomic
from fairssl.experiments.grid import RunSpec
from fairssl.experiments.integrity import check_run, checkpoint_problem, fingerprint, verify_run
from fairssl.experiments.store import Store, StoreError, open_store
from fairssl.experiments.workspace import Workspace

FT = RunSpec("ft-1", "finetune", 0, setup="0", threads=1)
PRE = RunSpec("pre-1", "pretrain", 0, threads=1)


def _publish(ws: Workspace, spec: RunSpec, *, record_checksums: bool = True, threads: int = 1) -> Path:
    """A run folder as training.execute_run leaves it (small real files of each format)."""
    out = ws.run(spec.run_id)
    out.mkdir(parents=True)
    write_json_atomic(out / "spec.json", spec.to_dict())
    if spec.kind == "pretrain":
        torch_save_atomic({"w": torch.arange(50.0)}, out / "encoder.pt")
    else:
        torch_save_atomic({"w": torch.arange(50.0)}, out / "model.pt")
        write_parquet_atomic(
            pd.DataFrame({"window_id": ["a", "b"], "prob_1": [0.2, 0.7]}), out / "predictions.parquet"
        )
        save_npz_atomic(
            out / "activations.npz", conv1=np.ones((2, 40), np.float16), window_id=np.array(["a", "b"])
        )
    record = {**spec.to_dict(), "threads": threads, "summary": {"epochs": 2}}
    if record_checksums:
        record["artifacts"] = fingerprint(out)
    write_json_atomic(out / "done.json", record)
    return out


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_fingerprint_records_size_and_sha256_of_every_file_but_the_record(tmp_path) -> None:
    out = _publish(Workspace(tmp_path), FT)
    recorded = json.loads((out / "done.json").read_text())["artifacts"]
    assert sorted(recorded) == ["activations.npz", "model.pt", "predictions.parquet", "spec.json"]
    for name, entry in recorded.items():
        data = (out / name).read_bytes()
        assert entry == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_an_intact_run_verifies(tmp_path) -> None:
    ws = Workspace(tmp_path)
    _publish(ws, FT)
    _publish(ws, PRE)
    assert verify_run(ws, FT) is None and verify_run(ws, PRE) is None
    assert verify_run(ws, FT) is None and check_run(ws, FT).state == "ok"


@pytest.mark.parametrize("name", ["activations.npz", "predictions.parquet", "model.pt", "spec.json"])
def test_a_truncated_artifact_is_named_with_its_sizes(tmp_path, name) -> None:
    ws = Workspace(tmp_path)
    out = _publish(ws, FT)
    size = (out / name).stat().st_size
    _truncate(out / name)
    assert verify_run(ws, FT) == (
        f"{name} is {size // 2} bytes, {size} were published (truncated or replaced)"
    )
    assert verify_run(ws, FT) is not None


def test_a_truncated_encoder_and_a_changed_byte_are_damage(tmp_path) -> None:
    ws = Workspace(tmp_path)
    out = _publish(ws, PRE)
    _truncate(out / "encoder.pt")
    assert check_run(ws, PRE).state == "damaged"
    ws2 = Workspace(tmp_path / "b")
    out = _publish(ws2, FT)
    data = bytearray((out / "model.pt").read_bytes())
    data[-30] ^= 0xFF  # same size, one byte flipped
    (out / "model.pt").write_bytes(bytes(data))
    assert verify_run(ws2, FT) == "model.pt changed since it was published (SHA-256 differs)"


def test_missing_files_unreadable_record_and_unpublished_runs(tmp_path) -> None:
    ws = Workspace(tmp_path)
    assert check_run(ws, FT).state == "absent" and "not been published" in (verify_run(ws, FT) or "")
    out = _publish(ws, FT)
    (out / "activations.npz").unlink()
    assert verify_run(ws, FT) == "activations.npz is missing"
    (out / "done.json").write_text('{"run_id": "ft-1", "artif')
    assert verify_run(ws, FT) == "done.json is unreadable (JSONDecodeError)"
    write_json_atomic(out / "done.json", {"run_id": "ft-other"})
    assert verify_run(ws, FT) == "done.json belongs to run 'ft-other'"


def test_another_thread_count_is_a_mismatch_not_damage(tmp_path) -> None:
    ws = Workspace(tmp_path)
    _publish(ws, FT, threads=2)
    check = check_run(ws, FT)
    assert check.state == "mismatch"
    assert check.reason == "it was trained with 2 torch thread(s), the study asks for 1 (runtime.threads)"


def test_legacy_runs_without_checksums_are_trusted_only_when_they_decode(tmp_path) -> None:
    ws = Workspace(tmp_path)
    out = _publish(ws, FT, record_checksums=False)
    assert check_run(ws, FT).state == "legacy" and verify_run(ws, FT) is None
    _truncate(out / "activations.npz")
    assert check_run(ws, FT).state == "damaged"
    assert verify_run(ws, FT) == "activations.npz cannot be read (BadZipFile)"


def _checkpoint(path: Path, *, threads: int = 1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = ["encoder", "head", "optimizer", "scheduler", "generator", "torch_rng", "best_state", "result"]
    torch_save_atomic(dict.fromkeys(keys, 0), path)
    write_json_atomic(path.parent / "spec.json", {**PRE.to_dict(), "threads": threads})


def test_checkpoint_problems(tmp_path) -> None:
    path = tmp_path / ".partial" / "pre-1" / "checkpoint.pt"
    assert checkpoint_problem(path, threads=1) is None  # no checkpoint: nothing to discard
    _checkpoint(path)
    assert checkpoint_problem(path, threads=1) is None
    assert checkpoint_problem(path, threads=2) == "it was written with 1 torch thread(s), the run now uses 2"
    _truncate(path)
    assert checkpoint_problem(path, threads=1) == "it cannot be loaded (RuntimeError)"
    torch_save_atomic({"encoder": 0}, path)
    assert checkpoint_problem(path, threads=1) == "it lacks the saved training state"


# ---------------------------------------------------------------------------------------------- the store
def test_a_malformed_store_is_moved_aside_and_replaced_with_one_line(tmp_path) -> None:
    path = tmp_path / "results.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    logs: list[str] = []
    with open_store(path, log=logs.append) as store:
        assert store.records() == [] and store.add_runs([PRE]) == 1
    assert logs == [
        "the results store results.sqlite was unreadable (file is not a database); rebuilt it from the "
        "runs' artifacts (the damaged file is kept as results.sqlite.damaged)"
    ]
    assert (tmp_path / "results.sqlite.damaged").read_bytes().startswith(b"this is not")


def test_a_truncated_store_is_rebuilt(tmp_path) -> None:
    path = tmp_path / "results.sqlite"
    with Store(path) as store:
        store.add_runs(
            [RunSpec(f"ft-{i}", "finetune", i, setup="0", payload={"x": "y" * 500}) for i in range(50)]
        )
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    _truncate(path)
    logs: list[str] = []
    with open_store(path, log=logs.append) as store:
        assert store.records() == []
    assert len(logs) == 1 and "rebuilt it from the runs' artifacts" in logs[0]


def test_an_intact_store_is_opened_silently(tmp_path) -> None:
    path = tmp_path / "results.sqlite"
    with Store(path) as store:
        store.add_runs([PRE])
    logs: list[str] = []
    with open_store(path, log=logs.append) as store:
        assert [r.run_id for r in store.records()] == ["pre-1"]
    assert logs == []


def test_reading_a_malformed_store_is_one_line(tmp_path) -> None:
    path = tmp_path / "results.sqlite"
    path.write_bytes(b"garbage" * 200)
    with pytest.raises(
        StoreError, match=r"^could not read the results store .*: file is not a database; run"
    ) as info:
        Store(path, readonly=True)
    assert "\n" not in str(info.value) and info.value.exit_code == 2


def test_a_store_from_before_the_threads_column_is_migrated(tmp_path) -> None:
    path = tmp_path / "results.sqlite"
    with Store(path) as store:
        store.add_runs([PRE])
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE runs DROP COLUMN threads")
    conn.close()
    with Store(path, readonly=True) as ro:
        assert ro.records()[0].threads is None  # still readable by `fairssl status`
    with Store(path) as store:
        store.mark_running("pre-1", threads=3)
        assert store.get("pre-1").threads == 3  # type: ignore[union-attr]
