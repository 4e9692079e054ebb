"""GLOBEM loader: windows ending on the label date, imputation, training statistics, year-4 split, errors."""

from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairssl.data.dataset import MISSING
from fairssl.data.loaders.globem import load_globem
from fairssl.errors import ConfigError, DataError

if str(Path(__file__).parent) not in sys.path:  # --import-mode=importlib: make the fixture writers importable
    sys.path.insert(0, str(Path(__file__).parent))
from fixtures_paper import DAY_CODE, GLOBEM_FEATURES, GlobemFixture, write_globem

pytestmark = pytest.mark.filterwarnings("ignore:no GLOBEM demographics given")

W = 28
ALL_FEATURES = [f for group in GLOBEM_FEATURES.values() for f in group]


def _recorded(fx: GlobemFixture, inst: str, pid: str, day: date) -> bool:
    start = date(2017 + int(inst.split("_")[1]), 4, 1)
    return start <= day < start + timedelta(days=50) and (pid, day) not in fx.missing_days[inst]


def _expected_windows(fx: GlobemFixture) -> list[tuple[str, str, date, int]]:
    out = []
    for inst, labels in fx.labels.items():
        for pid, day, dep in labels:
            if any(_recorded(fx, inst, pid, day - timedelta(days=k)) for k in range(W)):
                out.append((inst, pid, day, dep))
    return out


def _train_daily(root: Path, column: str) -> np.ndarray:
    """Oracle input: the column's recorded daily values of INS-W_1..3, read straight from rapids.csv."""
    frames = [pd.read_csv(root / f"INS-W_{k}" / "FeatureData" / "rapids.csv") for k in (1, 2, 3)]
    values = pd.concat(frames)[column].to_numpy(dtype=float)
    return values[~np.isnan(values)]


def test_shapes_ids_labels(tmp_path: Path) -> None:
    fx = write_globem(tmp_path)
    ds = load_globem(tmp_path, demographics=tmp_path / "demographics.csv")
    expected = _expected_windows(fx)
    assert ds.X.shape == (len(expected), len(ALL_FEATURES), W)
    assert list(ds.channel_names) == ALL_FEATURES
    ids = [f"{inst}:{pid}:{day:%Y-%m-%d}" for inst, pid, day, _ in expected]
    assert sorted(ds.window_id) == sorted(ids)
    y_of = {i: dep for i, (_, _, _, dep) in zip(ids, expected, strict=True)}
    assert [y_of[w] for w in ds.window_id] == ds.y.tolist()  # True/False (years 1-2) and 1/0 (3-4) both read
    for wid, subject in zip(ds.window_id, ds.subject, strict=True):
        inst, pid, _ = wid.split(":")
        assert subject == f"{inst}:{pid}"
    assert ds.info["n_labels_blank"] == 4  # one blank dep per institute-year, skipped


def test_window_ends_on_label_date(tmp_path: Path) -> None:
    fx = write_globem(tmp_path)
    ds = load_globem(tmp_path, standardize=False)
    c = ds.channel_names.index(DAY_CODE)
    assert ds.mask is not None
    for i, wid in enumerate(ds.window_id):
        inst, pid, text = wid.split(":")
        label_day = date.fromisoformat(text)
        days = [label_day - timedelta(days=W - 1 - j) for j in range(W)]
        recorded = np.array([_recorded(fx, inst, pid, d) for d in days])
        np.testing.assert_array_equal(ds.mask[i, c], recorded)
        ordinals = np.array([d.toordinal() for d in days], dtype=float)
        np.testing.assert_array_equal(ds.X[i, c, recorded], ordinals[recorded])


def test_forward_fill_then_training_median(tmp_path: Path) -> None:
    fx = write_globem(tmp_path)
    ds = load_globem(tmp_path, standardize=False)
    c = ds.channel_names.index(DAY_CODE)
    median = np.median(_train_daily(tmp_path, DAY_CODE))
    assert ds.mask is not None
    checked_ffill = checked_median = 0
    for i in range(len(ds.X)):
        seen = ds.mask[i, c]
        for j in range(W):
            if seen[j]:
                continue
            earlier = np.flatnonzero(seen[:j])
            if earlier.size:
                assert ds.X[i, c, j] == ds.X[i, c, earlier[-1]]
                checked_ffill += 1
            else:
                assert ds.X[i, c, j] == pytest.approx(median, rel=1e-6)
                checked_median += 1
    assert checked_ffill > 0 and checked_median > 0
    assert not np.isnan(ds.X).any()
    assert fx.missing_days  # the fixture does leave days out


