"""GLOBEM loader: windows, imputation, robust scaling, the 54 deep-model features, returning participants,
release layouts, dep_endterm, the example config, errors."""

from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fairssl.data.audit import audit
from fairssl.data.dataset import MISSING
from fairssl.data.loaders.globem import load_globem
from fairssl.errors import ConfigError, DataError

if str(Path(__file__).parent) not in sys.path:  # --import-mode=importlib: make the fixture writers importable
    sys.path.insert(0, str(Path(__file__).parent))
from fixtures_paper import DAY_CODE, GLOBEM_DL_FEATURES, GLOBEM_FEATURES, GlobemFixture, write_globem

pytestmark = [
    pytest.mark.filterwarnings("ignore:no GLOBEM demographics given"),
    pytest.mark.filterwarnings("ignore:no GLOBEM overlapping_pids.json"),
]

W = 28
OWN = [f for group in GLOBEM_FEATURES.values() for f in group]
ALL_FEATURES = OWN + [f for f in GLOBEM_DL_FEATURES if f not in OWN]  # every numeric column, rapids.csv order
RAW: dict[str, Any] = {"features": "all", "scaling": "none"}


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
    ds = load_globem(tmp_path, demographics=tmp_path / "demographics.csv", features="all")
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
    ds = load_globem(tmp_path, **RAW)
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
    ds = load_globem(tmp_path, **RAW)
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


def test_standard_scaling_with_training_daily_statistics(tmp_path: Path) -> None:
    write_globem(tmp_path)
    raw = load_globem(tmp_path, **RAW)
    z = load_globem(tmp_path, features="all", scaling="standard")
    for c, name in enumerate(ALL_FEATURES):
        if "_norm:" in name:  # left as released (already divided by the person's own 5-95% range)
            np.testing.assert_array_equal(z.X[:, c], raw.X[:, c])
            continue
        values = _train_daily(tmp_path, name)
        mean, std = values.mean(), values.std()
        np.testing.assert_allclose(z.X[:, c], (raw.X[:, c] - mean) / std, rtol=1e-4, atol=1e-4)


def test_robust_scaling_and_clip_default_as_globem(tmp_path: Path) -> None:
    # GLOBEM data_loader_dl.normalize_along_axis: (x - q50) / (q95 - q5), clipped to [-2, 2]
    write_globem(tmp_path)
    raw = load_globem(tmp_path, **RAW)
    robust = load_globem(tmp_path, features="all")
    for c, name in enumerate(ALL_FEATURES):
        if "_norm:" in name:
            np.testing.assert_array_equal(robust.X[:, c], raw.X[:, c])
            continue
        q5, q50, q95 = np.percentile(_train_daily(tmp_path, name), [5, 50, 95])
        expected = np.clip((raw.X[:, c].astype(float) - q50) / (q95 - q5), -2, 2)
        np.testing.assert_allclose(robust.X[:, c], expected, rtol=1e-4, atol=1e-4)
    scaled = [c for c, n in enumerate(ALL_FEATURES) if "_norm:" not in n and n != DAY_CODE]
    assert np.abs(robust.X[:, scaled]).max() == pytest.approx(2.0)  # the gamma tails do reach the clip
    assert robust.info["scaling"] == "robust" and robust.info["scaling_clip"] == 2.0
    no_clip = load_globem(tmp_path, features="all", clip=False)
    assert np.abs(no_clip.X[:, scaled]).max() > 2.0


def test_holdout_year_split_by_participant(tmp_path: Path) -> None:
    write_globem(tmp_path, n_pids=(2, 2, 2, 8))
    ds = load_globem(tmp_path, seed=1, overlap=False)
    inst = np.array([s.split(":")[0] for s in ds.subject])
    assert set(ds.split[inst != "INS-W_4"]) == {"train"}
    assert set(ds.split[inst == "INS-W_4"]) == {"val", "test"}
    val, test = set(ds.subject[ds.split == "val"]), set(ds.subject[ds.split == "test"])
    assert not val & test
    assert len(val) == len(test) == 4
    again = load_globem(tmp_path, seed=1, overlap=False)
    np.testing.assert_array_equal(ds.split, again.split)
    assert len({tuple(load_globem(tmp_path, seed=s, overlap=False).split) for s in range(5)}) > 1


