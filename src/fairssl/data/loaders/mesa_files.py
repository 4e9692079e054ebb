"""MESA task-1 files: reading the benchmark's split files, combined or per-user task-1 files and raw
actigraphy with a label file into one table ``mesaid, key, gt, excluded, <5 channels>, source``.

Epochs whose actigraphy ``interval`` is ``EXCLUDED`` are flagged (``excluded``) in every layout that
carries the column; :func:`fairssl.data.loaders.mesa.load_mesa` drops them, as the benchmark's
``sleep_misc.load_mesa_PSG`` does (``df[df["interval"] != "EXCLUDED"]``) when it builds its train/test
sets from the per-user files ``mesa_NNNN_task1.csv`` (which keep those rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairssl.errors import DataError

TASK_COLUMNS: tuple[str, ...] = (
    "mesaid",
    "linetime",
    "marker",
    "interval",
    "binterval",
    "gt",
    "gt_sleep_block",
    "wake",
    "activity",
    "whitelight",
    "redlight",
    "greenlight",
    "bluelight",
)
"""Columns of a sleep_awake_benchmark task-1 file."""

RAW_COLUMNS: tuple[str, ...] = (
    "mesaid",
    "line",
    "linetime",
    "offwrist",
    "activity",
    "marker",
    "whitelight",
    "redlight",
    "greenlight",
    "bluelight",
    "wake",
    "interval",
    "dayofweek",
    "daybymidnight",
    "daybynoon",
)
"""Columns of an NSRR raw actigraphy file ``mesa-sleep-NNNN.csv``."""

CHANNELS: tuple[str, ...] = ("activity", "whitelight", "redlight", "greenlight", "bluelight")
LIGHT_CHANNELS: tuple[str, ...] = CHANNELS[1:]

_SPLIT_FILES = ("dftrain_task1.csv", "dftest_task1.csv")
_TASK_NEEDED = ("mesaid", "linetime", "gt", *CHANNELS)
_RAW_NEEDED = ("mesaid", "line", *CHANNELS)
_TRUE = {"true", "1", "1.0"}
_FALSE = {"false", "0", "0.0"}
EXCLUDED = "EXCLUDED"
"""The actigraphy ``interval`` value of epochs the benchmark drops."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (messages stay one line)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


# ---------------------------------------------------------------- reading
def _header(path: Path) -> list[str]:
    try:
        frame = pd.read_csv(path, nrows=0)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(
            f"MESA file {path} could not be read ({first_line(exc)}); give an intact CSV"
        ) from None
    return [str(c).strip() for c in frame.columns]


def _check_columns(path: Path, needed: Sequence[str], what: str) -> None:
    header = _header(path)
    missing = [c for c in needed if c not in header]
    if missing:
        raise DataError(
            f"{what} {path} lacks column(s) {missing} (has {header[:8]}...); give sleep_awake_benchmark "
            f"task-1 files ({', '.join(TASK_COLUMNS)}) or raw mesa-sleep-NNNN.csv files with labels="
        )


def _read_csv(path: Path, columns: Sequence[str], what: str) -> pd.DataFrame:
    """The ``columns`` of one CSV, plus ``interval`` when the file has it (channels float64, others str)."""
    _check_columns(path, columns, what)
    wanted = {*columns, "interval"}
    dtypes: dict[str, Any] = {c: np.float64 for c in CHANNELS}
    dtypes.update({c: str for c in wanted if c not in CHANNELS})
    try:
        frame = pd.read_csv(
            path, usecols=lambda c: str(c).strip() in wanted, dtype=dtypes, keep_default_na=True
        )
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{what} {path} is truncated or corrupt ({first_line(exc)}); re-create it") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _excluded(frame: pd.DataFrame) -> np.ndarray:
    """True where the epoch's ``interval`` is EXCLUDED (all False when the file has no interval column)."""
    if "interval" not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return (frame["interval"].fillna("").astype(str).str.strip().str.upper() == EXCLUDED).to_numpy()


def _parse_mesaid(values: pd.Series, path: Path) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() | (numbers != np.round(numbers))
    if bad.any():
        raise DataError(
            f"{path}: mesaid {values[bad].iloc[0]!r} is not an integer id; the file is corrupt, re-create it"
        )
    return numbers.to_numpy(dtype=np.int64)


def _parse_gt(values: pd.Series, path: Path) -> np.ndarray:
    text = values.astype(str).str.strip().str.lower()
    is_true, is_false = text.isin(_TRUE), text.isin(_FALSE)
    bad = ~(is_true | is_false)
    if bad.any():
        raise DataError(
            f"{path}: gt holds {values[bad].iloc[0]!r}; gt must be True/False or 1/0 (1 = asleep by PSG)"
        )
    return is_true.to_numpy().astype(np.int64)


def _parse_linetime(values: pd.Series, path: Path) -> np.ndarray:
    text = values.astype(str).str.strip()
    times = pd.to_datetime(text, format="%Y-%m-%d %H:%M:%S", errors="coerce")
    if not times.isna().any():
        return times.to_numpy().astype("datetime64[ns]").astype(np.int64)
    times = pd.to_datetime(text, format="mixed", errors="coerce")
    has_date = text.str.contains(r"\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4}", regex=True)
    if times.isna().any() or not has_date.all():
        bad = text[times.isna() | ~has_date].iloc[0]
        raise DataError(
            f"{path}: linetime {bad!r} is not a date-time; task-1 files carry the benchmark's date-time "
            "linetime ('1900-01-01 23:00:30') so that epochs can be put in time order"
        )
    return times.to_numpy().astype("datetime64[ns]").astype(np.int64)


