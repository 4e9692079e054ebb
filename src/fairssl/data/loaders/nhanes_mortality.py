"""NCHS public-use Linked Mortality File (LMF) for NHANES: reading it and turning it into a label.

File: ``NHANES_<YYYY>_<YYYY>_MORT_2019_PUBLIC.dat`` (e.g. ``NHANES_2005_2006_MORT_2019_PUBLIC.dat``),
follow-up through 31 December 2019, fixed-width ASCII, one line per NHANES participant, from
https://ftp.cdc.gov/pub/Health_Statistics/NCHS/datalinkage/linked_mortality/ (public domain, no
credentials). Layout (1-based inclusive columns), :data:`LAYOUT`:

=============  =======  ==========================================================================
field          columns  values
=============  =======  ==========================================================================
SEQN           1-14     NHANES respondent id (digits in 1-6, blank 7-14)
ELIGSTAT       15       1 eligible, 2 under 18 (not released), 3 ineligible
MORTSTAT       16       0 assumed alive, 1 assumed deceased, blank/``.`` ineligible or under 18
UCOD_LEADING   17-19    underlying cause of death recode 1-10 (``001``-``010``), blank when alive
DIABETES       20       diabetes listed as a multiple cause of death (0/1), blank when alive
HYPERTEN       21       hypertension listed as a multiple cause of death (0/1), blank when alive
PERMTH_INT     43-45    whole months of follow-up from the interview date
PERMTH_EXM     46-48    whole months of follow-up from the mobile examination centre (MEC) date
=============  =======  ==========================================================================

Source of the layout, checked field by field: NCHS's own read-in program ``R_ReadInProgramAllSurveys.R``
("May 2022 ... public-use linked mortality follow-up through December 31, 2019", same folder as the
data), whose NHANES version reads ``seqn = c(1,6), eligstat = c(15,15), mortstat = c(16,16),
ucod_leading = c(17,19), diabetes = c(20,20), hyperten = c(21,21), permth_int = c(43,45),
permth_exm = c(46,48)`` with ``na = c("", ".")`` (a verbatim copy is kept in the public GitHub
repository nthng-quan/t2mt2d-intro-to-ml, commit 07dc54d066f2, file ``R_ReadInProgramAllSurveys.R``).
All positions of the issue's list agree with it except SEQN: the 2019 NHANES program reads SEQN from
columns 1-6; columns 1-14 are the NHIS ``PUBLICID`` field (and the NHANES field in the 2015 release),
and columns 7-14 are blank in the NHANES 2019 files, so reading 1-14 and stripping blanks gives the
same SEQN for both releases. Columns 22-42 (NHIS death quarter/year and weights) are blank for NHANES.

Label (:func:`mortality_labels`, time from the MEC exam, ``PERMTH_EXM``, since the accelerometer was
handed out at the exam), for a horizon of H months:

- 1: died (``MORTSTAT == 1``) with ``PERMTH_EXM <= H``;
- 0: alive at H: died after H (``PERMTH_EXM > H``) or alive and followed ``PERMTH_EXM >= H`` months;
- excluded (-1): ``ELIGSTAT != 1`` (*ineligible*), alive but followed fewer than H months
  (*censored*), or eligible without a known ``MORTSTAT``/``PERMTH_EXM`` (*no follow-up*).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fairssl.errors import ConfigError, DataError

LAYOUT: dict[str, tuple[int, int]] = {
    "SEQN": (1, 14),
    "ELIGSTAT": (15, 15),
    "MORTSTAT": (16, 16),
    "UCOD_LEADING": (17, 19),
    "DIABETES": (20, 20),
    "HYPERTEN": (21, 21),
    "PERMTH_INT": (43, 45),
    "PERMTH_EXM": (46, 48),
}
"""Field -> (first, last) column, 1-based and inclusive, as in NCHS's read-in programs."""
LINE_LENGTH = max(last for _, last in LAYOUT.values())
CYCLE_YEARS = {
    "A": "1999_2000",
    "B": "2001_2002",
    "C": "2003_2004",
    "D": "2005_2006",
    "E": "2007_2008",
    "F": "2009_2010",
    "G": "2011_2012",
    "H": "2013_2014",
    "I": "2015_2016",
    "J": "2017_2018",
}
"""NHANES cycle letter (file suffix, ``DEMO_D``) -> the years in the LMF file name."""
EXCLUSIONS = ("ineligible", "censored", "no_follow_up")


MORTALITY_URL = "https://ftp.cdc.gov/pub/Health_Statistics/NCHS/datalinkage/linked_mortality/"
"""NCHS's public folder of the linked mortality files (``<MORTALITY_URL><mortality_file_name(cycle)>``)."""


def mortality_file_name(cycle: str) -> str:
    """The NCHS file name of a cycle's LMF: ``"D"`` -> ``NHANES_2005_2006_MORT_2019_PUBLIC.dat``."""
    if cycle.upper() not in CYCLE_YEARS:
        raise ConfigError(
            f"cycle = {cycle!r} has no linked mortality file; choose one of {list(CYCLE_YEARS)}"
        )
    return f"NHANES_{CYCLE_YEARS[cycle.upper()]}_MORT_2019_PUBLIC.dat"