def test_institutes_and_features_selection(tmp_path: Path) -> None:
    write_globem(tmp_path)
    chosen = [DAY_CODE, OWN[0]]
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
    ds = load_globem(tmp_path, features="all")
    dis = "f_loc:phone_locations_doryab_totaldistance_dis:allday"  # low/medium/high text in rapids.csv
    assert {f"INS-W_{k}/rapids:{dis}" for k in (1, 2, 3, 4)} <= set(ds.info["dropped_non_numeric_columns"])
    assert "INS-W_2/wifi:f_wifi:device_name" in ds.info["dropped_non_numeric_columns"]
    assert dis not in ds.channel_names
    assert "f_wifi:device_name" not in ds.channel_names


# ------------------------------------------------------------------ errors
def test_error_root_not_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"is not a folder"):
        load_globem(tmp_path / "nope")


def test_error_no_institutes(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no INS-W_k \(or INS-W-sample_k\) folders under"):
        load_globem(tmp_path)


def test_error_unknown_institute(tmp_path: Path) -> None:
    write_globem(tmp_path)
    with pytest.raises(ConfigError, match=r"institute-year\(s\) \[7\] not under"):
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
    ds = load_globem(tmp_path / "data", demographics=tmp_path / "data" / "demographics.csv", overlap=False)
    again = WindowDataset.load(ds.save(tmp_path / "saved"))
    np.testing.assert_array_equal(again.X, ds.X)
    assert again.metadata().astype(str).equals(ds.metadata().astype(str))


# ------------------------------------------------------------------ the 54 deep-model features
def test_default_features_are_globems_deep_model_list(tmp_path: Path) -> None:
    fx = write_globem(tmp_path)
    ds = load_globem(tmp_path)
    assert list(ds.channel_names) == GLOBEM_DL_FEATURES  # the fixture's transcription of dl_feat_prep.yaml
    assert len(ds.channel_names) == 54
    assert sum("_norm:" in f for f in ds.channel_names) == 21  # 33 raw + 21 per-person normalised
    assert {f.split(":")[0] for f in ds.channel_names} == {
        "f_loc",
        "f_screen",
        "f_slp",
        "f_steps",
        "f_blue",
        "f_call",
    }
    assert not (set(OWN) - set(GLOBEM_DL_FEATURES)) & set(ds.channel_names)  # the fixture's others left out
    assert len(fx.features) == len(ALL_FEATURES) and ds.info["features"].startswith("GLOBEM deep-model")


def test_default_features_missing_is_one_line_error(tmp_path: Path) -> None:
    write_globem(tmp_path)
    path = tmp_path / "INS-W_2" / "FeatureData" / "rapids.csv"
    frame = pd.read_csv(path).drop(columns=[GLOBEM_DL_FEATURES[0]])
    frame.to_csv(path, index=False)
    (tmp_path / "INS-W_2" / "FeatureData" / "screen.csv").unlink()
    with pytest.raises(ConfigError, match=r"not in INS-W_2's FeatureData \(1 missing\); use features='all'"):
        load_globem(tmp_path)


def test_all_features_drop_those_never_recorded_in_training(tmp_path: Path) -> None:
    write_globem(tmp_path)
    for k in (1, 2, 3, 4):
        path = tmp_path / f"INS-W_{k}" / "FeatureData" / "rapids.csv"
        frame = pd.read_csv(path)
        frame["f_call:phone_calls_rapids_missed_count:allday"] = np.nan if k < 4 else 1.0  # year 4 only
        frame.to_csv(path, index=False)
    ds = load_globem(tmp_path, features="all")
    assert "f_call:phone_calls_rapids_missed_count:allday" not in ds.channel_names
    assert ds.info["n_features_never_recorded_in_train_dropped"] == 1


# ------------------------------------------------------------------ returning participants
def _person_of(fx: GlobemFixture) -> dict[str, str]:
    """Oracle: window subject key 'folder:pid' -> the person (year-3 and year-4 pids of one person joined)."""
    person = {f"{inst}:{p}": f"{inst}:{p}" for inst in fx.pids for p in fx.pids[inst]}
    for a, b in fx.same_person:
        pa, ya = a.split("#")
        pb, yb = b.split("#")
        person[f"{yb}:{pb}"] = f"{ya}:{pa}"
    return person


def test_without_linkage_returning_people_leak_and_a_warning_says_so(tmp_path: Path) -> None:
    fx = write_globem(tmp_path, returning=3)
    fx.overlap_path.unlink()  # type: ignore[union-attr]
    with pytest.warns(UserWarning, match=r"no GLOBEM overlapping_pids.json or person map found"):
        ds = load_globem(tmp_path)
    person = _person_of(fx)
    people = {s: {person[x] for x in ds.subject[ds.split == s]} for s in ("train", "val", "test")}
    assert people["train"] & (people["val"] | people["test"])  # the leak the linkage file prevents
    assert ds.info["linkage"] == "none"


@pytest.mark.parametrize("policy", ["drop", "train"])
def test_overlapping_pids_keep_returning_people_out_of_val_and_test(tmp_path: Path, policy: str) -> None:
    fx = write_globem(tmp_path, returning=3)
    ds = load_globem(tmp_path, returning=policy)  # overlapping_pids.json found beside the data
    person = _person_of(fx)
    people = {s: {person[x] for x in ds.subject[ds.split == s]} for s in ("train", "val", "test")}
    assert not people["train"] & (people["val"] | people["test"])
    assert not people["val"] & people["test"]
    returners = {f"INS-W_4:{b.split('#')[0]}" for _, b in fx.same_person}
    expected_windows = sum(1 for inst, pid, _, _ in _expected_windows(fx) if f"{inst}:{pid}" in returners)
    assert ds.info["n_returning_pids_holdout"] == 3
    held = np.isin(ds.subject, list(returners))
    if policy == "drop":
        assert not held.any()
        assert ds.info["n_windows_dropped_returning"] == expected_windows
        assert len(ds.X) == len(_expected_windows(fx)) - expected_windows
    else:
        assert held.sum() == expected_windows and set(ds.split[held]) == {"train"}
        assert ds.info["n_windows_moved_to_train_returning"] == expected_windows
    result = audit(ds, min_positives=0, min_negatives=0)
    assert int(result.overlap["shared_subjects"].sum()) == 0
    assert any("also in a training year" in w for w in ds.info["warnings"])


def test_overlap_file_found_in_globems_repository_layout(tmp_path: Path) -> None:
    # GLOBEM keeps datasets in data_raw/ and the file in data/additional_user_setup/
    overlap = tmp_path / "data" / "additional_user_setup" / "overlapping_pids.json"
    write_globem(tmp_path / "data_raw", returning=2, overlap_at=overlap)
    ds = load_globem(tmp_path / "data_raw")
    assert ds.info["linkage_file"] == str(overlap)
    assert ds.info["n_returning_pids_holdout"] == 2


def test_person_map_merges_every_pid_of_a_person_into_one_subject(tmp_path: Path) -> None:
    fx = write_globem(tmp_path, returning=3)
    rows = [f"P{i},{a}" for i, (a, b) in enumerate(fx.same_person)] + [
        f"P{i},{b}" for i, (a, b) in enumerate(fx.same_person)
    ]
    people = tmp_path / "people.csv"
    people.write_text("person,pid\n" + "\n".join(rows) + "\n")
    ds = load_globem(tmp_path, overlap=people, returning="train")
    assert ds.info["n_pids_merged"] == 6 and ds.info["n_persons_merged"] == 3
    for i, (a, b) in enumerate(fx.same_person):
        for key in (a, b):
            pid, year = key.split("#")
            rows_of = np.array([w.startswith(f"{year}:{pid}:") for w in ds.window_id])
            assert rows_of.any() and set(ds.subject[rows_of]) == {f"person:P{i}"}
            assert set(ds.split[rows_of]) == {"train"}
    # the audit counts one subject per person (oracle: the fixture's own pairing of pids)
    person = _person_of(fx)
    train_people = {person[w.rsplit(":", 1)[0]] for w in ds.window_id[ds.split == "train"]}
    n_train_pids = len({w.rsplit(":", 1)[0] for w in ds.window_id[ds.split == "train"]})
    sizes = audit(ds, min_positives=0, min_negatives=0).sizes
    assert sizes.loc["train", "subjects"] == len(train_people) == n_train_pids - 3


def test_linkage_file_errors(tmp_path: Path) -> None:
    write_globem(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text('{"dep_weekly": {"INS-W_4": {"INS-W_4": ["INS-W_901"]}}}')
    with pytest.raises(DataError, match=r"entry 'INS-W_901' is not 'pid#INS-W_k'"):
        load_globem(tmp_path, overlap=bad)
    table = tmp_path / "people.csv"
    table.write_text("who,pid\nP1,INS-W_001#INS-W_1\n")
    with pytest.raises(DataError, match=r"needs columns person,pid\[,institute\]"):
        load_globem(tmp_path, overlap=table)
    with pytest.raises(DataError, match=r"linkage file .* does not exist"):
        load_globem(tmp_path, overlap=tmp_path / "none.json")
    with pytest.raises(ConfigError, match=r"returning = 'keep' is not one of drop, train"):
        load_globem(tmp_path, returning="keep")


# ------------------------------------------------------------------ release layouts and labels
def test_sample_folders_and_per_year_demographics(tmp_path: Path) -> None:
    fx = write_globem(tmp_path, sample=True, demographics="per_year")
    ds = load_globem(tmp_path, overlap=False)
    assert ds.info["institutes"] == [f"INS-W-sample_{k}" for k in (1, 2, 3, 4)]
    assert ds.info["holdout"] == "INS-W-sample_4"
    assert {s.split(":")[0] for s in ds.subject} == set(ds.info["institutes"])
    per = ds.attributes.groupby(ds.subject, observed=True).first()
    every = [(inst, p) for inst in fx.pids for p in fx.pids[inst]]
    genders = ["Male", "Female", "Female", "Non-binary", MISSING, "Male"]
    for i, (inst, pid) in enumerate(every[:-1]):
        if f"{inst}:{pid}" in per.index:
            assert per.loc[f"{inst}:{pid}", "gender"] == genders[i % 6]
    assert ds.info["n_participants_without_demographics"] == 1  # the last pid has no row in its year's file
    assert sorted(set(ds.split)) == ["test", "train", "val"]


def test_sample_with_holdout_by_year_number(tmp_path: Path) -> None:
    write_globem(tmp_path, sample=True)
    ds = load_globem(tmp_path, holdout=3, institutes=[1, 3], overlap=False)
    assert ds.info["holdout"] == "INS-W-sample_3"


def test_dep_endterm_labels(tmp_path: Path) -> None:
    fx = write_globem(tmp_path)
    ds = load_globem(tmp_path, label="dep_endterm", overlap=False)
    expected = {
        f"{inst}:{pid}:{day:%Y-%m-%d}": dep for inst, rows in fx.endterm.items() for pid, day, dep in rows
    }
    assert dict(zip(ds.window_id, ds.y.tolist(), strict=True)) == expected
    assert ds.name == "globem-dep-endterm" and ds.info["label"] == "dep_endterm.csv:dep"
    with pytest.raises(ConfigError, match=r"label = 'phq4' is not one of dep_weekly, dep_endterm"):
        load_globem(tmp_path, label="phq4")


def test_example_config_loads_the_fixture(tmp_path: Path) -> None:
    import tomllib

    from fairssl.config import build_config
    from fairssl.data.loaders import load_dataset

    write_globem(tmp_path, returning=2)
    example = Path(__file__).parents[2] / "examples" / "globem.toml"
    raw = tomllib.loads(example.read_text())
    raw["data"]["path"] = str(tmp_path)
    raw["data"]["options"]["demographics"] = str(tmp_path / "demographics.csv")
    cfg = build_config(raw)
    ds = load_dataset(cfg.data.source, cfg.data.path, **cfg.data.options)
    assert ds.X.shape[1:] == (54, 28)
    assert ds.attribute_names == ["gender", "race", "disability", "generation", "age"]
    assert ds.info["scaling"] == "robust" and ds.info["n_returning_pids_holdout"] == 2


def test_error_holdout_year_without_new_participants(tmp_path: Path) -> None:
    # the GitHub sample is like this: 9 of its 10 year-4 participants return from earlier years
    write_globem(tmp_path, n_pids=(3, 3, 3, 3), returning=2)
    with pytest.raises(DataError, match=r"only 1 participant\(s\) of INS-W_4 are new: 2 also take part"):
        load_globem(tmp_path)
