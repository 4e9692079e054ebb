"""MIMIC-III in-hospital-mortality loader: format, hand-checked discretisation, splits, attributes, errors."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pytest

from fairssl.data.dataset import MISSING
from fairssl.data.loaders.mimic3 import (
    CATEGORIES,
    CHANNEL_NAMES,
    NORMAL_VALUES,
    VARIABLES,
    discretize_stay,
    encode_codes,
    load_mimic3,
    map_ethnicity,
    map_gender,
)
from fairssl.errors import ConfigError, DataError

if str(Path(__file__).parent) not in sys.path:  # --import-mode=importlib: make the fixture writers importable
    sys.path.insert(0, str(Path(__file__).parent))
from fixtures_paper import MIMIC_STAY_HEADER, hand_stay_rows, write_mimic3, write_stay_csv


def _raw(ds, window: str, channel: str) -> np.ndarray:
    """Un-z-scored values (T,) of one channel of one window."""
    i = int(np.flatnonzero(ds.window_id == window)[0])
    c = CHANNEL_NAMES.index(channel)
    values = ds.X[i, c].astype(np.float64)
    norm = ds.info["normalizer"]
    if channel in norm["channels"]:
        k = norm["channels"].index(channel)
        values = values * norm["std"][k] + norm["mean"][k]
    return values


def _rows_of(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


# ------------------------------------------------------------ oracle: the benchmark's algorithm, loop by loop
def _oracle(header: list[str], rows: list[list[str]], hours: float = 48.0) -> np.ndarray:
    """Loop transcription of the benchmark's Discretizer (timestep 1, 'previous', start 'zero', masks)."""
    eps = 1e-6
    n_bins = int(hours + 1.0 - eps)
    width = sum(len(CATEGORIES.get(v, ("",))) for v in VARIABLES)
    data = np.zeros((n_bins, width))
    mask = np.zeros((n_bins, len(VARIABLES)))
    begin, pos = {}, 0
    for v in VARIABLES:
        begin[v] = pos
        pos += len(CATEGORIES.get(v, ("",)))
    original: list[list[str | None]] = [[None] * len(VARIABLES) for _ in range(n_bins)]

    def write(b: int, v: str, value: str) -> None:
        if v in CATEGORIES:
            data[b, begin[v] : begin[v] + len(CATEGORIES[v])] = 0
            data[b, begin[v] + CATEGORIES[v].index(value)] = 1
        else:
            data[b, begin[v]] = float(value)

    for row in sorted(rows, key=lambda r: float(r[0])):
        t = float(row[0])
        if t > hours + eps:
            continue
        b = int(t - eps)
        for j in range(1, len(row)):
            if row[j] == "":
                continue
            v = header[j]
            mask[b, VARIABLES.index(v)] = 1
            write(b, v, row[j])
            original[b][VARIABLES.index(v)] = row[j]
    last: dict[str, str] = {}
    for b in range(n_bins):
        for j, v in enumerate(VARIABLES):
            if mask[b, j]:
                last[v] = original[b][j]  # type: ignore[assignment]
                continue
            write(b, v, last.get(v, NORMAL_VALUES[v]))
    return np.hstack([data, mask]).T  # (76, T)


# ------------------------------------------------------------------ shapes, ids, channels
def test_shapes_ids_and_channel_layout(tmp_path: Path) -> None:
    fx = write_mimic3(tmp_path)
    ds = load_mimic3(tmp_path)
    assert ds.X.shape == (len(fx.stays), 76, 48)
    assert ds.X.dtype == np.float32
    assert ds.mask is not None and ds.mask.shape == ds.X.shape
    by_id = {s.name.removesuffix("_timeseries.csv"): s for s in fx.stays}
    assert set(ds.window_id) == set(by_id)
    for wid, subject in zip(ds.window_id, ds.subject, strict=True):
        assert subject == str(by_id[wid].subject)
    # one-hot widths 2 + 8 + 12 + 13 + 12 = 47, 12 continuous, 17 masks
    widths = [sum(n.startswith(v + "->") for n in ds.channel_names) for v in CATEGORIES]
    assert widths == [2, 8, 12, 13, 12]
    assert sum(n.startswith("mask->") for n in ds.channel_names) == 17
    assert sum("->" not in n for n in ds.channel_names) == 12
    # "4 Spontaneously" is the 4th eye-opening category: after CRR (2), DBP, FiO2 -> position 2+1+1+3
    assert ds.channel_names.index("Glascow coma scale eye opening->4 Spontaneously") == 7
    assert ds.channel_names[-1] == "mask->pH"
    y_of = {s.name.removesuffix("_timeseries.csv"): s.y for s in fx.stays}
    assert [y_of[w] for w in ds.window_id] == ds.y.tolist()