def find_mortality_file(root: Path, cycle: str, given: str | Path | None) -> Path:
    """``given`` when set (must exist), else the cycle's file in ``root`` (name matched in any case)."""
    if given is not None:
        path = Path(given)
        if not path.is_file():
            raise DataError(
                f"mortality_file = {str(path)!r} is not a file; give the path of the NCHS .dat file"
            )
        return path
    wanted = mortality_file_name(cycle)
    if root.is_dir():
        for candidate in root.iterdir():
            if candidate.name.lower() == wanted.lower():
                return candidate
    raise DataError(
        f"{wanted} not found in {root}; download it from {MORTALITY_URL} into that folder "
        "(`fairssl data download nhanes DIR` does) or pass mortality_file="
    )


def _field(lines: list[str], name: str) -> list[str]:
    first, last = LAYOUT[name]
    return [line[first - 1 : last].strip() for line in lines]


def _numbers(values: list[str], name: str, path: Path) -> np.ndarray:
    """Blank or ``.`` -> NaN; anything else must be an integer."""
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        if v in ("", "."):
            continue
        if not v.isdigit():
            raise DataError(
                f"{path} line {i + 1}: {name} is {v!r}, not a number; give the NCHS 2019 public-use "
                f"file as published (columns {LAYOUT[name][0]}-{LAYOUT[name][1]})"
            )
        out[i] = int(v)
    return out


def read_mortality(path: str | Path) -> pd.DataFrame:
    """The LMF as a table: one row per line, columns of :data:`LAYOUT` (SEQN int64, others float, NaN blank).

    Raises :class:`DataError` for an unreadable file, a line whose SEQN is not an integer, a repeated SEQN,
    or a field holding something other than digits, blank or ``.``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not a readable ASCII file ({exc}); give the NCHS .dat file") from None
    lines = [line.rstrip("\r").ljust(LINE_LENGTH) for line in text.split("\n") if line.strip()]
    if not lines:
        raise DataError(f"{path} holds no lines; give the complete NCHS linked mortality file")
    seqn = _field(lines, "SEQN")
    bad = [i for i, s in enumerate(seqn) if not s.isdigit()]
    if bad:
        raise DataError(
            f"{path} line {bad[0] + 1}: SEQN (columns 1-14) is {seqn[bad[0]]!r}, not an integer; "
            "this is not an NHANES linked mortality file in the 2019 public-use layout"
        )
    table = pd.DataFrame({"SEQN": np.array([int(s) for s in seqn], dtype=np.int64)})
    for name in LAYOUT:
        if name != "SEQN":
            table[name] = _numbers(_field(lines, name), name, path)
    repeated = table["SEQN"][table["SEQN"].duplicated()]
    if len(repeated):
        raise DataError(
            f"{path}: SEQN {int(repeated.iloc[0])} appears more than once; give the file as published"
        )
    return table


def check_horizon(horizon_months: int) -> None:
    """A horizon is a whole number of months >= 1 (:class:`ConfigError` otherwise)."""
    if isinstance(horizon_months, bool) or int(horizon_months) != horizon_months or horizon_months < 1:
        raise ConfigError(
            f"horizon_months = {horizon_months!r} must be a whole number of months >= 1 (e.g. 120)"
        )


def mortality_labels(table: pd.DataFrame, *, horizon_months: int) -> tuple[pd.Series, pd.Series]:
    """(label, reason) per SEQN: 1 died within ``horizon_months`` of the exam, 0 alive at it, -1 excluded.

    ``reason`` is ``""`` for a label and one of :data:`EXCLUSIONS` otherwise (see the module docstring).
    """
    check_horizon(horizon_months)
    elig = table["ELIGSTAT"].to_numpy(dtype=float)
    dead = table["MORTSTAT"].to_numpy(dtype=float)
    months = table["PERMTH_EXM"].to_numpy(dtype=float)
    eligible = elig == 1
    known = eligible & np.isin(dead, (0, 1)) & np.isfinite(months)
    died_within = known & (dead == 1) & (months <= horizon_months)
    alive_at = known & (
        ((dead == 1) & (months > horizon_months)) | ((dead == 0) & (months >= horizon_months))
    )
    censored = known & (dead == 0) & (months < horizon_months)
    label = np.where(died_within, 1, np.where(alive_at, 0, -1)).astype(np.int64)
    reason = np.where(
        ~eligible, "ineligible", np.where(censored, "censored", np.where(~known, "no_follow_up", ""))
    )
    index = table["SEQN"].to_numpy(np.int64)
    return pd.Series(label, index=index), pd.Series(reason, index=index)


__all__ = [
    "CYCLE_YEARS",
    "EXCLUSIONS",
    "LAYOUT",
    "MORTALITY_URL",
    "check_horizon",
    "find_mortality_file",
    "mortality_file_name",
    "mortality_labels",
    "read_mortality",
]
