"""Bring-your-own-data loaders (arrays, long tables) and the load_dataset registry: results and errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fairssl.data.dataset import MISSING, WindowDataset
from fairssl.data.loaders import SOURCES, load_dataset
from fairssl.data.loaders.generic import check_labels, load_arrays, load_long_table, read_table
from fairssl.errors import ConfigError, DataError

N, C, T = 40, 3, 6


def _arrays(seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    subject = np.repeat([f"p{i}" for i in range(10)], 4)
    return {
        "X": rng.normal(size=(N, C, T)).astype(np.float32),
        "y": np.tile([0, 1, 0, 0], 10),
        "subject": subject,
        "window_id": np.array([f"win{i:02d}" for i in range(N)]),
        "sex": np.where(np.arange(N) % 2 == 0, "F", "M"),
    }


def _folder(tmp_path: Path, meta: pd.DataFrame | None = None, X: np.ndarray | None = None) -> Path:
    arr = _arrays()
    folder = tmp_path / "windows"
    folder.mkdir()
    np.save(folder / "X.npy", arr["X"] if X is None else X)
    if meta is None:
        meta = pd.DataFrame({k: arr[k] for k in ("window_id", "subject", "y", "sex")})
    meta.to_parquet(folder / "metadata.parquet")
    return folder


# ------------------------------------------------------------------------------------------ read_table
def test_read_table_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"file not found: .*nope.csv; check the path"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "cut.csv").write_text("a,b,c\n1,2,3\n4,5")
    with pytest.raises(
        DataError, match=r"cut.csv is truncated: its last line has 2 of 3 fields and no line end"
    ):
        read_table(tmp_path / "cut.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match=r"empty.csv is empty \(0 bytes\)"):
        read_table(tmp_path / "empty.csv")
    (tmp_path / "wide.csv").write_text("a,b,c\n1,2,3\n4,5,6,7\n")
    with pytest.raises(DataError, match=r"wide.csv is truncated or corrupt \(Error tokenizing data"):
        read_table(tmp_path / "wide.csv")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 garbage")
    with pytest.raises(DataError, match=r"bad.parquet is truncated or corrupt"):
        read_table(tmp_path / "bad.parquet")
    (tmp_path / "data.xlsx").write_bytes(b"x")
    with pytest.raises(DataError, match=r"unsupported table format 'data.xlsx'"):
        read_table(tmp_path / "data.xlsx")


def test_read_table_complete_csv_without_final_newline(tmp_path: Path) -> None:
    (tmp_path / "ok.csv").write_text("a,b\n1,2\n3,4")
    assert read_table(tmp_path / "ok.csv")["b"].tolist() == [2, 4]


# ------------------------------------------------------------------------------------------ labels
@pytest.mark.parametrize(
    ("y", "binary", "pattern"),
    [
        (
            [0, 1, 2],
            True,
            r"labels are not binary: found values \[0, 1, 2\]; map them to 0/1 or pass binary=False",
        ),
        ([0, 0.5, 1], True, r"labels are not integers: found values such as \[0.5\]"),
        (["no", "yes", "no"], True, r"labels are not numeric: found values \['no', 'yes'\]"),
        ([0, np.nan, 1], True, r"labels hold 1 missing values"),
        ([0, -1, 2], False, r"labels must be >= 0 outside the 'pool' split; found values \[-1, 0, 2\]"),
    ],
)
def test_check_labels_errors(y: list, binary: bool, pattern: str) -> None:
    with pytest.raises(DataError, match=pattern):
        check_labels(np.array(y, dtype=object if isinstance(y[0], str) else float), binary=binary)


def test_check_labels_accepts_multiclass_and_pool() -> None:
    assert check_labels([0.0, 2.0, 1.0], binary=False).tolist() == [0, 2, 1]
    split = np.array(["train", "pool", "test"])
    assert check_labels([1, -1, 0], split=split).tolist() == [1, -1, 0]


# ------------------------------------------------------------------------------------------ npz
def test_npz_round_trip_with_attribute_keys_and_drawn_split(tmp_path: Path) -> None:
    arr = _arrays()
    np.savez(tmp_path / "w.npz", **arr, channel_names=np.array(["hr", "acc", "temp"]))
    ds = load_arrays(tmp_path / "w.npz", seed=3, scaling="none")
    assert ds.X.shape == (N, C, T) and ds.channel_names == ("hr", "acc", "temp")
    assert ds.attribute_names == ["sex"]
    row = {w: i for i, w in enumerate(arr["window_id"])}
    for k, wid in enumerate(ds.window_id):
        np.testing.assert_array_equal(ds.X[k], arr["X"][row[wid]])
        assert ds.y[k] == arr["y"][row[wid]] and ds.attributes["sex"].iloc[k] == arr["sex"][row[wid]]
    per_subject = pd.Series(ds.split).groupby(ds.subject).nunique()
    assert (per_subject == 1).all() and set(ds.split) == {"train", "val", "test"}


def test_npz_without_subject_uses_one_subject_per_window(tmp_path: Path) -> None:
    arr = _arrays()
    np.savez(tmp_path / "w.npz", X=arr["X"], y=arr["y"])
    ds = load_arrays(tmp_path / "w.npz")
    assert len(set(ds.subject)) == N
    assert any("every window is its own subject" in n for n in ds.info["notes"])


def test_npz_errors(tmp_path: Path) -> None:
    arr = _arrays()
    (tmp_path / "zero.npz").write_bytes(b"")
    with pytest.raises(DataError, match=r"zero.npz is truncated or corrupt"):
        load_arrays(tmp_path / "zero.npz")
    np.savez(tmp_path / "noy.npz", X=arr["X"])
    with pytest.raises(DataError, match=r"has no 'y' array; found keys \['X'\]"):
        load_arrays(tmp_path / "noy.npz")
    np.savez(tmp_path / "short.npz", X=arr["X"], y=arr["y"][:-1])
    with pytest.raises(DataError, match=r"array 'y' in short.npz has shape \(39,\) but X has 40 windows"):
        load_arrays(tmp_path / "short.npz")
    np.savez(tmp_path / "obj.npz", X=arr["X"], y=arr["y"], race=np.array(["a", None] * 20, dtype=object))
    with pytest.raises(DataError, match=r"holds object arrays, which are not loaded for safety"):
        load_arrays(tmp_path / "obj.npz")
    np.savez(tmp_path / "flat.npz", X=np.zeros((N, 5), np.float32), y=arr["y"])
    with pytest.raises(DataError, match=r"X must be a 3-D array .* got shape \(40, 5\)"):
        load_arrays(tmp_path / "flat.npz")
    with pytest.raises(DataError, match=r"file not found"):
        load_arrays(tmp_path / "missing.npz")


def test_npz_labels_not_binary(tmp_path: Path) -> None:
    arr = _arrays()
    arr["y"] = np.arange(N) % 3
    np.savez(tmp_path / "w.npz", **arr)
    with pytest.raises(DataError, match=r"labels are not binary: found values \[0, 1, 2\]"):
        load_arrays(tmp_path / "w.npz")
    assert load_arrays(tmp_path / "w.npz", binary=False).n_classes == 3


def test_nan_in_windows_error_and_imputation(tmp_path: Path) -> None:
    arr = _arrays()
    arr["X"][7, 2, 1] = np.nan
    arr["X"][9, 0, 0] = np.inf
    np.savez(tmp_path / "w.npz", **arr)
    with pytest.raises(DataError, match=r"X holds 2 NaN/Inf values \(first at window 'win07', channel 2\)"):
        load_arrays(tmp_path / "w.npz")
    ds = load_arrays(tmp_path / "w.npz", impute="zero", scaling="none")
    assert ds.mask is not None and np.isfinite(ds.X).all()
    k = int(np.flatnonzero(ds.window_id == "win07")[0])
    assert ds.X[k, 2, 1] == 0.0 and not ds.mask[k, 2, 1] and ds.mask.sum() == N * C * T - 2


def test_given_split_checks(tmp_path: Path) -> None:
    arr = _arrays()
    split_of = {f"p{i}": ["train", "train", "Validation", "TEST", "train"][i % 5] for i in range(10)}
    arr["split"] = np.array([split_of[s] for s in arr["subject"]])
    np.savez(tmp_path / "ok.npz", **arr)
    ds = load_arrays(tmp_path / "ok.npz")
    assert set(ds.split) == {"train", "val", "test"}  # aliases and case normalised

    shared = arr["split"].copy()
    shared[0] = "TEST"  # p0 now in train and test
    np.savez(tmp_path / "shared.npz", **{**arr, "split": shared})
    with pytest.raises(DataError, match=r"subject 'p0' appears in splits \['test', 'train'\]"):
        load_arrays(tmp_path / "shared.npz")

    no_val = np.where(arr["split"] == "Validation", "train", arr["split"])
    np.savez(tmp_path / "noval.npz", **{**arr, "split": no_val})
    with pytest.raises(DataError, match=r"the 'val' split is empty"):
        load_arrays(tmp_path / "noval.npz")

    unknown = np.where(arr["split"] == "Validation", "holdout", arr["split"])
    np.savez(tmp_path / "unknown.npz", **{**arr, "split": unknown})
    with pytest.raises(DataError, match=r"unknown split name\(s\) \['holdout'\]"):
        load_arrays(tmp_path / "unknown.npz")


# ------------------------------------------------------------------------------------------ folder
def test_folder_is_memory_mapped_not_copied(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    ds = load_arrays(folder, scaling="none")
    assert isinstance(ds.X, np.memmap) and not ds.X.flags.writeable
    np.testing.assert_array_equal(np.asarray(ds.X), _arrays()["X"])
    assert ds.attribute_names == ["sex"]


def test_folder_row_column_realigns_metadata(tmp_path: Path) -> None:
    arr = _arrays()
    meta = pd.DataFrame({k: arr[k] for k in ("window_id", "subject", "y", "sex")})
    meta["row"] = np.arange(N)
    meta = meta.sample(frac=1.0, random_state=0).reset_index(drop=True)  # records in another order
    ds = load_arrays(_folder(tmp_path, meta))
    np.testing.assert_array_equal(ds.window_id, arr["window_id"])  # window i <-> X row i
    np.testing.assert_array_equal(ds.y, arr["y"])

    rows = meta["row"].to_numpy().copy()
    rows[0] = rows[1]
    meta["row"] = rows
    (tmp_path / "windows" / "metadata.parquet").unlink()
    meta.to_parquet(tmp_path / "windows" / "metadata.parquet")
    with pytest.raises(DataError, match=r"metadata column 'row' must be a permutation of 0..39"):
        load_arrays(tmp_path / "windows")


def test_folder_errors(tmp_path: Path) -> None:
    arr = _arrays()
    meta = pd.DataFrame({k: arr[k] for k in ("window_id", "subject", "y", "sex")})
    folder = _folder(tmp_path, meta.iloc[:30])
    with pytest.raises(DataError, match=r"metadata has 30 rows but X has 40 windows"):
        load_arrays(folder)
    with pytest.raises(
        DataError, match=r"unknown column\(s\) \['race'\] in the metadata; available columns: "
    ):
        load_arrays(folder, metadata=meta, attributes=["race"])
    with pytest.raises(DataError, match=r"unknown column\(s\) \['y'\] in the metadata"):
        load_arrays(folder, metadata=meta.drop(columns="y"))
    (folder / "metadata.parquet").unlink()
    with pytest.raises(DataError, match=r"has no metadata table \(metadata.parquet or metadata.csv"):
        load_arrays(folder)
    meta.to_csv(folder / "metadata.csv", index=False)
    assert load_arrays(folder).X.shape == (N, C, T)  # CSV metadata works too
    data = (folder / "X.npy").read_bytes()
    (folder / "X.npy").write_bytes(data[: len(data) // 3])
    with pytest.raises(DataError, match=r"X.npy is truncated or corrupt"):
        load_arrays(folder)
    (folder / "X.npy").unlink()
    with pytest.raises(DataError, match=r"has no X.npy"):
        load_arrays(folder)


# ------------------------------------------------------------------------------------------ long table
def _long_table(n_subjects: int = 12, rows: int = 8, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    recs = []
    for i in range(n_subjects):
        for t in range(rows):
            recs.append(
                {
                    "subject": f"u{i}",
                    "time": t,
                    "hr": rng.normal(70, 5),
                    "steps": rng.normal(100, 10),
                    "label": int(i % 3 == 0 and t >= rows // 2),
                    "site": "north" if i % 2 else "south",
                }
            )
    return pd.DataFrame(recs).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def _demographics() -> pd.DataFrame:
    # u11 has no demographics row; u3 has an unknown sex
    return pd.DataFrame(
        {"pid": [f"u{i}" for i in range(11)], "sex": ["F", "M", "F", None, "M", "F", "M", "F", "M", "F", "M"]}
    )


def test_long_table_csv_with_demographics(tmp_path: Path) -> None:
    table = _long_table()
    table.to_csv(tmp_path / "long.csv", index=False)
    _demographics().to_parquet(tmp_path / "demo.parquet")
    ds = load_long_table(
        tmp_path / "long.csv", window=4, stride=2, demographics=tmp_path / "demo.parquet",
        demographics_id_col="pid", channels=["hr", "steps"], scaling="none",
    )  # fmt: skip
    assert ds.X.shape == (12 * 3, 2, 4) and ds.channel_names == ("hr", "steps")
    sex = pd.Series(ds.attributes["sex"].astype(str).to_numpy(), index=ds.subject)
    assert set(sex.loc["u11"]) == {MISSING} and set(sex.loc["u3"]) == {MISSING}  # not dropped, not merged
    assert set(sex.loc["u0"]) == {"F"} and set(sex.loc["u1"]) == {"M"}
    assert ds.info["subjects_without_demographics"] == 1
    # a window's X equals the table rows of its subject ordered by time
    k = int(np.flatnonzero(ds.window_id == "u5@2")[0])
    rows = table[table["subject"] == "u5"].sort_values("time").iloc[2:6]
    np.testing.assert_allclose(ds.X[k], rows[["hr", "steps"]].to_numpy().T, rtol=1e-5)
    # subjects with positives (u0, u3, u6, u9) are spread so that train, val and test have both classes
    for s in ("train", "val", "test"):
        assert set(ds.y[ds.split == s]) == {0, 1}


def test_long_table_default_channels_and_attributes_from_the_table() -> None:
    ds = load_long_table(_long_table(), window=3, attributes=["site"])
    assert ds.channel_names == ("hr", "steps")  # numeric, not subject/time/label/attribute
    site = pd.Series(ds.attributes["site"].astype(str).to_numpy(), index=ds.subject)
    assert set(site.loc["u1"]) == {"north"} and set(site.loc["u2"]) == {"south"}


def test_long_table_split_column_and_mean_imputation_uses_train_rows() -> None:
    table = _long_table()
    table["fold"] = table["subject"].map(lambda s: ["train", "train", "val", "test"][int(s[1:]) % 4])
    table.loc[table["subject"] == "u0", "hr"] = np.nan  # a train subject with no heart rate at all
    ds = load_long_table(
        table, window=4, split_col="fold", impute="mean", channels=["hr", "steps"], scaling="none"
    )
    assert set(pd.Series(ds.split, index=ds.subject).loc["u2"]) == {"val"}
    train_mean = table.loc[table["fold"] == "train", "hr"].mean()  # skips NaN: observed train rows only
    u0 = ds.X[ds.subject == "u0"]
    np.testing.assert_allclose(u0[:, 0, :], train_mean, rtol=1e-5)
    assert ds.mask is not None and not ds.mask[ds.subject == "u0"][:, 0].any()


def test_long_table_errors(tmp_path: Path) -> None:
    table = _long_table()
    with pytest.raises(
        DataError, match=r"unknown column\(s\) \['pid'\] in a DataFrame; available columns: subject"
    ):
        load_long_table(table, subject_col="pid", window=3)
    with pytest.raises(DataError, match=r"unknown column\(s\) \['bp'\]"):
        load_long_table(table, window=3, channels=["hr", "bp"])
    with pytest.raises(DataError, match=r"window longer than every subject's series: window=9 rows"):
        load_long_table(table, window=9)
    table_nan = table.copy()
    table_nan.loc[3, "hr"] = np.nan
    with pytest.raises(DataError, match=r"channel column 'hr' holds 1 NaN/Inf values"):
        load_long_table(table_nan, window=3)
    bad_labels = table.assign(label=table["label"] * 2)
    with pytest.raises(DataError, match=r"labels are not binary: found values \[0, 2\]"):
        load_long_table(bad_labels, window=3)
    demo = pd.concat([_demographics(), _demographics().iloc[:1]])
    with pytest.raises(
        DataError, match=r"the demographics table has 1 duplicate id\(s\) in 'pid' \(e\.g\. 'u0'\)"
    ):
        load_long_table(table, window=3, demographics=demo, demographics_id_col="pid")
    with pytest.raises(DataError, match=r"unknown column\(s\) \['subject'\] in the demographics table"):
        load_long_table(table, window=3, demographics=_demographics())
    mixed = table.assign(fold=np.where(np.arange(len(table)) % 2, "train", "test"))
    with pytest.raises(DataError, match=r"appears in more than one split in column 'fold'"):
        load_long_table(mixed, window=3, split_col="fold")
    with pytest.raises(ConfigError, match=r"demographics_id_col is set but no demographics table"):
        load_long_table(table, window=3, demographics_id_col="pid")
    table.to_csv(tmp_path / "long.csv", index=False)
    text = (tmp_path / "long.csv").read_text()
    (tmp_path / "cut.csv").write_text(text[: len(text) - 9])
    with pytest.raises(DataError, match=r"cut.csv is truncated"):
        load_long_table(tmp_path / "cut.csv", window=3)


# ------------------------------------------------------------------------------------------ registry
def test_registry_sources_and_dispatch(tmp_path: Path) -> None:
    from typing import get_args

    from fairssl.config import DataConfig

    expected = {"simulate", "mimic3", "mesa", "globem", "physionet2012", "nhanes", "arrays", "long", "pbcseq"}
    assert set(SOURCES) == expected | {"folder"}
    # the config accepts exactly the registry's sources
    assert set(get_args(DataConfig.model_fields["source"].annotation)) == set(SOURCES)
    np.savez(tmp_path / "w.npz", **_arrays())
    ds = load_dataset("arrays", tmp_path / "w.npz", seed=1)
    assert isinstance(ds, WindowDataset)
    ds.save(tmp_path / "saved")
    back = load_dataset("folder", tmp_path / "saved")
    assert isinstance(back.X, np.memmap)
    np.testing.assert_array_equal(back.window_id, ds.window_id)
    _long_table().to_parquet(tmp_path / "long.parquet")
    assert load_dataset("long", tmp_path / "long.parquet", window=3).n_steps == 3


def test_registry_errors(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"unknown data source 'csv'; choose one of: simulate, mimic3, mesa"
    ):
        load_dataset("csv", "x")
    with pytest.raises(ConfigError, match=r"data source 'arrays' needs a path"):
        load_dataset("arrays")
    with pytest.raises(ConfigError, match=r"data source 'pbcseq' takes no path"):
        load_dataset("pbcseq", "somewhere")
    np.savez(tmp_path / "w.npz", **_arrays())
    with pytest.raises(
        ConfigError, match=r"invalid options \['windw'\] for data source 'arrays' .* it takes: "
    ):
        load_dataset("arrays", tmp_path / "w.npz", windw=3)


def test_registry_missing_module(monkeypatch: pytest.MonkeyPatch) -> None:
    import fairssl.data.loaders as registry

    monkeypatch.setitem(registry.SOURCES, "mesa", ("fairssl.data.loaders.no_such_module", "load_mesa", True))
    with pytest.raises(ConfigError, match=r"data source 'mesa' is not available in this installation"):
        load_dataset("mesa", "x")


# ------------------------------------------------------------------------------------------ scaling
def _headache(n_subjects: int = 20, days: int = 12, seed: int = 0) -> pd.DataFrame:
    """A headache diary: 'pain' ~ N(25, 9.5) (unscaled), 'sleep' ~ N(7, 1); test subjects shifted +20."""
    rng = np.random.default_rng(seed)
    fold = ["train", "train", "train", "val", "test"]
    recs = []
    for i in range(n_subjects):
        for t in range(days):
            recs.append(
                {
                    "subject": f"h{i}",
                    "time": t,
                    "pain": rng.normal(25, 9.5) + (20.0 if fold[i % 5] == "test" else 0.0),
                    "sleep": rng.normal(7, 1),
                    "label": int(rng.random() < 0.4),
                    "fold": fold[i % 5],
                }
            )
    return pd.DataFrame(recs)


def test_long_table_scales_with_training_statistics_only() -> None:
    table = _headache()
    ds = load_long_table(table, window=4, stride=4, split_col="fold", channels=["pain", "sleep"])
    train_rows = table[table["fold"] == "train"]  # stride == window: train windows hold every train row once
    mean, sd = train_rows["pain"].mean(), train_rows["pain"].std(ddof=0)
    pain_train = ds.X[ds.split == "train"][:, 0]
    assert pain_train.mean() == pytest.approx(0.0, abs=1e-5) and pain_train.std() == pytest.approx(1.0, 1e-4)
    # a test window is (raw - train mean) / train SD: the shifted test split stays shifted by about 20 / 9.5
    k = int(np.flatnonzero(ds.window_id == "h4@4")[0])
    raw = table[(table["subject"] == "h4") & table["time"].between(4, 7)].sort_values("time")["pain"]
    np.testing.assert_allclose(ds.X[k, 0], (raw.to_numpy() - mean) / sd, rtol=1e-4, atol=1e-5)
    assert ds.X[ds.split == "test"][:, 0].mean() == pytest.approx(20 / 9.5, abs=0.6)
    assert ds.info["scaling"] == "standard" and ds.info["scaling_centre"]["pain"] == pytest.approx(mean)
    assert ds.info["scaling_scale"]["pain"] == pytest.approx(sd)


def test_scaling_none_keeps_values_bit_identical(tmp_path: Path) -> None:
    table = _headache()
    ds = load_long_table(
        table, window=4, stride=4, split_col="fold", channels=["pain", "sleep"], scaling="none"
    )
    k = int(np.flatnonzero(ds.window_id == "h4@4")[0])
    raw = table[(table["subject"] == "h4") & table["time"].between(4, 7)].sort_values("time")
    assert np.array_equal(ds.X[k], raw[["pain", "sleep"]].to_numpy(np.float32).T)
    assert ds.info["scaling"] == "none"
    arr = _arrays()
    np.savez(tmp_path / "w.npz", **arr)
    X = load_arrays(tmp_path / "w.npz", scaling="none").X
    assert np.array_equal(np.sort(X.ravel()), np.sort(arr["X"].ravel()))


def test_long_table_robust_scaling_and_clip() -> None:
    ds = load_long_table(
        _headache(), window=4, split_col="fold", channels=["pain"], scaling="robust", clip=2.0
    )
    assert np.abs(ds.X).max() <= 2.0 and ds.info["scaling"] == "robust" and ds.info["scaling_clip"] == 2.0
    with pytest.raises(ConfigError, match=r"scaling = 'z' is not one of standard, robust, none"):
        load_long_table(_headache(), window=4, scaling="z")


def test_mean_imputation_lands_on_the_scaled_training_mean() -> None:
    table = _headache()
    table.loc[(table["subject"] == "h0") & (table["time"] < 4), "pain"] = np.nan  # a train subject
    ds = load_long_table(table, window=4, stride=4, split_col="fold", channels=["pain"], impute="mean")
    fill = ds.info["fill_values"]["pain"]  # data units: mean of the observed training rows
    assert fill == pytest.approx(table.loc[table["fold"] == "train", "pain"].mean())
    k = int(np.flatnonzero(ds.window_id == "h0@0")[0])
    expected = (fill - ds.info["scaling_centre"]["pain"]) / ds.info["scaling_scale"]["pain"]
    np.testing.assert_allclose(ds.X[k, 0], expected, atol=1e-6)  # float32 rounding of the fill
    assert abs(expected) < 1e-6  # stride == window: the fill is the scaler's centre, i.e. 0 after scaling
    observed = ds.X[ds.split == "train"][:, 0][ds.mask[ds.split == "train"][:, 0]]
    assert observed.mean() == pytest.approx(0.0, abs=1e-5) and observed.std() == pytest.approx(1.0, 1e-4)


def test_arrays_scale_with_training_statistics_only(tmp_path: Path) -> None:
    arr = _arrays()
    split_of = {f"p{i}": ["train", "train", "val", "test", "train"][i % 5] for i in range(10)}
    arr["split"] = np.array([split_of[s] for s in arr["subject"]])
    rng = np.random.default_rng(1)
    arr["X"][:, 0] = rng.normal(25, 9.5, size=(N, T)) + np.where(arr["split"] == "test", 20.0, 0.0)[:, None]
    np.savez(tmp_path / "w.npz", **arr)
    ds = load_arrays(tmp_path / "w.npz")
    train = arr["X"][arr["split"] == "train", 0].astype(np.float64)
    row = {w: i for i, w in enumerate(arr["window_id"])}
    for k, wid in enumerate(ds.window_id):
        np.testing.assert_allclose(
            ds.X[k, 0], (arr["X"][row[wid], 0] - train.mean()) / train.std(), rtol=1e-4
        )
    assert ds.X[ds.split == "train"][:, 0].std() == pytest.approx(1.0, 1e-4)
    assert ds.X[ds.split == "test"][:, 0].mean() > 1.0  # not re-centred with test statistics
    assert ds.info["scaling"] == "standard" and not isinstance(ds.X, np.memmap)


# ------------------------------------------------------------------------------------------ diagnoses
def test_csv_given_as_arrays_says_it_is_a_csv(tmp_path: Path) -> None:
    _long_table().to_csv(tmp_path / "long.csv", index=False)
    with pytest.raises(
        DataError, match=r"long.csv is a CSV/text table, not an .npz of windows; use source 'long'"
    ):
        load_arrays(tmp_path / "long.csv")
    np.save(tmp_path / "X.npy", _arrays()["X"])
    with pytest.raises(DataError, match=r"X.npy is a single .npy array; put it as X.npy in a folder"):
        load_arrays(tmp_path / "X.npy")
    _long_table().to_parquet(tmp_path / "long.parquet")
    with pytest.raises(DataError, match=r"long.parquet is a parquet table, not an .npz"):
        load_arrays(tmp_path / "long.parquet")


def test_header_only_csv_says_no_rows(tmp_path: Path) -> None:
    (tmp_path / "head.csv").write_text("subject,time,hr,label\n")
    with pytest.raises(DataError, match=r"head.csv has no rows \(only a header: subject, time, hr, label\)"):
        load_long_table(tmp_path / "head.csv", window=3)


def test_permission_denied_names_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _long_table().to_csv(tmp_path / "long.csv", index=False)
    np.savez(tmp_path / "w.npz", **_arrays())
    real_open = Path.open

    def deny(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self.name in ("long.csv", "w.npz"):
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", deny)  # running as root, chmod 000 would not stop the read
    with pytest.raises(DataError, match=r"permission denied reading .*long.csv; make it readable"):
        load_long_table(tmp_path / "long.csv", window=3)
    with pytest.raises(DataError, match=r"permission denied reading .*w.npz; make it readable"):
        load_arrays(tmp_path / "w.npz")


def test_permission_denied_from_the_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _long_table().to_parquet(tmp_path / "long.parquet")

    def deny(*args: Any, **kwargs: Any) -> Any:
        raise OSError(13, "Permission denied")

    monkeypatch.setattr(pd, "read_parquet", deny)
    with pytest.raises(DataError, match=r"permission denied reading .*long.parquet"):
        read_table(tmp_path / "long.parquet")


def test_values_too_large(tmp_path: Path) -> None:
    table = _long_table()
    table.loc[table["subject"] == "u2", "hr"] = 1e300
    table.to_csv(tmp_path / "huge.csv", index=False)
    with pytest.raises(DataError, match=r"value too large for float32 at subject 'u2', time 0, column 'hr'"):
        load_long_table(tmp_path / "huge.csv", window=3)
    table.loc[table["subject"] == "u2", "hr"] = 1e30
    with pytest.raises(DataError, match=r"value 1e\+30 at subject 'u2', time 0, column 'hr' is beyond"):
        load_long_table(table, window=3)
    arr = _arrays()
    X = arr["X"].astype(np.float64)
    X[5, 1, 2] = 1e300
    np.savez(tmp_path / "w.npz", **{**arr, "X": X})
    with pytest.raises(DataError, match=r"value too large for float32 at window 'win05', channel 1: 1e\+300"):
        load_arrays(tmp_path / "w.npz")
    X[5, 1, 2] = 1e30
    np.savez(tmp_path / "w.npz", **{**arr, "X": X.astype(np.float32)})
    with pytest.raises(DataError, match=r"value 1e\+30 at window 'win05', channel 1 is beyond"):
        load_arrays(tmp_path / "w.npz", scaling="none")


def test_parquet_named_csv_is_read_as_parquet(tmp_path: Path) -> None:
    table = _long_table()
    table.to_parquet(tmp_path / "long.csv")
    back = read_table(tmp_path / "long.csv")
    pd.testing.assert_frame_equal(back, table)
    assert load_long_table(tmp_path / "long.csv", window=3).n_steps == 3