# ------------------------------------------------------------------ discretisation by hand
def test_hand_checked_discretisation(tmp_path: Path) -> None:
    write_mimic3(tmp_path)
    ds = load_mimic3(tmp_path)
    w = "12797_episode1"
    hr = _raw(ds, w, "Heart Rate")
    # 80 at 0.5 h (bin 0), forward filled to bins 1-2; 100 at 3.5 h then 110 at 3.9 h: bin 3 keeps 110
    np.testing.assert_allclose(hr[:3], 80.0, rtol=1e-5)
    np.testing.assert_allclose(hr[3:], 110.0, rtol=1e-5)  # the 200 at 50 h lies past 48 h: ignored
    glucose = _raw(ds, w, "Glucose")
    np.testing.assert_allclose(glucose[:3], 128.0, rtol=1e-5)  # normal value before the first observation
    np.testing.assert_allclose(glucose[3:], 150.0, rtol=1e-5)  # observed at exactly 4.0 h -> bin 3
    temp = _raw(ds, w, "Temperature")
    np.testing.assert_allclose(temp[:47], 36.6, rtol=1e-5)
    np.testing.assert_allclose(temp[47], 38.2, rtol=1e-5)
    eye = "Glascow coma scale eye opening->"
    assert _raw(ds, w, eye + "3 To speech").tolist() == [1.0] * 3 + [0.0] * 45
    assert _raw(ds, w, eye + "4 Spontaneously").tolist() == [0.0] * 3 + [1.0] * 45
    for other in set(CATEGORIES["Glascow coma scale eye opening"]) - {"3 To speech", "4 Spontaneously"}:
        assert not _raw(ds, w, eye + other).any()
    # capillary refill: normal "0.0" until hour 10.0, which lands in bin 9
    assert _raw(ds, w, "Capillary refill rate->1.0").tolist() == [0.0] * 9 + [1.0] * 39
    assert _raw(ds, w, "Capillary refill rate->0.0").tolist() == [1.0] * 9 + [0.0] * 39
    # motor response never observed: the normal "6 Obeys Commands" throughout
    assert _raw(ds, w, "Glascow coma scale motor response->6 Obeys Commands").tolist() == [1.0] * 48
    expected_hr_mask = np.zeros(48)
    expected_hr_mask[[0, 3]] = 1
    np.testing.assert_array_equal(_raw(ds, w, "mask->Heart Rate"), expected_hr_mask)
    np.testing.assert_array_equal(np.flatnonzero(_raw(ds, w, "mask->Glucose")), [3])
    i = int(np.flatnonzero(ds.window_id == w)[0])
    assert ds.mask is not None
    np.testing.assert_array_equal(
        ds.mask[i, CHANNEL_NAMES.index("Heart Rate")], expected_hr_mask.astype(bool)
    )
    assert ds.mask[i, CHANNEL_NAMES.index("mask->Heart Rate")].all()


