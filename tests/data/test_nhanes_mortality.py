"""NHANES mortality label from the NCHS Linked Mortality File, on .dat fixtures in the 2019 public-use layout.

The layout (1-based columns): SEQN 1-14 (digits in 1-6), ELIGSTAT 15, MORTSTAT 16, UCOD_LEADING 17-19,
DIABETES 20, HYPERTEN 21, blank 22-42, PERMTH_INT 43-45, PERMTH_EXM 46-48 (NCHS's
R_ReadInProgramAllSurveys.R, May 2022). Missing fields are blank or ".".
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from fairssl.data.audit import audit
from fairssl.data.loaders import load_dataset
from fairssl.data.loaders.nhanes import load_nhanes
from fairssl.data.loaders.nhanes_mortality import mortality_file_name, mortality_labels, read_mortality
from fairssl.errors import ConfigError, DataError

if str(Path(__file__).parent) not in sys.path:  # --import-mode=importlib: make the fixture writers importable
    sys.path.insert(0, str(Path(__file__).parent))
from test_nhanes import make_nhanes

LMF = "NHANES_2005_2006_MORT_2019_PUBLIC.dat"


def lmf_line(
    seqn: int, elig: str, mort: str = " ", ucod: str = "   ", diab: str = " ", hyp: str = " ",
    pint: str = "   ", pexm: str = "   ",
) -> str:  # fmt: skip
    """One record, each field placed at its columns (fields given as the file's text)."""
    line = f"{seqn:<14d}{elig}{mort}{ucod:>3}{diab}{hyp}" + " " * 21 + f"{pint:>3}{pexm:>3}"
    assert len(line) == 48 and line[14] == elig and line[42:45] == f"{pint:>3}"
    return line


# SEQN -> (line, label, reason) for horizon 120 months, hand-checked against the rules of the docstring
HAND = {
    1: ("1             11001" + "01" + " " * 21 + "061060", 1, ""),  # died at 60 months, heart disease
    2: (lmf_line(2, "1", "1", "002", "0", "0", "121", "120"), 1, ""),  # died at exactly the horizon
    3: (lmf_line(3, "1", "1", "010", "1", "0", "122", "121"), 0, ""),  # died a month after it: alive at 120
    4: (lmf_line(4, "1", "0", pint="151", pexm="150"), 0, ""),  # alive, followed 150 months
    5: (lmf_line(5, "1", "0", pint="120", pexm="120"), 0, ""),  # alive, followed exactly 120 months
    6: (lmf_line(6, "1", "0", pint="101", pexm="100"), -1, "censored"),  # alive, lost after 100 months
    7: (lmf_line(7, "2"), -1, "ineligible"),  # under 18: blank mortality fields
    8: (lmf_line(8, "3", "."), -1, "ineligible"),  # ineligible, "." as the R program's na
    9: (lmf_line(9, "1", "0", pint="150"), -1, "no_follow_up"),  # no exam: PERMTH_EXM blank
}


def test_reader_takes_each_field_from_its_columns(tmp_path: Path) -> None:
    f = tmp_path / LMF
    f.write_text("\n".join(line for line, _, _ in HAND.values()) + "\n")
    table = read_mortality(f).set_index("SEQN")
    assert list(table.index) == list(HAND)
    row = table.loc[1]  # the literal line: 1 | 1 1 001 0 1 | 061 060
    assert (row["ELIGSTAT"], row["MORTSTAT"], row["UCOD_LEADING"], row["DIABETES"], row["HYPERTEN"]) == (
        1,
        1,
        1,
        0,
        1,
    )
    assert (row["PERMTH_INT"], row["PERMTH_EXM"]) == (61, 60)
    assert table.loc[3, "UCOD_LEADING"] == 10 and table.loc[3, "DIABETES"] == 1
    assert np.isnan(table.loc[7, "MORTSTAT"]) and np.isnan(table.loc[8, "MORTSTAT"])
    assert np.isnan(table.loc[9, "PERMTH_EXM"]) and table.loc[9, "PERMTH_INT"] == 150


def test_labels_and_exclusion_reasons_at_the_horizon(tmp_path: Path) -> None:
    f = tmp_path / LMF
    f.write_text("\r\n".join(line for line, _, _ in HAND.values()))  # CRLF, no final newline: same
    label, reason = mortality_labels(read_mortality(f), horizon_months=120)
    assert label.to_dict() == {s: y for s, (_, y, _) in HAND.items()}
    assert reason.to_dict() == {s: r for s, (_, _, r) in HAND.items()}
    shorter, _ = mortality_labels(read_mortality(f), horizon_months=60)
    assert (
        shorter[1] == 1 and shorter[2] == 0 and shorter[6] == 0
    )  # 100 months alive: past a 60-month horizon


def test_reader_and_horizon_errors(tmp_path: Path) -> None:
    f = tmp_path / LMF
    f.write_text(lmf_line(1, "1", "0", pexm="150") + "\nSEQN          ELIGSTAT\n")
    with pytest.raises(DataError, match=r"line 2: SEQN .* not an integer"):
        read_mortality(f)
    f.write_text(lmf_line(1, "1", "x", pexm="150") + "\n")
    with pytest.raises(DataError, match=r"line 1: MORTSTAT is 'x'.*columns 16-16"):
        read_mortality(f)
    f.write_text(lmf_line(1, "1", "0", pexm="150") + "\n" + lmf_line(1, "1", "0", pexm="150") + "\n")
    with pytest.raises(DataError, match="SEQN 1 appears more than once"):
        read_mortality(f)
    f.write_text(lmf_line(1, "1", "0", pexm="150") + "\n")
    with pytest.raises(ConfigError, match="horizon_months = 0 must be a whole number"):
        mortality_labels(read_mortality(f), horizon_months=0)
    assert mortality_file_name("d") == LMF
    with pytest.raises(ConfigError, match="cycle = 'Z' has no linked mortality file"):
        mortality_file_name("Z")


def write_outcomes(root: Path) -> dict[int, int]:
    """The LMF for make_nhanes' 24 participants; returns the expected label per SEQN (-1 excluded)."""
    lines, truth = [], {}
    for i in range(24):
        seqn = 31128 + i
        special = {
            31132: (lmf_line(seqn, "2"), -1),
            31133: (lmf_line(seqn, "3", "."), -1),
            31134: (lmf_line(seqn, "1", "0", pint="101", pexm="100"), -1),
            31135: (lmf_line(seqn, "1", "1", "002", "0", "0"), -1),
        }
        if seqn == 31136:
            truth[seqn] = -1  # not in the file
            continue
        if seqn in special:
            line, y = special[seqn]
        elif i % 3 == 0:
            line, y = lmf_line(seqn, "1", "1", "001", "0", "0", f"{31 + i}", f"{30 + i}"), 1
        else:
            line, y = lmf_line(seqn, "1", "0", pint="171", pexm="170"), 0
        lines.append(line)
        truth[seqn] = y
    (root / LMF).write_text("\n".join(lines) + "\n")
    return truth


def test_loader_mortality_label_needs_no_dpq_and_reports_exclusions(tmp_path: Path) -> None:
    make_nhanes(tmp_path)
    (tmp_path / "dpq_d.xpt").unlink()  # the depression screener is not needed for this label
    truth = write_outcomes(tmp_path)
    ds = load_nhanes(tmp_path, label="mortality", resolution="hour", scaling="none")
    with_days = set(truth) - {31129, 31130}  # their only calendar day is invalid / uncalibrated
    assert set(ds.subject) == {str(s) for s in with_days if truth[s] >= 0}
    for s, y in zip(ds.subject, ds.y, strict=True):
        assert y == truth[int(s)]
    assert ds.y.sum() > 0 and (ds.y == 0).sum() > 0
    info = ds.info
    assert (info["n_mortality_ineligible"], info["n_mortality_censored"]) == (2, 1)
    assert (info["n_mortality_no_follow_up"], info["n_mortality_not_in_file"]) == (1, 1)
    assert info["horizon_months"] == 120 and "within 120 months" in info["label"]
    text = audit(ds).summary_text()
    assert "5 of 22 participant(s)" in text and "ineligible 2, censored 1" in text

    pooled = load_dataset("nhanes", tmp_path, label="mortality", unlabelled="pool", scaling="none")
    pool = pooled.split == "pool"
    assert {s for s in pooled.subject[pool]} == {"31132", "31133", "31134", "31135", "31136"}
    assert (pooled.y[pool] == -1).all()


def test_loader_mortality_options_and_errors(tmp_path: Path) -> None:
    make_nhanes(tmp_path)
    truth = write_outcomes(tmp_path)
    elsewhere = tmp_path / "lmf" / "mort.dat"
    elsewhere.parent.mkdir()
    (tmp_path / LMF).rename(elsewhere)
    with pytest.raises(DataError, match=f"{LMF} not found in .*pass mortality_file="):
        load_nhanes(tmp_path, label="mortality")
    ds = load_nhanes(tmp_path, label="mortality", mortality_file=elsewhere, horizon_months=40, scaling="none")
    for s, y in zip(ds.subject, ds.y, strict=True):  # deaths at 30 + i months: within 40 only for i <= 10
        assert y == (truth[int(s)] == 1 and int(s) - 31128 <= 10)
    with pytest.raises(DataError, match=r"mortality_file = .* is not a file"):
        load_nhanes(tmp_path, label="mortality", mortality_file=tmp_path / "nope.dat")
    with pytest.raises(ConfigError, match="label = 'death' must be 'depression'"):
        load_nhanes(tmp_path, label="death")
    with pytest.raises(ConfigError, match=r"horizon_months = 12\.5 must be a whole number"):
        load_nhanes(tmp_path, label="mortality", horizon_months=12.5)  # type: ignore[arg-type]


def test_the_mortality_example_loads_the_fixture_through_the_config(tmp_path: Path) -> None:
    import tomllib

    from fairssl.config import build_config
    from fairssl.loader_options import check_loader_options

    make_nhanes(tmp_path)
    (tmp_path / "dpq_d.xpt").unlink()
    truth = write_outcomes(tmp_path)
    example = Path(__file__).resolve().parents[2] / "examples" / "nhanes_mortality.toml"
    raw = tomllib.loads(example.read_text())
    raw["data"]["path"] = str(tmp_path)
    cfg = build_config(raw)
    check_loader_options(cfg)
    ds = load_dataset(cfg.data.source, cfg.data.path, **cfg.data.options)
    assert ds.X.shape[1:] == (1, 24) and ds.info["horizon_months"] == 120
    assert all(y == truth[int(s)] for s, y in zip(ds.subject, ds.y, strict=True))
