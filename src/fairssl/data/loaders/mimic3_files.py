"""MIMIC-III benchmark files: finding the in-hospital-mortality folder, reading its listfiles and
per-stay CSVs with one-line errors for a missing, truncated or corrupt file, and reading the MIMIC-III
tables (``all_stays.csv``, ``ADMISSIONS.csv``) with their required columns checked.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from fairssl.data.loaders.mimic3_encoding import STAY_COLUMNS
from fairssl.errors import DataError

LISTFILE_HEADER = ["stay", "y_true"]
STAY_RE = re.compile(r"^(\d+)_episode(\d+)_")
"""A stay file name ``SUBJECT_episodeK_timeseries.csv``: groups (subject id, episode number)."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (messages stay one line)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def read_listfile(path: Path) -> list[tuple[str, int]]:
    """``(stay file name, y_true)`` per line of a benchmark listfile (header ``stay,y_true``, y in 0/1)."""
    if not path.is_file():
        raise DataError(
            f"listfile {path} not found; point root at the mimic3-benchmarks data folder that holds "
            "in-hospital-mortality/{train,test}/listfile.csv"
        )
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip() for h in header] != LISTFILE_HEADER:
            got = ",".join(header) if header else "an empty file"
            raise DataError(
                f"listfile {path} has header {got!r}, expected 'stay,y_true'; give the "
                "in-hospital-mortality listfile of mimic3-benchmarks"
            )
        entries: list[tuple[str, int]] = []
        for lineno, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != 2 or row[1].strip() not in ("0", "1"):
                raise DataError(
                    f"listfile {path} line {lineno} is {','.join(row)!r}, expected 'STAY_CSV,0' or "
                    "'STAY_CSV,1'; the file is corrupt, re-create it with the benchmark"
                )
            entries.append((row[0].strip(), int(row[1])))
    return entries


def read_stay(path: Path) -> tuple[list[str], list[list[str]]]:
    """``(header, rows)`` of a per-stay CSV: the stripped header (``Hours`` and the 17 variables, any
    order) and the raw string cells of every row ('' = not recorded)."""
    if not path.is_file():
        raise DataError(
            f"stay file {path} listed in the listfile does not exist; copy the full benchmark folder or "
            "remove the stay from the listfile"
        )
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(
            f"stay file {path} is corrupt ({first_line(exc)}); re-create it with the benchmark"
        ) from None
    if not rows:
        raise DataError(f"stay file {path} is empty (no header); the file is truncated, re-create it")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in STAY_COLUMNS if c not in header]
    unknown = [c for c in header if c not in STAY_COLUMNS]
    if unknown or len(set(header)) != len(header):
        raise DataError(
            f"stay file {path} has unknown or repeated column(s) {unknown or header}; a stay CSV holds "
            "exactly Hours and the 17 benchmark variables"
        )
    if missing:
        raise DataError(
            f"stay file {path} lacks column(s) {missing}; a stay CSV holds Hours and the 17 benchmark "
            "variables: re-create it with the benchmark"
        )
    body = rows[1:]
    for lineno, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise DataError(
                f"stay file {path} is truncated or corrupt: line {lineno} has {len(row)} fields, expected "
                f"{len(header)}; re-create it with the benchmark"
            )
    return header, body


def find_ihm_dir(root: Path) -> Path:
    """The in-hospital-mortality folder (holding ``train/`` and ``test/``): ``root`` itself or below it."""
    if not root.is_dir():
        raise DataError(f"MIMIC-III root {root} is not a folder; give the mimic3-benchmarks data folder")
    for candidate in (root / "in-hospital-mortality", root):
        if (candidate / "train").is_dir() and (candidate / "test").is_dir():
            return candidate
    raise DataError(
        f"no in-hospital-mortality/train and test folders under {root}; point root at the "
        "mimic3-benchmarks data folder (created by its create_in_hospital_mortality.py)"
    )


def subject_of(stay: str, listfile: Path) -> tuple[str, int]:
    """``(subject id, episode number)`` of a stay file name ``SUBJECT_episodeK_timeseries.csv``."""
    match = STAY_RE.match(stay)
    if match is None:
        raise DataError(
            f"stay {stay!r} in {listfile} is not named SUBJECT_episodeK_timeseries.csv; give the "
            "benchmark's listfile"
        )
    return match.group(1), int(match.group(2))


def find_file(given: str | Path | None, candidates: Sequence[Path], what: str) -> Path | None:
    """``given`` (which must exist), else the first existing ``candidates`` path, else None."""
    if given is not None:
        path = Path(given)
        if not path.is_file():
            raise DataError(f"{what} file {path} does not exist; give the path of the file or leave it None")
        return path
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def read_table(path: Path, required: Sequence[str], what: str) -> pd.DataFrame:
    """A MIMIC-III CSV as strings (no NaN conversion), column names stripped and upper-cased; the
    ``required`` columns must be present."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{what} {path} could not be read ({first_line(exc)}); give an intact CSV") from None
    table.columns = [str(c).strip().upper() for c in table.columns]
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise DataError(
            f"{what} {path} lacks column(s) {missing}; give the file with its original MIMIC-III header"
        )
    return table