def test_discretize_stay_matches_loop_oracle_on_two_stays() -> None:
    header = MIMIC_STAY_HEADER.split(",")
    columns = header
    stay_a = [[r.get(c, "") for c in columns] for r in hand_stay_rows()]
    stay_b = [
        [r.get(c, "") for c in columns]
        for r in [
            {"Hours": "0.0", "Glascow coma scale total": "7", "pH": "7.21"},
            {
                "Hours": "1.0",
                "Glascow coma scale total": "15",
                "Glascow coma scale verbal response": "1.0 ET/Trach",
            },
            {"Hours": "1.01", "Heart Rate": "77"},
            {"Hours": "48.0", "Weight": "90.5", "Glascow coma scale motor response": "Abnormal Flexion"},
        ]
    ]
    codes = np.stack([discretize_stay(header, rows)[0] for rows in (stay_a, stay_b)])
    X, observed = encode_codes(codes)
    assert X.shape == (2, 76, 48) and observed.shape == (2, 17, 48)
    for k, rows in enumerate((stay_a, stay_b)):
        np.testing.assert_allclose(X[k], _oracle(header, rows), rtol=1e-6)
    total = "Glascow coma scale total->"
    # GCS total "7" at t = 0 -> bin 0; "15" at exactly 1.0 h is still bin 0 and overwrites it
    assert X[1, CHANNEL_NAMES.index(total + "15"), 0] == 1 and X[1, CHANNEL_NAMES.index(total + "7"), 0] == 0
    assert (
        X[1, CHANNEL_NAMES.index("Heart Rate"), 1] == 77 and X[1, CHANNEL_NAMES.index("Heart Rate"), 0] == 86
    )


def test_whole_fixture_matches_oracle(tmp_path: Path) -> None:
    fx = write_mimic3(tmp_path, n_random_subjects=6, seed=3)
    ds = load_mimic3(tmp_path)
    norm = ds.info["normalizer"]
    for s in fx.stays:
        header, rows = _rows_of(tmp_path / "in-hospital-mortality" / s.split / s.name)
        i = int(np.flatnonzero(ds.window_id == s.name.removesuffix("_timeseries.csv"))[0])
        x = ds.X[i].astype(np.float64)
        for k, name in enumerate(norm["channels"]):
            c = CHANNEL_NAMES.index(name)
            x[c] = x[c] * norm["std"][k] + norm["mean"][k]
        np.testing.assert_allclose(x, _oracle(header, rows), rtol=1e-4, atol=1e-3)


# ------------------------------------------------------------------ normalisation: training statistics only
def test_zscore_uses_training_windows_only(tmp_path: Path) -> None:
    write_mimic3(tmp_path / "a")
    write_mimic3(tmp_path / "b", test_heart_rate_offset=500.0)
    a, b = load_mimic3(tmp_path / "a"), load_mimic3(tmp_path / "b")
    assert a.info["normalizer"] == b.info["normalizer"]
    train = a.split == "train"
    np.testing.assert_array_equal(a.X[train], b.X[train])
    hr = CHANNEL_NAMES.index("Heart Rate")
    assert b.X[b.split == "test", hr].mean() > 10  # the shifted test stays are far from the training mean
    # oracle: over the training windows every continuous channel has mean 0 and sample std 1
    cont = [i for i, n in enumerate(CHANNEL_NAMES) if "->" not in n]
    values = a.X[train][:, cont, :].transpose(1, 0, 2).reshape(len(cont), -1).astype(np.float64)
    np.testing.assert_allclose(values.mean(axis=1), 0.0, atol=1e-5)
    sd = values.std(axis=1, ddof=1)
    np.testing.assert_allclose(sd[sd > 1e-3], 1.0, rtol=1e-4)
    onehot_and_mask = [i for i, n in enumerate(CHANNEL_NAMES) if "->" in n]
    assert set(np.unique(a.X[:, onehot_and_mask, :])) <= {0.0, 1.0}


# ------------------------------------------------------------------ splits
def test_benchmark_val_listfile_is_used(tmp_path: Path) -> None:
    write_mimic3(tmp_path, benchmark_split=True)
    ds = load_mimic3(tmp_path)
    with (tmp_path / "in-hospital-mortality" / "val_listfile.csv").open() as handle:
        val = {line.split(",")[0].removesuffix("_timeseries.csv") for line in handle.read().splitlines()[1:]}
    assert set(ds.window_id[ds.split == "val"]) == val
    assert "benchmark" in ds.info["val_split"]


