"""Atomic writers: an interrupted write leaves the old file intact and no temporary file behind."""

from __future__ import annotations

import errno
import json

import numpy as np
import pandas as pd
import pytest
import torch

from fairssl.atomic import (
    save_npz_atomic,
    torch_save_atomic,
    write_csv_atomic,
    write_json_atomic,
    write_parquet_atomic,
    write_text_atomic,
)

FRAME = pd.DataFrame({"variant": ["base", "base"], "metric": ["auroc", "ece"], "value": [0.81, 0.05]})


def _writers():
    """(name, write new content, read back) for every writer."""
    return [
        ("t.txt", lambda p: write_text_atomic(p, "new"), lambda p: p.read_text()),
        ("t.json", lambda p: write_json_atomic(p, {"a": 2}), lambda p: json.loads(p.read_text())),
        ("t.csv", lambda p: write_csv_atomic(FRAME, p), lambda p: pd.read_csv(p)),
        ("t.parquet", lambda p: write_parquet_atomic(FRAME, p), lambda p: pd.read_parquet(p)),
        ("t.npz", lambda p: save_npz_atomic(p, x=np.arange(3)), lambda p: dict(np.load(p))),
        ("t.pt", lambda p: torch_save_atomic({"w": torch.ones(2)}, p), lambda p: torch.load(p)),
    ]


@pytest.mark.parametrize("index", range(6))
def test_each_writer_round_trips_and_leaves_no_temporary_file(tmp_path, index) -> None:
    name, write, read = _writers()[index]
    path = tmp_path / name
    write(path)
    got = read(path)
    if name.endswith((".csv", ".parquet")):
        pd.testing.assert_frame_equal(got, FRAME)
    elif name.endswith(".npz"):
        np.testing.assert_array_equal(got["x"], np.arange(3))
    elif name.endswith(".pt"):
        assert torch.equal(got["w"], torch.ones(2))
    else:
        assert got in ("new", {"a": 2})
    assert [p.name for p in tmp_path.iterdir()] == [name]


@pytest.mark.parametrize("index", range(6))
def test_a_write_interrupted_inside_the_writer_leaves_the_old_file(tmp_path, monkeypatch, index) -> None:
    name, write, _read = _writers()[index]
    path = tmp_path / name
    path.write_bytes(b"old content")

    def boom(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    # the library call that serialises (the writer's inner step) fails half-way
    monkeypatch.setattr(np, "savez", boom)
    monkeypatch.setattr(torch, "save", boom)
    monkeypatch.setattr(pd.DataFrame, "to_parquet", boom)
    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    monkeypatch.setattr(json, "dumps", boom)
    if name == "t.txt":
        import fairssl.atomic

        monkeypatch.setattr(fairssl.atomic.os, "fsync", boom)
    with pytest.raises(OSError, match="No space left"):
        write(path)
    assert path.read_bytes() == b"old content"
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_torch_save_gives_the_same_bytes_whatever_the_target_name(tmp_path) -> None:
    """torch.save names the archive after the path; through a handle the bytes do not depend on it."""
    state = {"w": torch.arange(4.0)}
    torch_save_atomic(state, tmp_path / "a.pt")
    torch_save_atomic(state, tmp_path / "b.pt")
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()


def test_the_new_file_gets_the_usual_permissions(tmp_path) -> None:
    import os

    write_text_atomic(tmp_path / "a.txt", "x")
    (tmp_path / "b.txt").write_text("x")
    assert os.stat(tmp_path / "a.txt").st_mode == os.stat(tmp_path / "b.txt").st_mode


def test_a_missing_folder_is_an_error_not_a_partial_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        write_text_atomic(tmp_path / "missing" / "a.txt", "x")
    assert not (tmp_path / "missing").exists()
