"""NHANES accelerometry + PHQ-9 loader on SAS transport (XPORT v5) fixtures written here.

pandas reads XPORT but cannot write it, and neither pyreadstat nor xport is installed, so
:func:`write_xpt` writes the format from its public specification (SAS technical note TS-140): 80-byte
card images, the library/member/descriptor/namestr/observation header records, one 140-byte NAMESTR per
variable, numbers as 8-byte IBM System/370 floating point (missing = '.' then zero bytes).
"""

from __future__ import annotations

import struct
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fairssl.data.loaders import load_dataset
from fairssl.data.loaders.nhanes import load_nhanes
from fairssl.errors import ConfigError, DataError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "nhanes_depression.toml"
_STAMP = "01JAN07:00:00:00"


def _card(text: str) -> bytes:
    return text.ljust(80).encode("ascii")


def ibm_float(x: np.ndarray) -> np.ndarray:
    """(n,) float64 -> (n,) big-endian uint64 IBM 370 doubles: 0.fraction (56 bits) x 16^(exponent - 64)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros(x.shape, dtype=np.uint64)
    a = np.abs(x)
    nz = np.isfinite(x) & (a > 0)
    e = np.floor(np.log(a[nz]) / np.log(16.0)).astype(np.int64) + 1  # a = m * 16^e, m in [1/16, 1)
    m = a[nz] / 16.0 ** e.astype(float)
    e = np.where(m >= 1, e + 1, np.where(m < 1 / 16, e - 1, e))
    m = a[nz] / 16.0 ** e.astype(float)
    frac = np.round(m * 2.0**56).astype(np.uint64)
    over = frac >= np.uint64(2**56)
    frac = np.where(over, frac >> np.uint64(4), frac)
    e = np.where(over, e + 1, e)
    sign = (x[nz] < 0).astype(np.uint64) << np.uint64(63)
    out[nz] = sign | ((e + 64).astype(np.uint64) << np.uint64(56)) | frac
    out[np.isnan(x)] = np.uint64(0x2E) << np.uint64(56)
    return out.astype(">u8")


def write_xpt(path: Path, table: pd.DataFrame, name: str) -> None:
    """Write ``table`` (numeric columns) as a SAS XPORT v5 file holding one member ``name``."""
    cols = list(table.columns)
    out = [
        _card("HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!" + "0" * 30),
        _card("SAS     SAS     SASLIB  9.1     bsd4.2  " + " " * 24 + _STAMP),
        _card(_STAMP),
        _card("HEADER RECORD*******MEMBER  HEADER RECORD!!!!!!!000000000000000001600000000140"),
        _card("HEADER RECORD*******DSCRPTR HEADER RECORD!!!!!!!" + "0" * 30),
        _card("SAS     " + name.ljust(8) + "SASDATA 9.1     bsd4.2  " + " " * 24 + _STAMP),
        _card(_STAMP + " " * 16 + "".ljust(40) + "DATA    "),
        _card(f"HEADER RECORD*******NAMESTR HEADER RECORD!!!!!!!000000{len(cols):04d}" + "0" * 20),
    ]
    namestr = b"".join(
        struct.pack(
            ">hhhh8s40s8shhh2s8shhl52s",
            1,
            0,
            8,
            i + 1,
            c.encode().ljust(8),
            b" " * 40,
            b" " * 8,
            0,
            0,
            0,
            b"\0\0",
            b" " * 8,
            0,
            0,
            8 * i,
            b"\0" * 52,
        )
        for i, c in enumerate(cols)
    )
    data = np.stack([ibm_float(table[c].to_numpy(dtype=float)) for c in cols], axis=1).astype(">u8").tobytes()
    with path.open("wb") as f:
        f.write(b"".join(out))
        f.write(namestr.ljust(-(-len(namestr) // 80) * 80, b" "))
        f.write(_card("HEADER RECORD*******OBS     HEADER RECORD!!!!!!!" + "0" * 30))
        f.write(data.ljust(-(-len(data) // 80) * 80, b" "))


def counts(paxn: np.ndarray, seqn: int) -> np.ndarray:
    """The activity count of minute ``paxn`` of participant ``seqn`` (the fixture's ground truth)."""
    return ((paxn * 7 + seqn) % 50).astype(float)


def make_nhanes(root: Path, *, n: int = 24, shift: dict[int, float] | None = None) -> dict[str, Any]:
    """PAXRAW/DEMO/DPQ for ``n`` participants (SEQN 31128 + i) with known days, labels and attributes.

    Participant i starts at clock minute ``(i * 97) % 1440`` and wears the monitor 1,440 * 2 + 300
    minutes: complete days are those fully inside. SEQN 31128 starts at 12:00 (the hand-checked one),
    SEQN 31129 has one PAXSTAT = 2 minute on its day 1, SEQN 31130 is uncalibrated (PAXCAL = 2),
    SEQN 31131 refused a PHQ item (7): unlabelled.
    """
    rng = np.random.default_rng(0)
    pax, demo, dpq, truth = [], [], [], {}
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        seqn = 31128 + i
        m0 = 720 if i == 0 else (i * 97) % 1440
        paxn = np.arange(1, 2 * 1440 + 301)
        clock = (m0 + paxn - 1) % 1440
        stat = np.ones(len(paxn))
        if i == 1:
            stat[1440 - m0 + 100] = 2  # minute 100 of calendar day 1
        inten = counts(paxn, seqn) + (shift or {}).get(seqn, 0.0)
        pax.append(
            pd.DataFrame(
                {
                    "SEQN": seqn,
                    "PAXSTAT": stat,
                    "PAXCAL": 2.0 if i == 2 else 1.0,
                    "PAXDAY": 1 + ((m0 + paxn - 1) // 1440) % 7,
                    "PAXN": paxn,
                    "PAXHOUR": clock // 60,
                    "PAXMINUT": clock % 60,
                    "PAXINTEN": inten,
                    "PAXSTEP": inten // 10,
                }
            )
        )
        items = rng.integers(0, 4, size=9).astype(float) if i % 2 else np.zeros(9)
        if i == 3:
            items[4] = 7
        dpq.append([seqn, *items])
        sex, age, race, pir = 1 + i % 2, 20 + 3 * i, 1 + i % 5, [0.5, 2.0, np.nan][i % 3]
        demo.append([seqn, sex, age, race, pir])
        total = items.sum()
        truth[seqn] = {
            "m0": m0,
            "y": -1 if i == 3 else int(total >= 10),
            "sex": ("male", "female")[sex - 1],
            "age": ">=65" if age >= 65 else "<65",
            "race": ["mexican_american", "other_hispanic", "non_hispanic_white", "non_hispanic_black",
                     "other_or_multiracial"][race - 1],
            "income": ["<1.3", ">=1.3", "missing"][i % 3],
        }  # fmt: skip
    write_xpt(root / "PAXRAW_D.XPT", pd.concat(pax, ignore_index=True), "PAXRAW_D")
    write_xpt(root / "DEMO_D.XPT", pd.DataFrame(demo, columns=["SEQN", "RIAGENDR", "RIDAGEYR", "RIDRETH1",
                                                              "INDFMPIR"]), "DEMO_D")  # fmt: skip
    cols = ["SEQN", *[f"DPQ0{k}0" for k in range(1, 10)]]
    write_xpt(root / "dpq_d.xpt", pd.DataFrame(dpq, columns=cols), "DPQ_D")  # lower case: still found
    return truth


def expected_days(m0: int, n_minutes: int = 2 * 1440 + 300) -> list[int]:
    """Calendar days (0 = the start day) whose 1,440 clock minutes all lie inside the recording."""
    return [k for k in range(4) if k * 1440 - m0 >= 0 and (k + 1) * 1440 - m0 <= n_minutes]


@pytest.fixture
def nhanes(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    return tmp_path, make_nhanes(tmp_path)


def test_xpt_writer_round_trips_through_pandas(tmp_path: Path) -> None:
    values = [1.0, -2.5, np.nan, 1440.0, 0.1, 1e10, 3.3e-5, 0.0]
    write_xpt(tmp_path / "t.xpt", pd.DataFrame({"A": values, "B": np.arange(8.0)}), "T")
    back = pd.read_sas(tmp_path / "t.xpt", format="xport")
    np.testing.assert_allclose(back["A"].to_numpy()[:7], values[:7], rtol=1e-14)
    assert 0 < back["A"].iloc[7] < 1e-78  # pandas decodes the zero card as 16**-65: the loader maps it to 0
    assert back["B"].tolist()[1:] == list(range(1, 8))


def test_day_windows_clock_alignment_validity_labels_and_attributes(nhanes) -> None:
    root, truth = nhanes
    ds = load_nhanes(root, scaling="none", transform="none", chunksize=5000)  # chunks split participants
    expected = {
        f"{s}_d{k}"
        for s, t in truth.items()
        if s not in (31129, 31130, 31131)
        for k in expected_days(t["m0"])
    }
    assert set(ds.window_id) == expected and ds.X.shape == (len(expected), 1, 1440)
    i = list(ds.window_id).index("31128_d1")  # starts at 12:00: its day 1 begins at minute 721
    np.testing.assert_array_equal(ds.X[i, 0], counts(np.arange(721, 721 + 1440), 31128))
    for w, s, y in zip(ds.window_id, ds.subject, ds.y, strict=True):
        assert w.startswith(s) and y == truth[int(s)]["y"]
        for attribute in ("sex", "age", "race", "income"):
            assert ds.attributes.loc[w, attribute] == truth[int(s)][attribute]


def test_hour_resolution_log1p_and_step_channel(nhanes) -> None:
    root, _ = nhanes
    ds = load_nhanes(root, resolution="hour", channels=["PAXINTEN", "PAXSTEP"], scaling="none")
    i = list(ds.window_id).index("31128_d1")
    minutes = counts(np.arange(721, 721 + 1440), 31128).reshape(24, 60)
    np.testing.assert_allclose(ds.X[i, 0], np.log1p(minutes.sum(axis=1)), rtol=1e-6)
    np.testing.assert_allclose(ds.X[i, 1], np.log1p((minutes // 10).sum(axis=1)), rtol=1e-6)
    assert ds.channel_names == ("PAXINTEN", "PAXSTEP")


def test_unlabelled_participants_can_form_the_pool(nhanes) -> None:
    root, truth = nhanes
    ds = load_nhanes(root, unlabelled="pool")
    pooled = ds.split == "pool"
    assert set(ds.subject[pooled]) == {"31131"} and (ds.y[pooled] == -1).all()
    assert len(ds.window_id[pooled]) == len(expected_days(truth[31131]["m0"]))


def test_split_is_subject_disjoint_and_scaling_uses_training_statistics_only(tmp_path: Path) -> None:
    make_nhanes(tmp_path / "a")
    base = load_nhanes(tmp_path / "a", transform="none")
    parts = {s: set(base.subject[base.split == s]) for s in ("train", "val", "test")}
    assert not (
        parts["train"] & parts["val"] or parts["train"] & parts["test"] or parts["val"] & parts["test"]
    )
    test_subjects = {int(s) for s in parts["test"]}
    make_nhanes(tmp_path / "b", shift={s: 1000.0 for s in test_subjects})
    shifted = load_nhanes(tmp_path / "b", transform="none")
    np.testing.assert_array_equal(shifted.split, base.split)
    train, test = base.split == "train", base.split == "test"
    np.testing.assert_array_equal(shifted.X[train], base.X[train])
    raw = load_nhanes(tmp_path / "a", transform="none", scaling="none")
    sd = raw.X[train].std()  # independent: SD (ddof 0) of every training minute
    assert base.info["scaling_centre"]["PAXINTEN"] == pytest.approx(raw.X[train].mean(), rel=1e-6)
    assert base.info["scaling_scale"]["PAXINTEN"] == pytest.approx(sd, rel=1e-6)
    np.testing.assert_allclose(shifted.X[test] - base.X[test], 1000.0 / sd, rtol=1e-4)


def test_errors_are_one_line(nhanes) -> None:
    root, _ = nhanes
    with pytest.raises(DataError, match=r"PAXRAW_C.XPT not found in"):
        load_nhanes(root, cycle="C")
    for bad, pattern in [
        ({"resolution": "second"}, "resolution"),
        ({"channels": ["PAXDAY"]}, "PAXINTEN and/or PAXSTEP"),
        ({"unlabelled": "keep"}, "unlabelled"),
        ({"phq_cutoff": 30}, "phq_cutoff"),
        ({"transform": "sqrt"}, "transform"),
    ]:
        with pytest.raises(ConfigError, match=pattern):
            load_nhanes(root, **bad)
    write_xpt(root / "DEMO_D.XPT", pd.DataFrame({"SEQN": [1.0], "RIAGENDR": [1.0]}), "DEMO_D")
    with pytest.raises(DataError, match=r"DEMO_D.XPT lacks column\(s\) \['RIDAGEYR'"):
        load_nhanes(root)
    (root / "DEMO_D.XPT").write_text("not a transport file")
    with pytest.raises(DataError, match="not a readable SAS transport file"):
        load_nhanes(root)


def _example(path: Path) -> dict[str, Any]:
    raw = tomllib.loads(EXAMPLE.read_text())
    raw["data"]["path"] = str(path)
    return raw


def test_example_data_section_loads_the_fixture(nhanes) -> None:
    root, _ = nhanes
    data = _example(root)["data"]
    ds = load_dataset(data["source"], data["path"], **data["options"])
    assert ds.X.shape[1:] == (1, 24) and {"sex", "age", "race", "income"} <= set(ds.attributes.columns)


def test_example_config_loads_the_fixture(nhanes) -> None:
    from fairssl.config import build_config

    root, _ = nhanes
    cfg = build_config(_example(root))
    ds = load_dataset(cfg.data.source, cfg.data.path, **cfg.data.options)
    assert set(cfg.evaluation.attributes) <= set(ds.attributes.columns)