def test_seeded_split_is_patient_disjoint_and_reproducible(tmp_path: Path) -> None:
    fx = write_mimic3(tmp_path, n_random_subjects=14)
    a, b = load_mimic3(tmp_path, seed=5), load_mimic3(tmp_path, seed=5)
    np.testing.assert_array_equal(a.split, b.split)
    for split in ("train", "val", "test"):
        assert (a.split == split).any()
    assert not set(a.subject[a.split == "train"]) & set(a.subject[a.split == "val"])
    test_names = {s.name.removesuffix("_timeseries.csv") for s in fx.stays if s.split == "test"}
    assert set(a.window_id[a.split == "test"]) == test_names
    seeds = {tuple(load_mimic3(tmp_path, seed=s).split) for s in range(6)}
    assert len(seeds) > 1


# ------------------------------------------------------------------ demographics
def test_demographics_episode_order_and_admissions(tmp_path: Path) -> None:
    write_mimic3(tmp_path)
    ds = load_mimic3(tmp_path)
    attrs = ds.attributes
    assert list(attrs.columns) == [
        "gender",
        "age",
        "ethnicity",
        "language",
        "insurance",
        "religion",
        "marital_status",
    ]
    # episode numbers follow INTIME: episode 1 (age 60) is written second in all_stays.csv
    assert attrs.loc["12797_episode1", "age"] == "<65"
    assert attrs.loc["12797_episode2", "age"] == ">=65"
    assert attrs.loc["12797_episode1", "gender"] == "F"
    assert attrs.loc["12797_episode1", "ethnicity"] == "WHITE"
    assert attrs.loc["30001_episode1", "ethnicity"] == MISSING  # PATIENT DECLINED TO ANSWER
    assert attrs.loc["12797_episode1", "insurance"] == "Private"
    assert attrs.loc["12797_episode1", "language"] == "ENGL"
    assert attrs.loc["12797_episode2", "language"] == "OTHER"  # SPAN
    assert attrs.loc["12797_episode2", "religion"] == MISSING  # NOT SPECIFIED
    assert ds.info["n_stays_without_demographics"] == 0


def test_stay_without_demographics_is_missing_not_error(tmp_path: Path) -> None:
    write_mimic3(tmp_path)
    path = tmp_path / "root" / "all_stays.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(line for line in lines if not line.startswith("30001,")) + "\n")
    ds = load_mimic3(tmp_path)
    assert ds.info["n_stays_without_demographics"] == 1
    row = ds.attributes.loc["30001_episode1"]
    assert (row == MISSING).all()
    assert any("30001_episode1" in w for w in ds.info["warnings"])


def test_no_all_stays_warns_and_has_no_attributes(tmp_path: Path) -> None:
    write_mimic3(tmp_path)
    (tmp_path / "root" / "all_stays.csv").unlink()
    with pytest.warns(UserWarning, match=r"no all_stays.csv"):
        ds = load_mimic3(tmp_path)
    assert ds.attribute_names == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("WHITE", "WHITE"),
        ("WHITE - RUSSIAN", "WHITE"),
        ("PORTUGUESE", "WHITE"),
        ("BLACK/AFRICAN AMERICAN", "BLACK"),
        ("BLACK/HAITIAN", "BLACK"),
        ("CARIBBEAN ISLAND", "BLACK"),
        ("HISPANIC OR LATINO", "HISPANIC"),
        ("HISPANIC/LATINO - PUERTO RICAN", "HISPANIC"),
        ("SOUTH AMERICAN", "HISPANIC"),
        ("ASIAN - VIETNAMESE", "ASIAN"),
        ("AMERICAN INDIAN/ALASKA NATIVE FEDERALLY RECOGNIZED TRIBE", "OTHER"),
        ("NATIVE HAWAIIAN OR OTHER PACIFIC ISLANDER", "OTHER"),
        ("MULTI RACE ETHNICITY", "OTHER"),
        ("OTHER", "OTHER"),
        ("UNKNOWN/NOT SPECIFIED", MISSING),
        ("UNABLE TO OBTAIN", MISSING),
        ("PATIENT DECLINED TO ANSWER", MISSING),
        ("", MISSING),
        (float("nan"), MISSING),
    ],
)
def test_map_ethnicity(raw: object, expected: str) -> None:
    assert map_ethnicity(raw) == expected


