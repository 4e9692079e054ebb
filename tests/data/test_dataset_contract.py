"""The WindowDataset contract: validation messages, missing attributes, subset alignment, save/load."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fairssl.data.dataset import MISSING, WindowDataset
from fairssl.errors import DataError


def _parts(n_subjects: int = 6, per: int = 4, c: int = 2, t: int = 5, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    n = n_subjects * per
    subject = np.repeat([f"s{i}" for i in range(n_subjects)], per)
    split_of = {f"s{i}": ("train", "train", "val", "test", "train", "test")[i % 6] for i in range(n_subjects)}
    return {
        "X": rng.normal(size=(n, c, t)).astype(np.float32),
        "y": np.tile([0, 1], n // 2),
        "subject": subject,
        "split": np.array([split_of[s] for s in subject]),
        "attributes": pd.DataFrame({"sex": np.where(np.arange(n) % 3 == 0, "F", "M")}),
        "window_id": np.array([f"id{i}" for i in range(n)]),
    }


def _build(**changes: object) -> WindowDataset:
    parts = _parts()
    parts.update(changes)
    X = parts.pop("X")
    y = parts.pop("y")
    return WindowDataset.build(X, y, **parts)


def test_valid_dataset_builds_with_ids_as_attribute_index() -> None:
    ds = _build()
    assert ds.X.dtype == np.float32
    assert list(ds.attributes.index) == [f"id{i}" for i in range(24)]
    assert ds.n_classes == 2


def test_nan_in_X_is_reported_with_window_and_channel() -> None:
    X = _parts()["X"]
    X[5, 1, 2] = np.nan
    with pytest.raises(DataError, match=r"X holds 1 NaN/Inf values \(first at window 'id5', channel 'ch1'\)"):
        _build(X=X)


def test_nan_allowed_when_asked() -> None:
    X = _parts()["X"]
    X[0, 0, 0] = np.inf
    ds = WindowDataset.build(
        X, _parts()["y"], subject=_parts()["subject"], split=_parts()["split"], allow_nan=True
    )
    assert np.isinf(ds.X[0, 0, 0])


def test_negative_label_outside_pool_is_rejected() -> None:
    y = _parts()["y"].copy()
    y[0] = -1
    with pytest.raises(DataError, match=r"1 labelled windows .* have a negative label"):
        _build(y=y)


def test_negative_label_inside_pool_is_accepted() -> None:
    parts = _parts()
    split = parts["split"].copy()
    y = parts["y"].copy()
    split[parts["subject"] == "s4"] = "pool"
    y[parts["subject"] == "s4"] = -1
    ds = _build(split=split, y=y)
    assert (ds.y[ds.split == "pool"] == -1).all()


def test_unknown_split_name() -> None:
    split = _parts()["split"].astype(object)
    split[0:4] = "holdout"
    with pytest.raises(
        DataError, match=r"unknown split name\(s\) \['holdout'\]; allowed: train, val, test, pool"
    ):
        _build(split=split)


def test_subject_in_two_splits() -> None:
    split = _parts()["split"].copy()
    split[0] = "test"  # s0's other windows are train
    with pytest.raises(DataError, match=r"1 subject\(s\) appear in more than one split \(e\.g\. 's0'\)"):
        _build(split=split)


def test_empty_split() -> None:
    split = _parts()["split"].copy()
    split[split == "val"] = "train"
    with pytest.raises(DataError, match=r"the 'val' split is empty"):
        _build(split=split)


def test_single_class_train_split() -> None:
    y = np.zeros(24, dtype=int)
    y[_parts()["split"] == "test"] = 1
    with pytest.raises(DataError, match=r"the train split has a single class \[0\]"):
        _build(y=y)


def test_window_ids_must_be_unique() -> None:
    wid = _parts()["window_id"].copy()
    wid[1] = wid[0]
    with pytest.raises(DataError, match="window_id values are not unique"):
        _build(window_id=wid)


def test_attribute_rows_must_match_windows() -> None:
    with pytest.raises(DataError, match=r"attributes has 23 rows but X has 24 windows"):
        _build(attributes=pd.DataFrame({"sex": ["F"] * 23}))


def test_channel_names_must_match_channels() -> None:
    with pytest.raises(DataError, match=r"3 channel names given for 2 channels"):
        _build(channel_names=["a", "b", "c"])


def test_subject_length_mismatch() -> None:
    with pytest.raises(DataError, match=r"subject has shape \(23,\), expected \(24,\)"):
        _build(subject=_parts()["subject"][:23])


def test_X_must_be_three_dimensional() -> None:
    with pytest.raises(DataError, match=r"X must be a 3-D array .* got shape \(24, 10\)"):
        _build(X=np.zeros((24, 10), dtype=np.float32))


def test_fractional_labels_rejected() -> None:
    with pytest.raises(DataError, match=r"labels must be integers 0..K-1 \(no NaN, no fractions\)"):
        _build(y=np.full(24, 0.5))


def test_missing_attribute_values_become_missing_category() -> None:
    sex = np.array(["F", "M", None, np.nan, "", "  "] * 4, dtype=object)
    ds = _build(attributes=pd.DataFrame({"sex": sex}))
    values = ds.attributes["sex"].astype(str).to_numpy()
    assert (values[[2, 3, 4, 5]] == MISSING).all()
    assert set(values) == {"F", "M", MISSING}
    # the missing category is its own group, never merged into another
    assert (values == MISSING).sum() == 16 and (values == "F").sum() == 4


def test_subset_keeps_ids_aligned_after_shuffle() -> None:
    ds = _build()
    row_of = {w: i for i, w in enumerate(ds.window_id)}
    perm = np.random.default_rng(3).permutation(len(ds.y))[:15]
    sub = ds.subset(perm)
    for k, wid in enumerate(sub.window_id):
        i = row_of[wid]
        np.testing.assert_array_equal(sub.X[k], ds.X[i])
        assert sub.y[k] == ds.y[i] and sub.subject[k] == ds.subject[i] and sub.split[k] == ds.split[i]
        assert sub.attributes.index[k] == wid
        assert sub.attributes["sex"].iloc[k] == ds.attributes["sex"].loc[wid]


def test_subset_by_boolean_mask() -> None:
    ds = _build()
    sub = ds.subset(ds.split == "test")
    assert set(sub.split) == {"test"} and len(sub.y) == int((ds.split == "test").sum())


def test_save_load_round_trip_with_memmap(tmp_path: Path) -> None:
    mask = np.ones((24, 2, 5), dtype=bool)
    mask[0, 0, 0] = False
    ds = _build(mask=mask, channel_names=["hr", "acc"], name="tiny", y_clean=np.tile([0, 1], 12))
    ds.save(tmp_path / "ds")
    back = WindowDataset.load(tmp_path / "ds", mmap=True)
    assert isinstance(back.X, np.memmap)
    assert isinstance(back.mask, np.memmap)
    np.testing.assert_array_equal(np.asarray(back.X), ds.X)
    np.testing.assert_array_equal(back.y, ds.y)
    np.testing.assert_array_equal(back.window_id, ds.window_id)
    np.testing.assert_array_equal(back.subject, ds.subject)
    np.testing.assert_array_equal(back.split, ds.split)
    np.testing.assert_array_equal(back.y_clean, ds.y_clean)
    np.testing.assert_array_equal(np.asarray(back.mask), mask)
    assert back.channel_names == ("hr", "acc") and back.name == "tiny"
    pd.testing.assert_frame_equal(back.attributes.astype(str), ds.attributes.astype(str))
    in_memory = WindowDataset.load(tmp_path / "ds", mmap=False)
    assert not isinstance(in_memory.X, np.memmap)


def test_memmap_subset_gathers_only_selected_rows(tmp_path: Path) -> None:
    _build().save(tmp_path / "ds")
    back = WindowDataset.load(tmp_path / "ds")
    sub = back.subset(np.array([3, 1]))
    assert not isinstance(sub.X, np.memmap) and sub.X.shape == (2, 2, 5)
    np.testing.assert_array_equal(sub.X[0], np.asarray(back.X[3]))


def test_load_rejects_a_folder_without_dataset_json(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"is not a fairssl dataset folder \(no dataset.json\)"):
        WindowDataset.load(tmp_path)


def test_load_rejects_truncated_X(tmp_path: Path) -> None:
    folder = _build().save(tmp_path / "ds")
    data = (folder / "X.npy").read_bytes()
    (folder / "X.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"is truncated or corrupt .*re-create it from the source data"):
        WindowDataset.load(folder)


def test_load_rejects_corrupt_metadata(tmp_path: Path) -> None:
    folder = _build().save(tmp_path / "ds")
    (folder / "windows.parquet").write_bytes(b"PAR1 not really parquet")
    with pytest.raises(DataError, match=r"is truncated or corrupt"):
        WindowDataset.load(folder)


def test_validate_on_a_replaced_dataset_catches_shared_subjects() -> None:
    ds = _build()
    split = ds.split.copy()
    split[0] = "val"
    with pytest.raises(DataError, match="appear in more than one split"):
        replace(ds, split=split).validate()


def test_saving_a_memmapped_dataset_into_its_own_folder_keeps_its_data(tmp_path) -> None:
    ds = _build()
    ds.save(tmp_path / "d")
    loaded = WindowDataset.load(tmp_path / "d", mmap=True)
    expected = np.array(loaded.X)
    loaded.save(tmp_path / "d")
    again = WindowDataset.load(tmp_path / "d", mmap=False)
    np.testing.assert_array_equal(again.X, expected)