def _task_table(path: Path, source: str) -> tuple[pd.DataFrame, int]:
    """mesaid, time key, gt and the five channels of one task-1 file's kept epochs; the EXCLUDED count."""
    frame = _read_csv(path, _TASK_NEEDED, "task-1 file")
    excluded = _excluded(frame)
    incomplete = frame[["mesaid", "linetime", "gt"]].isna().any(axis=1).to_numpy() & ~excluded
    if incomplete.any():
        line = int(np.flatnonzero(incomplete)[0]) + 2  # 1-based, after the header
        raise DataError(
            f"task-1 file {path} line {line} has a blank mesaid, linetime or gt; the file is truncated or "
            "corrupt, re-create it"
        )
    frame = frame[~excluded]
    table = pd.DataFrame(
        {
            "mesaid": _parse_mesaid(frame["mesaid"], path),
            "key": _parse_linetime(frame["linetime"], path),
            "gt": _parse_gt(frame["gt"], path),
            **{c: frame[c].to_numpy(dtype=np.float64) for c in CHANNELS},
            "source": source,
        }
    )
    return table, int(excluded.sum())


def _raw_table(files: Sequence[Path], labels: Path) -> tuple[pd.DataFrame, int]:
    _check_columns(labels, ("mesaid", "line", "gt"), "label file")
    lab = pd.read_csv(labels, dtype=str)
    lab.columns = [str(c).strip() for c in lab.columns]
    lab_table = pd.DataFrame(
        {
            "mesaid": _parse_mesaid(lab["mesaid"], labels),
            "key": _parse_mesaid(lab["line"], labels),
            "gt": _parse_gt(lab["gt"], labels),
        }
    )
    if lab_table.duplicated(["mesaid", "key"]).any():
        raise DataError(f"label file {labels} lists a (mesaid, line) twice; give one label per epoch")
    parts = []
    for path in files:
        frame = _read_csv(path, _RAW_NEEDED, "actigraphy file")
        parts.append(
            pd.DataFrame(
                {
                    "mesaid": _parse_mesaid(frame["mesaid"], path),
                    "key": _parse_mesaid(frame["line"], path),
                    **{c: frame[c].to_numpy(dtype=np.float64) for c in CHANNELS},
                    "excluded": _excluded(frame),
                }
            )
        )
    raw = pd.concat(parts, ignore_index=True)
    table = raw.merge(lab_table, on=["mesaid", "key"], how="inner")
    n_excluded = int(table["excluded"].sum())
    table = table[~table["excluded"].to_numpy()].drop(columns="excluded").reset_index(drop=True)
    if table.empty:
        raise DataError(
            f"no (mesaid, line) of the actigraphy files has a label in {labels}; give the label file of "
            "these users"
        )
    table["source"] = ""
    return table, n_excluded


def _concat(parts: list[tuple[pd.DataFrame, int]]) -> tuple[pd.DataFrame, int]:
    return pd.concat([t for t, _ in parts], ignore_index=True), sum(n for _, n in parts)


def gather(root: Path, labels: str | Path | None) -> tuple[pd.DataFrame, str, int]:
    """The table of kept epochs (``mesaid, key, gt, <channels>, source``), the layout found and the
    number of EXCLUDED epochs dropped. ``key`` orders a user's epochs (linetime in ns, or the raw line)."""
    if root.is_file():
        table, n_excluded = _task_table(root, "")
        return table, "combined task-1 file", n_excluded
    if not root.is_dir():
        raise DataError(f"MESA root {root} does not exist; give the folder or file of the task-1 data")
    if all((root / f).is_file() for f in _SPLIT_FILES):
        table, n_excluded = _concat(
            [_task_table(root / f, s) for f, s in zip(_SPLIT_FILES, ("train", "test"), strict=True)]
        )
        return table, "benchmark dftrain_task1.csv / dftest_task1.csv", n_excluded
    for folder in (root, root / "task1", root / "datasets"):
        task_files = sorted(folder.glob("mesa_*.csv")) if folder.is_dir() else []
        if task_files:
            table, n_excluded = _concat([_task_table(p, "") for p in task_files])
            return table, f"per-user task-1 files in {folder}", n_excluded
    raw_files = sorted(root.glob("mesa-sleep-*.csv")) + sorted(root.glob("mesa-sleep-*.csv.gz"))
    if raw_files:
        if labels is None:
            raise DataError(
                f"{root} holds raw actigraphy files (mesa-sleep-NNNN.csv) but no labels; give labels=PATH, a "
                "CSV 'mesaid,line,gt' with the PSG label of each line"
            )
        labels_path = Path(labels)
        if not labels_path.is_file():
            raise DataError(f"label file {labels_path} does not exist; give the CSV 'mesaid,line,gt'")
        table, n_excluded = _raw_table(raw_files, labels_path)
        return table, "raw actigraphy + label file", n_excluded
    raise DataError(
        f"no MESA data under {root}: expected dftrain_task1.csv + dftest_task1.csv, mesa_NNNN[_task1].csv "
        "task-1 files or mesa-sleep-NNNN.csv actigraphy files"
    )