def test_gender_is_matched_as_whole_word() -> None:
    assert map_gender("FEMALE") == "F"
    assert map_gender("female") == "F"
    assert map_gender("MALE") == "M"
    assert map_gender(" M ") == "M"
    assert map_gender("F") == "F"
    assert map_gender("FEMALES") == MISSING
    assert map_gender("") == MISSING


# ------------------------------------------------------------------ errors, one per message
def _stay_path(tmp_path: Path) -> Path:
    return tmp_path / "in-hospital-mortality" / "train" / "12797_episode1_timeseries.csv"


def test_error_root_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"is not a folder"):
        load_mimic3(tmp_path / "nowhere")


def test_error_no_task_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no in-hospital-mortality/train and test folders"):
        load_mimic3(tmp_path)


def test_error_missing_listfile(tmp_path: Path) -> None:
    write_mimic3(tmp_path)
    (tmp_path / "in-hospital-mortality" / "test" / "listfile.csv").unlink()
    with pytest.raises(DataError, match=r"listfile .*listfile.csv not found"):
        load_mimic3(tmp_path)


def test_error_listfile_wrong_header(tmp_path: Path) -> None:
    write_mimic3(tmp_path)
    path = tmp_path / "in-hospital-mortality" / "train" / "listfile.csv"
    path.write_text(path.read_text().replace("stay,y_true", "stay,label", 1))
    with pytest.raises(DataError, match=r"has header 'stay,label', expected 'stay,y_true'"):
        load_mimic3(tmp_path)


def test_error_listfile_bad_line(tmp_path: Path) -> None:
    write_mimic3(tmp_path)
    path = tmp_path / "in-hospital-mortality" / "test" / "listfile.csv"
    path.write_text(path.read_text() + "30002_episode1_timeseries.csv,maybe\n")
    with pytest.raises(DataError, match=r"expected 'STAY_CSV,0'"):
        load_mimic3(tmp_path)


def test_error_stay_name_without_subject(tmp_path: Path) -> None:
    write_mimic3(tmp_path)
    path = tmp_path / "in-hospital-mortality" / "test" / "listfile.csv"
    path.write_text(path.read_text() + "episode1_timeseries.csv,0\n")
    with pytest.raises(DataError, match=r"is not named SUBJECT_episodeK_timeseries.csv"):
        load_mimic3(tmp_path)


def test_error_stay_csv_missing(tmp_path: Path) -> None:
    write_mimic3(tmp_path)
    _stay_path(tmp_path).unlink()
    with pytest.raises(DataError, match=r"listed in the listfile does not exist"):
        load_mimic3(tmp_path)


def test_error_stay_csv_unknown_column(tmp_path: Path) -> None:
    write_mimic3(tmp_path)
    write_stay_csv(_stay_path(tmp_path), hand_stay_rows(), header=MIMIC_STAY_HEADER + ",Lactate")
    with pytest.raises(DataError, match=r"unknown or repeated column\(s\) \['Lactate'\]"):
        load_mimic3(tmp_path)


def test_error_stay_csv_missing_column(tmp_path: Path) -> None:
    write_mimic3(tmp_path)
    write_stay_csv(_stay_path(tmp_path), hand_stay_rows(), header=MIMIC_STAY_HEADER.removesuffix(",pH"))
    with pytest.raises(DataError, match=r"lacks column\(s\) \['pH'\]"):
        load_mimic3(tmp_path)