def test_standardized_with_training_daily_statistics(tmp_path: Path) -> None:
    write_globem(tmp_path)
    raw = load_globem(tmp_path, standardize=False)
    z = load_globem(tmp_path)
    for c, name in enumerate(ALL_FEATURES):
        values = _train_daily(tmp_path, name)
        mean, std = values.mean(), values.std()
        np.testing.assert_allclose(z.X[:, c], (raw.X[:, c] - mean) / std, rtol=1e-4, atol=1e-4)


def test_holdout_year_split_by_participant(tmp_path: Path) -> None:
    write_globem(tmp_path, n_pids=(2, 2, 2, 8))
    ds = load_globem(tmp_path, seed=1)
    inst = np.array([s.split(":")[0] for s in ds.subject])
    assert set(ds.split[inst != "INS-W_4"]) == {"train"}
    assert set(ds.split[inst == "INS-W_4"]) == {"val", "test"}
    val, test = set(ds.subject[ds.split == "val"]), set(ds.subject[ds.split == "test"])
    assert not val & test
    assert len(val) == len(test) == 4
    again = load_globem(tmp_path, seed=1)
    np.testing.assert_array_equal(ds.split, again.split)
    assert len({tuple(load_globem(tmp_path, seed=s).split) for s in range(5)}) > 1


def test_institutes_and_features_selection(tmp_path: Path) -> None:
    write_globem(tmp_path)
    chosen = [DAY_CODE, ALL_FEATURES[0]]
    ds = load_globem(tmp_path, institutes=[1, "INS-W_4"], features=chosen)
    assert list(ds.channel_names) == chosen
    assert {s.split(":")[0] for s in ds.subject} == {"INS-W_1", "INS-W_4"}
    assert set(ds.split[[s.startswith("INS-W_1:") for s in ds.subject]]) == {"train"}


def test_demographics_case_insensitive_and_explicit_missing(tmp_path: Path) -> None:
    fx = write_globem(tmp_path)
    path = tmp_path / "demographics.csv"
    path.write_text(path.read_text().replace("PID,gender,age,race", "pid,Gender,AGE,Race", 1))
    ds = load_globem(tmp_path, demographics=path)
    assert ds.attribute_names == ["gender", "race", "disability", "generation", "age"]
    per = ds.attributes.groupby(ds.subject, observed=True).first()
    pids = [p for inst in fx.pids for p in fx.pids[inst]]
    subject = {p: f"{inst}:{p}" for inst in fx.pids for p in fx.pids[inst]}
    genders = ["Male", "Female", "Female", "Non-binary", MISSING, "Male"]  # 'female' -> Female, never Male
    races = ["White", "Asian", "Black", "Hispanic/Latinx", MISSING, "White"]
    for i, pid in enumerate(pids[:-1]):
        if subject[pid] not in per.index:
            continue
        assert per.loc[subject[pid], "gender"] == genders[i % 6]
        assert per.loc[subject[pid], "race"] == races[i % 6]
        assert per.loc[subject[pid], "age"] == ("<25" if 18 + i % 12 < 25 else ">=25")
        assert per.loc[subject[pid], "disability"] == ("Yes" if i % 4 == 0 else "No")
    assert (per.loc[subject[pids[-1]]] == MISSING).all()
    assert ds.info["n_participants_without_demographics"] == 1


def test_no_demographics_warns(tmp_path: Path) -> None:
    write_globem(tmp_path, demographics=False)
    with pytest.warns(UserWarning, match=r"no GLOBEM demographics given"):
        ds = load_globem(tmp_path)
    assert ds.attribute_names == []


def test_non_numeric_column_is_dropped_and_listed(tmp_path: Path) -> None:
    write_globem(tmp_path)
    path = tmp_path / "INS-W_2" / "FeatureData" / "wifi.csv"
    path.write_text("pid,date,f_wifi:device_name\nINS-W_004,2019-04-02,home-router\n")
    ds = load_globem(tmp_path)
    assert ds.info["dropped_non_numeric_columns"] == ["INS-W_2/wifi:f_wifi:device_name"]
    assert "f_wifi:device_name" not in ds.channel_names


# ------------------------------------------------------------------ errors
def test_error_root_not_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"is not a folder"):
        load_globem(tmp_path / "nope")


