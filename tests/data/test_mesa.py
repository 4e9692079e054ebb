"""MESA task-1 loader: labels from gt, time-ordered windows, padding, training statistics, layouts, EXCLUDED
epochs, lights missing for whole users, the example config, errors."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from fairssl.data.dataset import MISSING, WindowDataset
from fairssl.data.loaders.mesa import load_mesa, window_series
from fairssl.errors import ConfigError, DataError

if str(Path(__file__).parent) not in sys.path:  # --import-mode=importlib: make the fixture writers importable
    sys.path.insert(0, str(Path(__file__).parent))
from dataclasses import replace

from fixtures_paper import MESA_TASK_HEADER, MesaUser, mesa_users, write_mesa

HALF = 50


def _user_rows(ds: WindowDataset, user: MesaUser) -> np.ndarray:
    rows = np.flatnonzero(ds.subject == str(user.mesaid))
    order = np.argsort([int(w.split(":")[1]) for w in ds.window_id[rows]])
    return rows[order]


def _raw_centre(ds: WindowDataset, rows: np.ndarray, channel: int) -> np.ndarray:
    name = ds.channel_names[channel]
    centre, scale = ds.info["scaling_centre"][name], ds.info["scaling_scale"][name]
    return ds.X[rows, channel, HALF].astype(np.float64) * scale + centre


def test_shapes_and_benchmark_split(tmp_path: Path) -> None:
    users = mesa_users()
    ds = load_mesa(write_mesa(tmp_path, users))
    assert ds.X.shape == (sum(len(u.gt) for u in users), 5, 2 * HALF + 1)
    assert ds.channel_names == ("activity", "whitelight", "redlight", "greenlight", "bluelight")
    test_users = {str(u.mesaid) for u in users if u.split == "test"}
    assert set(ds.subject[ds.split == "test"]) == test_users
    train, val = set(ds.subject[ds.split == "train"]), set(ds.subject[ds.split == "val"])
    assert not train & val and not (train | val) & test_users
    assert len(val) == round(0.2 * (len(users) - len(test_users)))


def test_labels_are_gt_not_wake(tmp_path: Path) -> None:
    users = mesa_users()
    ds = load_mesa(write_mesa(tmp_path, users))
    for u in users:
        rows = _user_rows(ds, u)
        np.testing.assert_array_equal(ds.y[rows], u.gt)
        assert not np.array_equal(ds.y[rows], 1 - u.wake)  # the fixture's wake flag disagrees with gt
    assert ds.info["label"] == "gt"


def test_windows_are_in_time_order(tmp_path: Path) -> None:
    users = mesa_users(counter=True)  # activity = epoch index; files are written shuffled
    ds = load_mesa(write_mesa(tmp_path, users, shuffle=True))
    for u in users:
        rows = _user_rows(ds, u)
        np.testing.assert_allclose(_raw_centre(ds, rows, 0), np.arange(len(u.gt)), atol=1e-3)
        # consecutive windows shift by one epoch: step j+1 of window k is step j of window k+1
        np.testing.assert_array_equal(ds.X[rows[:-1], :, 1:], ds.X[rows[1:], :, :-1])


def test_edge_and_zero_padding(tmp_path: Path) -> None:
    users = mesa_users(counter=True)
    root = write_mesa(tmp_path, users)
    edge = load_mesa(root)
    zero = load_mesa(root, padding="zero")
    u = users[0]
    n = len(u.gt)
    rows = _user_rows(edge, u)
    first, last = edge.X[rows[0]], edge.X[rows[-1]]
    np.testing.assert_array_equal(first[:, :HALF], np.repeat(first[:, HALF : HALF + 1], HALF, axis=1))
    np.testing.assert_array_equal(last[:, HALF + 1 :], np.repeat(last[:, HALF : HALF + 1], HALF, axis=1))
    # window k (k < HALF) sees HALF - k padded steps, then epochs 0 .. k + HALF
    k = 7
    np.testing.assert_array_equal(
        edge.X[rows[k], :, : HALF - k], np.repeat(first[:, HALF : HALF + 1], HALF - k, axis=1)
    )
    zrows = _user_rows(zero, u)
    assert not zero.X[zrows[0], :, :HALF].any()
    assert not zero.X[zrows[n - 1], :, HALF + 1 :].any()
    np.testing.assert_array_equal(zero.X[zrows[k], :, HALF - k :], edge.X[rows[k], :, HALF - k :])


def test_window_series_matches_loop() -> None:
    rng = np.random.default_rng(1)
    series = rng.normal(size=(3, 9))
    out = window_series(series, half=2, padding="edge")
    assert out.shape == (9, 3, 5)
    for k in range(9):
        for j in range(5):
            t = min(max(k + j - 2, 0), 8)
            np.testing.assert_array_equal(out[k, :, j], series[:, t])


def test_log1p_lights_and_training_zscore_oracle(tmp_path: Path) -> None:
    users = mesa_users()
    ds = load_mesa(write_mesa(tmp_path, users))
    train_ids = set(ds.subject[ds.split == "train"])
    raw = {u.mesaid: np.column_stack([u.activity, np.log1p(np.round(u.lights, 4))]) for u in users}
    train_values = np.vstack([raw[u.mesaid] for u in users if str(u.mesaid) in train_ids])
    mean, std = train_values.mean(axis=0), train_values.std(axis=0)
    for u in users:
        rows = _user_rows(ds, u)
        expected = (raw[u.mesaid] - mean) / std  # (L, 5)
        np.testing.assert_allclose(ds.X[rows, :, HALF], expected, rtol=1e-4, atol=1e-4)


def test_test_users_do_not_reach_training_statistics(tmp_path: Path) -> None:
    users = mesa_users()
    shifted = [
        MesaUser(
            u.mesaid,
            u.activity * (50 if u.split == "test" else 1),
            u.lights * (9 if u.split == "test" else 1),
            u.gt,
            u.wake,
            u.start,
            u.split,
        )
        for u in users
    ]
    a = load_mesa(write_mesa(tmp_path / "a", users))
    b = load_mesa(write_mesa(tmp_path / "b", shifted))
    assert a.info["scaling_centre"] == b.info["scaling_centre"]
    assert a.info["scaling_scale"] == b.info["scaling_scale"]
    keep = a.split != "test"
    np.testing.assert_array_equal(a.X[keep], b.X[keep])


def test_layouts_agree(tmp_path: Path) -> None:
    users = mesa_users(seed=4)
    test_ids = [u.mesaid for u in users if u.split == "test"]
    loaded = {}
    for layout in ("combined", "per_user", "raw"):
        target = write_mesa(tmp_path / layout, users, layout=layout)
        labels = tmp_path / layout / "labels.csv" if layout == "raw" else None
        loaded[layout] = load_mesa(target, test_ids=test_ids, labels=labels)
    ref = load_mesa(write_mesa(tmp_path / "split", users, layout="split"))
    for ds in loaded.values():
        np.testing.assert_array_equal(ds.window_id, ref.window_id)
        np.testing.assert_array_equal(ds.split, ref.split)
        np.testing.assert_array_equal(ds.y, ref.y)
        np.testing.assert_allclose(ds.X, ref.X, atol=1e-5)


def test_test_ids_from_file_and_seeded_split(tmp_path: Path) -> None:
    users = mesa_users()
    target = write_mesa(tmp_path, users, layout="combined")
    ids_file = tmp_path / "test_users.txt"
    ids_file.write_text(f"mesaid\n{users[0].mesaid}\n{users[1].mesaid}\n")
    ds = load_mesa(target, test_ids=ids_file)
    assert set(ds.subject[ds.split == "test"]) == {str(users[0].mesaid), str(users[1].mesaid)}
    a, b = load_mesa(target, seed=3), load_mesa(target, seed=3)
    np.testing.assert_array_equal(a.split, b.split)
    subjects_by_split = [set(a.subject[a.split == s]) for s in ("train", "val", "test")]
    assert sum(len(s) for s in subjects_by_split) == len(users)  # every user in exactly one split
    assert len(set.union(*subjects_by_split)) == len(users)


@pytest.mark.parametrize("fmt", ["nsrr", "raw"])
def test_demographics(tmp_path: Path, fmt: str) -> None:
    users = mesa_users()
    ds = load_mesa(write_mesa(tmp_path, users, demographics=fmt))
    per_user = ds.attributes.groupby(ds.subject, observed=True).first()
    u0, u1, u2, u3, last = (str(users[i].mesaid) for i in (0, 1, 2, 3, -1))
    assert per_user.loc[u0].to_dict() == {"sex": "male", "age": ">=65", "age89": "<=89", "race": "white"}
    assert per_user.loc[u1].to_dict() == {"sex": "female", "age": "<65", "age89": "<=89", "race": "black"}
    assert per_user.loc[u2].to_dict() == {"sex": "female", "age": ">=65", "age89": ">89", "race": "hispanic"}
    assert per_user.loc[u3, "race"] == MISSING
    assert (per_user.loc[last] == MISSING).all()
    assert ds.info["n_users_without_demographics"] == 1


def test_no_demographics_warns(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match=r"no demographics found"):
        ds = load_mesa(write_mesa(tmp_path, mesa_users(), demographics=None))
    assert ds.attribute_names == []


def test_out_dir_writes_a_reloadable_memmap(tmp_path: Path) -> None:
    users = mesa_users()
    root = write_mesa(tmp_path / "data", users)
    in_memory = load_mesa(root)
    mapped = load_mesa(root, out_dir=tmp_path / "out")
    assert isinstance(mapped.X, np.memmap) and not mapped.X.flags.writeable
    np.testing.assert_array_equal(mapped.X, in_memory.X)
    again = WindowDataset.load(tmp_path / "out")
    np.testing.assert_array_equal(again.X, in_memory.X)
    np.testing.assert_array_equal(again.window_id, in_memory.window_id)
    assert again.metadata().astype(str).equals(in_memory.metadata().astype(str))


def test_missing_readings_are_counted(tmp_path: Path) -> None:
    users = mesa_users()
    root = write_mesa(tmp_path, users, layout="combined", shuffle=False)
    lines = root.read_text().splitlines()
    cells = lines[5].split(",")
    cells[MESA_TASK_HEADER.split(",").index("activity")] = ""
    lines[5] = ",".join(cells)
    root.write_text("\n".join(lines) + "\n")
    ds = load_mesa(root)
    assert ds.info["n_nan_readings_set_to_zero"] == 1
    assert np.isfinite(ds.X).all()


# ------------------------------------------------------------------ errors
def test_error_root_missing(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"does not exist; give the folder or file"):
        load_mesa(tmp_path / "nope")


def test_error_no_data(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no MESA data under"):
        load_mesa(tmp_path)


def test_error_raw_without_labels(tmp_path: Path) -> None:
    write_mesa(tmp_path, mesa_users(), layout="raw")
    with pytest.raises(DataError, match=r"raw actigraphy files .* but no labels"):
        load_mesa(tmp_path)


def test_error_missing_columns(tmp_path: Path) -> None:
    target = write_mesa(tmp_path, mesa_users(), layout="combined")
    target.write_text(target.read_text().replace("bluelight", "blue", 1))
    with pytest.raises(DataError, match=r"lacks column\(s\) \['bluelight'\]"):
        load_mesa(target)


def test_error_bad_gt(tmp_path: Path) -> None:
    target = write_mesa(tmp_path, mesa_users(), layout="combined", shuffle=False)
    lines = target.read_text().splitlines()
    cells = lines[3].split(",")
    cells[MESA_TASK_HEADER.split(",").index("gt")] = "asleep"
    lines[3] = ",".join(cells)
    target.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"gt holds 'asleep'; gt must be True/False or 1/0"):
        load_mesa(target)


def test_error_linetime_without_date(tmp_path: Path) -> None:
    target = write_mesa(tmp_path, mesa_users(), layout="combined")
    target.write_text(target.read_text().replace("1900-01-01 ", "").replace("1900-01-02 ", ""))
    with pytest.raises(DataError, match=r"is not a date-time"):
        load_mesa(target)


def test_error_duplicate_epochs(tmp_path: Path) -> None:
    target = write_mesa(tmp_path, mesa_users(), layout="combined")
    lines = target.read_text().splitlines()
    target.write_text("\n".join([*lines, lines[1]]) + "\n")
    with pytest.raises(DataError, match=r"has two rows for the same epoch"):
        load_mesa(target)


def test_error_truncated_file(tmp_path: Path) -> None:
    target = write_mesa(tmp_path, mesa_users(), layout="combined")
    text = target.read_text()
    target.write_text(text[: text.rstrip("\n").rfind("\n") + 30])
    n_lines = len(text.rstrip("\n").splitlines())
    with pytest.raises(
        DataError, match=rf"line {n_lines} has a blank mesaid, linetime or gt; the file is truncated"
    ):
        load_mesa(target)


def test_error_test_ids_with_benchmark_split(tmp_path: Path) -> None:
    root = write_mesa(tmp_path, mesa_users())
    with pytest.raises(ConfigError, match=r"already fixes the test users"):
        load_mesa(root, test_ids=[100])


def test_error_user_in_both_split_files(tmp_path: Path) -> None:
    users = mesa_users()
    root = write_mesa(tmp_path, users)
    train = (root / "dftrain_task1.csv").read_text().splitlines()
    test = (root / "dftest_task1.csv").read_text()
    mine = [line for line in train[1:] if line.startswith(f"{users[0].mesaid},")][:3]
    moved = [line.replace(",1900-01-0", ",1900-01-1", 1) for line in mine]  # same user, other epochs
    (root / "dftest_task1.csv").write_text(test + "\n".join(moved) + "\n")
    with pytest.raises(DataError, match=r"is in both dftrain_task1.csv and dftest_task1.csv"):
        load_mesa(root)


def test_error_test_ids_not_in_data(tmp_path: Path) -> None:
    target = write_mesa(tmp_path, mesa_users(), layout="combined")
    with pytest.raises(DataError, match=r"none of the 2 test_ids is a user"):
        load_mesa(target, test_ids=[1, 2])


def test_error_bad_options(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"window_half must be >= 0"):
        load_mesa(tmp_path, window_half=-1)
    with pytest.raises(ConfigError, match=r"padding must be 'edge' or 'zero'"):
        load_mesa(tmp_path, padding="reflect")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"val_fraction must be in \(0, 1\)"):
        load_mesa(tmp_path, val_fraction=0.0)


def test_error_demographics_without_known_columns(tmp_path: Path) -> None:
    root = write_mesa(tmp_path, mesa_users(), demographics=None)
    (root / "demographics.csv").write_text("mesaid,height\n100,170\n")
    with pytest.raises(DataError, match=r"neither the NSRR columns"):
        load_mesa(root)


def test_error_demographics_without_mesaid(tmp_path: Path) -> None:
    root = write_mesa(tmp_path, mesa_users(), demographics=None)
    (root / "demographics.csv").write_text("id,nsrr_sex\n100,male\n")
    with pytest.raises(DataError, match=r"has no mesaid column"):
        load_mesa(root)


def test_error_given_demographics_missing(tmp_path: Path) -> None:
    root = write_mesa(tmp_path, mesa_users())
    with pytest.raises(DataError, match=r"demographics file .* does not exist"):
        load_mesa(root, demographics=tmp_path / "none.csv")


def test_error_label_file_missing(tmp_path: Path) -> None:
    write_mesa(tmp_path, mesa_users(), layout="raw")
    with pytest.raises(DataError, match=r"label file .* does not exist"):
        load_mesa(tmp_path, labels=tmp_path / "nope.csv")


# ------------------------------------------------------------------ EXCLUDED epochs
def _with_excluded(users: list[MesaUser]) -> list[MesaUser]:
    """Users 0 and 2 get EXCLUDED epochs at the start and in the middle (as in the benchmark's files)."""
    out = []
    for i, u in enumerate(users):
        excluded = np.zeros(len(u.gt), dtype=bool)
        if i in (0, 2):
            excluded[:5] = True
            excluded[60:64] = True
        out.append(replace(u, excluded=excluded))
    return out


@pytest.mark.parametrize("layout", ["per_user_reference", "per_user", "combined", "raw", "split"])
def test_excluded_epochs_are_dropped_in_every_layout(tmp_path: Path, layout: str) -> None:
    users = _with_excluded(
        mesa_users(counter=True)
    )  # activity = epoch index, so kept epochs can be read back
    test_ids = [u.mesaid for u in users if u.split == "test"]
    target = write_mesa(tmp_path, users, layout=layout)
    ds = load_mesa(
        target,
        test_ids=None if layout == "split" else test_ids,
        labels=tmp_path / "labels.csv" if layout == "raw" else None,
    )
    n_excluded = int(np.sum([np.sum(u.excluded) for u in users if u.excluded is not None]))
    assert ds.info["n_epochs_excluded"] == n_excluded == 18
    assert len(ds.X) == sum(len(u.gt) for u in users) - n_excluded
    for u in users:
        kept = np.flatnonzero(~u.excluded)  # type: ignore[operator]
        rows = _user_rows(ds, u)
        np.testing.assert_array_equal(ds.y[rows], u.gt[kept])
        np.testing.assert_allclose(_raw_centre(ds, rows, 0), kept, atol=1e-3)  # the kept epochs, in order
    assert ds.info["n_nan_readings_set_to_zero"] == 0  # the EXCLUDED rows' blank readings never reach X


def test_reference_per_user_files_are_found_in_datasets_folder(tmp_path: Path) -> None:
    users = mesa_users()
    write_mesa(tmp_path, users, layout="per_user_reference")
    ds = load_mesa(tmp_path, seed=2)
    assert ds.info["source"] == f"per-user task-1 files in {tmp_path / 'datasets'}"
    assert set(ds.subject) == {str(u.mesaid) for u in users}


# ------------------------------------------------------------------ lights missing for whole users
def _users_without_lights() -> list[MesaUser]:
    users = mesa_users()
    return [replace(u, lights_missing=i in (1, 7)) for i, u in enumerate(users)]  # one train, one test user


def test_lights_missing_for_whole_users_are_flagged_not_zero(tmp_path: Path) -> None:
    users = _users_without_lights()
    root = write_mesa(tmp_path, users)
    with pytest.warns(UserWarning, match=r"2 user\(s\) have no light readings at all"):
        ds = load_mesa(root)
    assert ds.info["n_users_lights_missing"] == 2
    assert ds.info["users_lights_missing"] == sorted([users[1].mesaid, users[7].mesaid])
    assert any("no light readings" in w for w in ds.info["warnings"])
    assert ds.info["n_nan_readings_set_to_zero"] == 0  # nothing was silently zeroed
    # oracle: the light statistics come from the train users that have lights, log1p first
    train = set(ds.subject[ds.split == "train"])
    lit = [u for u in users if str(u.mesaid) in train and not u.lights_missing]
    logged = np.log1p(np.round(np.vstack([u.lights for u in lit]), 4))
    for c, name in enumerate(("whitelight", "redlight", "greenlight", "bluelight"), start=1):
        assert ds.info["scaling_centre"][name] == pytest.approx(logged[:, c - 1].mean(), rel=1e-6)
        assert ds.info["scaling_scale"][name] == pytest.approx(logged[:, c - 1].std(), rel=1e-6)
    dark = _user_rows(ds, users[1])
    assert (ds.X[dark, 1:] == 0).all()  # the training centre, not log1p(0) = "darkness"
    dark_z = (0.0 - logged.mean(axis=0)) / logged.std(axis=0)  # what silent zero-filling would have given
    assert (np.abs(dark_z) > 0.5).all()


def test_lights_missing_mask_channel_and_drop(tmp_path: Path) -> None:
    users = _users_without_lights()
    root = write_mesa(tmp_path, users)
    with pytest.warns(UserWarning, match=r"no light readings"):
        masked = load_mesa(root, missing_lights="mask")
    assert masked.channel_names[-1] == "lights_recorded" and masked.X.shape[1] == 6
    for u in users:
        rows = _user_rows(masked, u)
        expected = 0.0 if u.lights_missing else 1.0
        assert (masked.X[rows, 5, HALF] == expected).all()
    with pytest.warns(UserWarning, match=r"dropped"):
        dropped = load_mesa(root, missing_lights="drop")
    assert set(dropped.subject) == {str(u.mesaid) for u in users if not u.lights_missing}
    with pytest.raises(ConfigError, match=r"missing_lights = 'zero' is not one of flag, mask, drop"):
        load_mesa(root, missing_lights="zero")


def test_robust_scaling_option_uses_fit_scaler(tmp_path: Path) -> None:
    users = mesa_users()
    ds = load_mesa(write_mesa(tmp_path, users), scaling="robust", clip=3.0)
    train = set(ds.subject[ds.split == "train"])
    act = np.concatenate([u.activity for u in users if str(u.mesaid) in train])
    q5, q50, q95 = np.percentile(act, [5, 50, 95])
    u = users[0]
    expected = np.clip((u.activity - q50) / (q95 - q5), -3, 3)
    np.testing.assert_allclose(ds.X[_user_rows(ds, u), 0, HALF], expected, rtol=1e-5, atol=1e-5)


def test_example_config_loads_the_fixture(tmp_path: Path) -> None:
    import tomllib

    from fairssl.config import build_config
    from fairssl.data.loaders import load_dataset

    users = mesa_users()
    write_mesa(tmp_path / "mesa", users, layout="per_user_reference", demographics="nsrr")
    example = Path(__file__).parents[2] / "examples" / "mesa.toml"
    raw = tomllib.loads(example.read_text())
    raw["data"]["path"] = str(tmp_path / "mesa" / "datasets")
    raw["data"]["options"]["demographics"] = str(tmp_path / "mesa" / "demographics.csv")
    raw["data"]["options"]["out_dir"] = str(tmp_path / "windows")
    cfg = build_config(raw)
    ds = load_dataset(cfg.data.source, cfg.data.path, **cfg.data.options)
    assert ds.X.shape == (sum(len(u.gt) for u in users), 5, 101)
    assert ds.attribute_names == ["sex", "age", "age89", "race"]
    assert (tmp_path / "windows" / "X.npy").is_file()


def test_reloading_into_out_dir_never_rewrites_a_file_another_reader_has_mapped(tmp_path: Path) -> None:
    """A study's workers load the dataset while others read it: X.npy is replaced by a rename, so a reader
    keeps its (old, intact) file instead of dying on a truncated memory map (SIGBUS)."""
    import os

    users = mesa_users()
    root = write_mesa(tmp_path / "mesa", users)
    first = load_mesa(root, out_dir=tmp_path / "windows")
    before = np.array(first.X[:5])
    inode = os.stat(tmp_path / "windows" / "X.npy").st_ino
    second = load_mesa(root, out_dir=tmp_path / "windows")
    assert os.stat(tmp_path / "windows" / "X.npy").st_ino != inode  # a new file, renamed into place
    np.testing.assert_array_equal(np.asarray(first.X[:5]), before)  # the old mapping still reads
    np.testing.assert_array_equal(np.asarray(second.X[:5]), before)
    assert not list((tmp_path / "windows").glob(".X.*.tmp"))