def test_error_truncated_stay_csv(tmp_path: Path) -> None:
    write_mimic3(tmp_path)
    path = _stay_path(tmp_path)
    text = path.read_text()
    path.write_text(text[: text.rstrip("\n").rfind("\n") + 4])  # cut inside the first field of the last row
    with pytest.raises(DataError, match=r"is truncated or corrupt: line 8 has 1 fields, expected 18"):
        load_mimic3(tmp_path)


def test_error_empty_stay_csv(tmp_path: Path) -> None:
    write_mimic3(tmp_path)
    _stay_path(tmp_path).write_text("")
    with pytest.raises(DataError, match=r"is empty"):
        load_mimic3(tmp_path)


def test_error_corrupt_value(tmp_path: Path) -> None:
    write_mimic3(tmp_path)
    rows = hand_stay_rows()
    rows[0]["Heart Rate"] = "1l0"
    write_stay_csv(_stay_path(tmp_path), rows)
    with pytest.raises(DataError, match=r"column 'Heart Rate' holds '1l0', not a number"):
        load_mimic3(tmp_path)


def test_error_unknown_category(tmp_path: Path) -> None:
    write_mimic3(tmp_path)
    rows = hand_stay_rows()
    rows[1]["Glascow coma scale eye opening"] = "5 Winks"
    write_stay_csv(_stay_path(tmp_path), rows)
    with pytest.raises(DataError, match=r"holds '5 Winks', not one of the benchmark's 8 categories"):
        load_mimic3(tmp_path)


def test_numeric_spelling_of_category_is_accepted(tmp_path: Path) -> None:
    write_mimic3(tmp_path)
    rows = hand_stay_rows()
    rows[3]["Glascow coma scale total"] = "14.0"
    rows[4]["Capillary refill rate"] = "1"
    write_stay_csv(_stay_path(tmp_path), rows)
    ds = load_mimic3(tmp_path)
    assert _raw(ds, "12797_episode1", "Glascow coma scale total->14")[3] == 1.0
    assert _raw(ds, "12797_episode1", "Capillary refill rate->1.0")[9] == 1.0


def test_error_all_stays_lacks_column(tmp_path: Path) -> None:
    write_mimic3(tmp_path)
    path = tmp_path / "root" / "all_stays.csv"
    path.write_text(path.read_text().replace("ETHNICITY", "ETHNIC", 1))
    with pytest.raises(DataError, match=r"all_stays .* lacks column\(s\) \['ETHNICITY'\]"):
        load_mimic3(tmp_path)


def test_error_given_all_stays_does_not_exist(tmp_path: Path) -> None:
    write_mimic3(tmp_path)
    with pytest.raises(DataError, match=r"all_stays file .* does not exist"):
        load_mimic3(tmp_path, all_stays=tmp_path / "nope.csv")


def test_error_duplicate_stay(tmp_path: Path) -> None:
    write_mimic3(tmp_path)
    path = tmp_path / "in-hospital-mortality" / "test" / "listfile.csv"
    path.write_text(path.read_text() + "12797_episode1_timeseries.csv,0\n")
    with pytest.raises(DataError, match=r"is listed twice across the listfiles"):
        load_mimic3(tmp_path)


def test_error_bad_val_fraction(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"val_fraction must be in \(0, 1\)"):
        load_mimic3(tmp_path, val_fraction=1.5)


def test_error_binary_stay_csv(tmp_path: Path) -> None:
    write_mimic3(tmp_path)
    _stay_path(tmp_path).write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x00")
    with pytest.raises(DataError, match=r"stay file .* is corrupt \("):
        load_mimic3(tmp_path)


def test_save_round_trip_and_registry(tmp_path: Path) -> None:
    from fairssl.data.dataset import WindowDataset
    from fairssl.data.loaders import load_dataset

    write_mimic3(tmp_path / "data")
    ds = load_dataset("mimic3", tmp_path / "data", seed=1)
    again = WindowDataset.load(ds.save(tmp_path / "saved"))
    np.testing.assert_array_equal(again.X, ds.X)
    assert again.metadata().astype(str).equals(ds.metadata().astype(str))
    assert again.info["normalizer"] == ds.info["normalizer"]