def test_error_no_institutes(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no INS-W_k folders under"):
        load_globem(tmp_path)


def test_error_unknown_institute(tmp_path: Path) -> None:
    write_globem(tmp_path)
    with pytest.raises(ConfigError, match=r"institute-year\(s\) \['INS-W_7'\] not under"):
        load_globem(tmp_path, institutes=[1, 7])


def test_error_holdout_not_loaded(tmp_path: Path) -> None:
    write_globem(tmp_path)
    with pytest.raises(ConfigError, match=r"holdout 'INS-W_4' is not among"):
        load_globem(tmp_path, institutes=[1, 2], holdout=4)


def test_error_single_institute(tmp_path: Path) -> None:
    write_globem(tmp_path)
    with pytest.raises(ConfigError, match=r"needs training institute-years and a holdout year"):
        load_globem(tmp_path, institutes=[4])


def test_error_no_feature_folder(tmp_path: Path) -> None:
    write_globem(tmp_path)
    for f in (tmp_path / "INS-W_3" / "FeatureData").iterdir():
        f.unlink()
    (tmp_path / "INS-W_3" / "FeatureData").rmdir()
    with pytest.raises(DataError, match=r"has no FeatureData folder"):
        load_globem(tmp_path)


def test_error_no_feature_files(tmp_path: Path) -> None:
    write_globem(tmp_path)
    for f in (tmp_path / "INS-W_3" / "FeatureData").iterdir():
        f.unlink()
    with pytest.raises(DataError, match=r"holds none of rapids.csv"):
        load_globem(tmp_path)


def test_error_feature_file_without_keys(tmp_path: Path) -> None:
    write_globem(tmp_path)
    path = tmp_path / "INS-W_1" / "FeatureData" / "steps.csv"
    path.write_text(path.read_text().replace("pid,date", "participant,day", 1))
    with pytest.raises(DataError, match=r"lacks column\(s\) \['pid', 'date'\]"):
        load_globem(tmp_path)


def test_error_duplicate_participant_day(tmp_path: Path) -> None:
    write_globem(tmp_path)
    path = tmp_path / "INS-W_1" / "FeatureData" / "sleep.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines, lines[1]]) + "\n")
    with pytest.raises(DataError, match=r"has two rows for pid INS-W_001"):
        load_globem(tmp_path)


def test_error_bad_date(tmp_path: Path) -> None:
    write_globem(tmp_path)
    path = tmp_path / "INS-W_2" / "SurveyData" / "dep_weekly.csv"
    lines = path.read_text().splitlines()
    cells = lines[1].split(",")
    cells[1] = "last tuesday"
    lines[1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"date 'last tuesday' is not a date"):
        load_globem(tmp_path)


def test_error_missing_labels(tmp_path: Path) -> None:
    write_globem(tmp_path)
    (tmp_path / "INS-W_2" / "SurveyData" / "dep_weekly.csv").unlink()
    with pytest.raises(DataError, match=r"dep_weekly.csv not found"):
        load_globem(tmp_path)


def test_error_labels_without_dep(tmp_path: Path) -> None:
    write_globem(tmp_path)
    path = tmp_path / "INS-W_2" / "SurveyData" / "dep_weekly.csv"
    path.write_text(path.read_text().replace(",dep", ",depressed", 1))
    with pytest.raises(DataError, match=r"has no dep column"):
        load_globem(tmp_path)


def test_error_bad_dep_value(tmp_path: Path) -> None:
    write_globem(tmp_path)
    path = tmp_path / "INS-W_3" / "SurveyData" / "dep_weekly.csv"
    lines = path.read_text().splitlines()
    lines[2] = lines[2].rsplit(",", 1)[0] + ",maybe"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"dep holds 'maybe'; dep must be True/False or 1/0"):
        load_globem(tmp_path)


def test_error_unknown_feature(tmp_path: Path) -> None:
    write_globem(tmp_path)
    with pytest.raises(ConfigError, match=r"feature\(s\) \['f_nope'\] not in INS-W_1"):
        load_globem(tmp_path, features=["f_nope"])


def test_error_demographics_without_pid(tmp_path: Path) -> None:
    write_globem(tmp_path)
    path = tmp_path / "demographics.csv"
    path.write_text(path.read_text().replace("PID", "participant", 1))
    with pytest.raises(DataError, match=r"demographics have no PID column"):
        load_globem(tmp_path, demographics=path)


def test_error_demographics_missing_file(tmp_path: Path) -> None:
    write_globem(tmp_path)
    with pytest.raises(DataError, match=r"demographics file .* does not exist"):
        load_globem(tmp_path, demographics=tmp_path / "nope.csv")


def test_error_bad_options(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"window_days must be >= 1"):
        load_globem(tmp_path, window_days=0)
    with pytest.raises(ConfigError, match=r"val_fraction must be in \(0, 1\)"):
        load_globem(tmp_path, val_fraction=1.0)


def test_save_round_trip(tmp_path: Path) -> None:
    from fairssl.data.dataset import WindowDataset

    write_globem(tmp_path / "data")
    ds = load_globem(tmp_path / "data", demographics=tmp_path / "data" / "demographics.csv")
    again = WindowDataset.load(ds.save(tmp_path / "saved"))
    np.testing.assert_array_equal(again.X, ds.X)
    assert again.metadata().astype(str).equals(ds.metadata().astype(str))
