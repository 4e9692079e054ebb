"""PhysioNet/CinC Challenge 2012 loader on fixtures written here in the challenge's published format.

Format (physionet.org/content/challenge-2012): ``set-a/<RecordID>.txt`` with header ``Time,Parameter,Value``,
time ``HH:MM`` from ICU admission, the six general descriptors at 00:00 first (-1 = missing), and
``Outcomes-a.txt`` with ``RecordID,SAPS-I,SOFA,Length_of_stay,Survival,In-hospital_death``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fairssl.data.loaders import load_dataset
from fairssl.data.loaders.physionet2012 import VARIABLES, load_physionet2012
from fairssl.errors import ConfigError, DataError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "physionet2012.toml"
HAND_ID = "132539"


def write_record(
    folder: Path, rid: int | str, *, age: float, gender: int, icu: int, rows: list[tuple[str, str, float]]
) -> None:
    """One record file exactly as published (descriptor block, then measurements)."""
    lines = ["Time,Parameter,Value", f"00:00,RecordID,{rid}", f"00:00,Age,{age:g}", f"00:00,Gender,{gender}"]
    lines += ["00:00,Height,-1", f"00:00,ICUType,{icu}", "00:00,Weight,-1"]
    lines += [f"{t},{name},{value:g}" for t, name, value in rows]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{rid}.txt").write_text("\n".join(lines) + "\n")


def write_outcomes(path: Path, labels: dict[str, int]) -> None:
    body = ["RecordID,SAPS-I,SOFA,Length_of_stay,Survival,In-hospital_death"]
    body += [f"{rid},15,4,7,-1,{y}" for rid, y in labels.items()]
    path.write_text("\n".join(body) + "\n")


# the hand-checked record: HR at 00:07, 00:45 and 01:00 all fall in bin 0 (bin k holds (k, k+1] hours),
# the last (100) wins; 02:30 -> bin 2; 48:00 -> bin 47; 49:00 is after the window. Temp first at 03:10
# -> bin 3, bins 0-2 take the training median. The Weight row at 05:00 is a measurement (bin 4).
HAND_ROWS = [
    ("00:07", "HR", 80.0),
    ("00:45", "HR", 90.0),
    ("01:00", "HR", 100.0),
    ("02:30", "HR", 70.0),
    ("03:10", "Temp", 37.0),
    ("05:00", "Weight", 80.0),
    ("48:00", "HR", 60.0),
    ("49:00", "HR", 1.0),
]


def make_challenge(
    root: Path, *, n: int = 40, seed: int = 0, hr_shift: dict[str, float] | None = None
) -> dict:
    """A set-a with one hand-made record and ``n - 1`` random ones; returns per-record truth."""
    rng = np.random.default_rng(seed)
    shift = hr_shift or {}
    labels: dict[str, int] = {HAND_ID: 1}
    truth: dict[str, dict[str, Any]] = {HAND_ID: {"temp": 37.0, "sex": "missing", "age": ">=65"}}
    write_record(root / "set-a", HAND_ID, age=70, gender=-1, icu=3, rows=HAND_ROWS)
    for i in range(n - 1):
        rid = str(132540 + i)
        temp = float(np.round(rng.normal(37, 1), 1))
        hr = float(np.round(rng.normal(85, 10), 0)) + shift.get(rid, 0.0)
        rows = [("00:30", "HR", hr), (f"{rng.integers(1, 20):02d}:15", "Temp", temp), ("10:00", "HR", hr + 5)]
        gender = int(rng.integers(0, 2))
        age = float(rng.integers(20, 90))
        write_record(root / "set-a", rid, age=age, gender=gender, icu=int(rng.integers(1, 5)), rows=rows)
        labels[rid] = int(i % 3 == 0)
        truth[rid] = {
            "temp": temp,
            "sex": ("female", "male")[gender],
            "age": ">=65" if age >= 65 else "<65",
            "hr": hr,
        }
    write_outcomes(root / "Outcomes-a.txt", labels)
    return {"labels": labels, "truth": truth}


@pytest.fixture
def challenge(tmp_path: Path) -> tuple[Path, dict]:
    return tmp_path, make_challenge(tmp_path)


def test_hand_record_bins_forward_fill_masks_label_and_attributes(challenge) -> None:
    root, made = challenge
    ds = load_physionet2012(root, scaling="none", channels=["HR", "Temp", "Weight"])
    assert ds.X.shape == (40, 6, 48)
    assert ds.channel_names == ("HR", "Temp", "Weight", "mask->HR", "mask->Temp", "mask->Weight")
    i = list(ds.window_id).index(HAND_ID)
    hr = np.full(48, 70.0)
    hr[:2] = 100.0
    hr[47] = 60.0
    np.testing.assert_array_equal(ds.X[i, 0], hr)
    train_temps = [made["truth"][r]["temp"] for r in ds.window_id[ds.split == "train"]]
    temp = np.full(48, 37.0)
    temp[:3] = np.median(train_temps)  # before the first observation: the training median
    np.testing.assert_allclose(ds.X[i, 1], temp, rtol=1e-6)
    assert ds.X[i, 2, 4] == 80.0 and ds.X[i, 2, 5:].tolist() == [80.0] * 43
    hr_mask = np.zeros(48)
    hr_mask[[0, 2, 47]] = 1
    np.testing.assert_array_equal(ds.X[i, 3], hr_mask)
    assert ds.X[i, 4].nonzero()[0].tolist() == [3] and ds.X[i, 5].nonzero()[0].tolist() == [4]
    assert ds.mask is not None and ds.mask[i, 0].tolist() == hr_mask.astype(bool).tolist()
    assert ds.mask[i, 3:].all()
    assert ds.y[i] == 1 and ds.info["n_rows_after_window"] == 1  # the 49:00 row
    assert ds.attributes.loc[HAND_ID, "sex"] == "missing" and ds.attributes.loc[HAND_ID, "age"] == ">=65"
    for rid in ds.window_id:
        assert ds.y[list(ds.window_id).index(rid)] == made["labels"][rid]
        assert ds.attributes.loc[rid, "sex"] == made["truth"][rid]["sex"]
        assert ds.attributes.loc[rid, "age"] == made["truth"][rid]["age"]


def test_default_channels_mask_off_and_icu_type(challenge) -> None:
    root, _ = challenge
    ds = load_physionet2012(root, mask=False, icu_type=True)
    assert ds.X.shape == (40, 36, 48) and ds.channel_names == VARIABLES and "Weight" not in VARIABLES
    assert ds.attributes.loc[HAND_ID, "icu_type"] == "medical"  # ICUType 3
    assert np.isfinite(ds.X).all()
    # a variable never observed in training is the scaled centre, 0, everywhere
    assert (ds.X[:, VARIABLES.index("Albumin")] == 0).all()


def test_split_is_subject_disjoint_and_stratified(challenge) -> None:
    root, made = challenge
    ds = load_physionet2012(root, fractions=(0.5, 0.25, 0.25), seed=3)
    assert sorted(ds.subject.tolist()) == sorted(made["labels"])  # one window per stay
    parts = {s: set(ds.subject[ds.split == s]) for s in ("train", "val", "test")}
    assert not (
        parts["train"] & parts["val"] or parts["train"] & parts["test"] or parts["val"] & parts["test"]
    )
    for s in ("train", "val", "test"):
        assert set(ds.y[ds.split == s]) == {0, 1}
    other = load_physionet2012(root, fractions=(0.5, 0.25, 0.25), seed=4)
    assert not np.array_equal(ds.split, other.split)


def test_scaling_uses_training_statistics_only(tmp_path: Path) -> None:
    make_challenge(tmp_path / "a")
    base = load_physionet2012(tmp_path / "a", channels=["HR"], mask=False)
    test_ids = set(base.window_id[base.split == "test"])
    shifted_root = tmp_path / "b"
    made = make_challenge(shifted_root, hr_shift={r: 50.0 for r in test_ids})
    shifted = load_physionet2012(shifted_root, channels=["HR"], mask=False)
    np.testing.assert_array_equal(shifted.split, base.split)  # same ids and labels -> same split
    train = base.split == "train"
    np.testing.assert_array_equal(shifted.X[train], base.X[train])  # train statistics unchanged
    # independent: the scale is the SD (ddof 0) of the observed training HR values (two per record)
    hr = [made["truth"][r]["hr"] for r in base.window_id[train] if r != HAND_ID]
    observed = np.concatenate(
        [hr, np.add(hr, 5), [100.0, 70.0, 60.0] if HAND_ID in base.window_id[train] else []]
    )
    test = (base.split == "test") & (base.window_id != HAND_ID)  # the hand record is not shifted
    np.testing.assert_allclose(shifted.X[test] - base.X[test], 50.0 / observed.std(), rtol=1e-5)
    assert shifted.info["scaling_scale"]["HR"] == pytest.approx(observed.std())


def test_errors_are_one_line(tmp_path: Path, challenge) -> None:
    root, _ = challenge
    with pytest.raises(DataError, match=r"outcomes file .*Outcomes-b.txt not found"):
        load_physionet2012(root, sets=("a", "b"))
    with pytest.raises(DataError, match="no record files"):
        load_physionet2012(root, sets=("b",), outcomes=root / "Outcomes-a.txt")
    write_record(root / "set-a", 999999, age=50, gender=1, icu=1, rows=[("01:00", "HR", 80.0)])
    with pytest.raises(DataError, match=r"record 999999 .* has no row in Outcomes-a.txt"):
        load_physionet2012(root)
    (root / "set-a" / "999999.txt").write_text("Time,Parameter,Value\n00:00,RecordID,999999\n01:00,HR\n")
    with pytest.raises(DataError, match=r"999999.txt:3: .* has 2 fields"):
        load_physionet2012(root)
    (root / "set-a" / "999999.txt").write_text("Time,Parameter,Value\n1h,HR,80\n")
    with pytest.raises(DataError, match="time '1h' is not HH:MM"):
        load_physionet2012(root)
    (root / "set-a" / "999999.txt").write_text("Time,Parameter,Value\n01:00,HR,high\n")
    with pytest.raises(DataError, match="value 'high' of 'HR' is not a number"):
        load_physionet2012(root)
    for bad, pattern in [
        ({"channels": ["HR", "Heart"]}, "unknown: \\['Heart'\\]"),
        ({"sets": ("d",)}, "sets = \\['d'\\]"),
        ({"bin_hours": 0}, "bin_hours"),
        ({"scaling": "minmax"}, "scaling"),
    ]:
        with pytest.raises(ConfigError, match=pattern):
            load_physionet2012(root, **bad)


def _example(path: Path) -> dict[str, Any]:
    raw = tomllib.loads(EXAMPLE.read_text())
    raw["data"]["path"] = str(path)
    raw["data"]["options"]["sets"] = ["a"]
    return raw


def test_example_data_section_loads_the_fixture(challenge) -> None:
    root, _ = challenge
    data = _example(root)["data"]
    ds = load_dataset(data["source"], data["path"], **data["options"])
    assert ds.X.shape == (40, 72, 48) and {"sex", "age", "icu_type"} <= set(ds.attributes.columns)


def test_example_config_loads_the_fixture(challenge) -> None:
    from fairssl.config import build_config

    root, _ = challenge
    cfg = build_config(_example(root))
    ds = load_dataset(cfg.data.source, cfg.data.path, **cfg.data.options)
    assert ds.X.shape == (40, 72, 48) and set(cfg.evaluation.attributes) <= set(ds.attributes.columns)


@pytest.mark.slow
def test_run_study_end_to_end_on_the_fixture(tmp_path: Path) -> None:
    from fairssl.config import build_config
    from fairssl.experiments.runner import run_study

    make_challenge(tmp_path / "p12", n=60)
    data: dict[str, Any] = {
        "source": "physionet2012",
        "path": str(tmp_path / "p12"),
        "options": {"hours": 24},
    }
    cfg = {
        "name": "p12-tiny",
        "seeds": [0],
        "data": data,
        "model": {"widths": [4, 4, 4], "kernels": [3, 3, 3], "padding": "same"},
        "pretrain": {"epochs": 1, "batch_size": 16},
        "finetune": {"epochs": 2, "batch_size": 16, "setups": ["supervised", "0"]},
        "evaluation": {"attributes": ["sex", "age"], "n_boot": 20, "min_group_size": 4, "min_subjects": 1,
                       "min_positives": 1},
        "similarity": {"n_draws": 1, "n_permutations": 1},
        "probes": {"n_boot": 5},
    }  # fmt: skip
    out = run_study(build_config(cfg), run_dir=tmp_path / "run", log=lambda _m: None)
    assert (out / "report.html").is_file() and (out / "results" / "summary.csv").is_file()
