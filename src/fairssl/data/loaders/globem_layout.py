"""GLOBEM release layout: institute-year folders, daily feature files, label files, the deep-model features.

Folders under ``root``: the full release's ``INS-W_1`` .. ``INS-W_4`` or the GitHub sample's
``INS-W-sample_1`` .. ``INS-W-sample_4`` (when both are present the full release is used). Each holds
``FeatureData/*.csv`` and ``SurveyData/{dep_weekly,dep_endterm}.csv`` indexed by ``pid,date``, and
``ParticipantsInfoData/`` (``platform.csv``; ``demographics.csv`` when released on request).
A folder's *year key* is ``INS-W_k`` for both spellings: the key GLOBEM's
``data/additional_user_setup/overlapping_pids.json`` uses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairssl.errors import ConfigError, DataError

FEATURE_FILES: tuple[str, ...] = (
    "rapids",
    "location",
    "screen",
    "call",
    "bluetooth",
    "steps",
    "sleep",
    "wifi",
)
"""Feature files looked for in ``FeatureData/`` (in this order; a column already read is not read again)."""

LABELS: tuple[str, ...] = ("dep_weekly", "dep_endterm")
"""Label files of ``SurveyData/``: weekly (post + EMA surveys) or end-of-term (post survey) depression."""

# GLOBEM's deep models' input features: `feature_list_more_feat_types` of config/dl_feat_prep.yaml in
# github.com/UW-EXP/GLOBEM (selected because config/global_config.yaml sets flag_more_feat_types: True;
# read by data_loader/data_loader_dl.py, dl_feat_preparation). 33 raw features + 21 `_norm` features.
DL_FEATURES: tuple[str, ...] = (
    "f_screen:phone_screen_rapids_countepisodeunlock_locmap_exercise:afternoon",
    "f_screen:phone_screen_rapids_countepisodeunlock_locmap_greens:night",
    "f_screen:phone_screen_rapids_firstuseafter00unlock_locmap_exercise:allday",
    "f_screen:phone_screen_rapids_firstuseafter00unlock_locmap_exercise:night",
    "f_screen:phone_screen_rapids_firstuseafter00unlock_locmap_home:night",
    "f_screen:phone_screen_rapids_maxdurationunlock_locmap_exercise:evening",
    "f_screen:phone_screen_rapids_maxdurationunlock_locmap_greens:allday",
    "f_screen:phone_screen_rapids_maxdurationunlock_locmap_greens:night",
    "f_screen:phone_screen_rapids_maxdurationunlock_locmap_home:night",
    "f_screen:phone_screen_rapids_maxdurationunlock_locmap_study:evening",
    "f_screen:phone_screen_rapids_mindurationunlock_locmap_exercise:evening",
    "f_screen:phone_screen_rapids_mindurationunlock_locmap_exercise:morning",
    "f_screen:phone_screen_rapids_stddurationunlock_locmap_exercise:evening",
    "f_screen:phone_screen_rapids_stddurationunlock_locmap_home:night",
    "f_screen:phone_screen_rapids_sumdurationunlock_locmap_exercise:night",
    "f_screen:phone_screen_rapids_sumdurationunlock_locmap_home:night",
    "f_screen:phone_screen_rapids_sumdurationunlock_locmap_living:night",
    "f_slp:fitbit_sleep_intraday_rapids_maxdurationasleepunifiedmain:night",
    "f_slp:fitbit_sleep_intraday_rapids_maxdurationawakeunifiedmain:night",
    "f_slp:fitbit_sleep_intraday_rapids_mindurationasleepunifiedmain:afternoon",
    "f_slp:fitbit_sleep_intraday_rapids_mindurationasleepunifiedmain:night",
    "f_slp:fitbit_sleep_intraday_rapids_sumdurationasleepunifiedmain:allday",
    "f_slp:fitbit_sleep_summary_rapids_avgdurationasleepmain:allday",
    "f_slp:fitbit_sleep_summary_rapids_avgdurationinbedmain:allday",
    "f_slp:fitbit_sleep_summary_rapids_lastbedtimemain:allday",
    "f_slp:fitbit_sleep_summary_rapids_sumdurationasleepmain:allday",
    "f_slp:fitbit_sleep_summary_rapids_sumdurationinbedmain:allday",
    "f_steps:fitbit_steps_intraday_rapids_countepisodesedentarybout:evening",
    "f_steps:fitbit_steps_intraday_rapids_maxdurationactivebout:morning",
    "f_steps:fitbit_steps_intraday_rapids_maxsteps:evening",
    "f_steps:fitbit_steps_intraday_rapids_mindurationactivebout:evening",
    "f_blue:phone_bluetooth_doryab_uniquedevicesown:night",
    "f_call:phone_calls_rapids_incoming_distinctcontacts:afternoon",
    "f_loc:phone_locations_doryab_locationentropy_norm:afternoon",
    "f_loc:phone_locations_doryab_loglocationvariance_norm:allday",
    "f_loc:phone_locations_doryab_minlengthstayatclusters_norm:afternoon",
    "f_loc:phone_locations_doryab_outlierstimepercent_norm:morning",
    "f_loc:phone_locations_doryab_radiusgyration_norm:allday",
    "f_screen:phone_screen_rapids_avgdurationunlock_locmap_exercise_norm:evening",
    "f_screen:phone_screen_rapids_avgdurationunlock_locmap_greens_norm:night",
    "f_screen:phone_screen_rapids_firstuseafter00unlock_locmap_exercise_norm:allday",
    "f_screen:phone_screen_rapids_maxdurationunlock_locmap_exercise_norm:afternoon",
    "f_screen:phone_screen_rapids_maxdurationunlock_locmap_exercise_norm:evening",
    "f_screen:phone_screen_rapids_maxdurationunlock_locmap_exercise_norm:night",
    "f_screen:phone_screen_rapids_maxdurationunlock_locmap_greens_norm:evening",
    "f_screen:phone_screen_rapids_sumdurationunlock_locmap_home_norm:morning",
    "f_slp:fitbit_sleep_intraday_rapids_maxdurationawakeunifiedmain_norm:afternoon",
    "f_slp:fitbit_sleep_intraday_rapids_ratiodurationasleepunifiedwithinmain_norm:afternoon",
    "f_slp:fitbit_sleep_intraday_rapids_ratiodurationawakeunifiedwithinmain_norm:afternoon",
    "f_steps:fitbit_steps_intraday_rapids_countepisodesedentarybout_norm:afternoon",
    "f_steps:fitbit_steps_intraday_rapids_maxdurationsedentarybout_norm:night",
    "f_steps:fitbit_steps_intraday_rapids_stdsteps_norm:morning",
    "f_blue:phone_bluetooth_doryab_countscansmostfrequentdeviceacrossdatasetown_norm:night",
    "f_call:phone_calls_rapids_outgoing_count_norm:afternoon",
)

_FOLDER_RE = re.compile(r"^INS-W(-sample)?_(\d+)$")
_UNNAMED_RE = re.compile(r"^(Unnamed: \d+|)$")
_TRUE = {"true", "1", "1.0"}
_FALSE = {"false", "0", "0.0"}


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (messages stay one line)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def year_of(folder: str) -> int:
    """The study year k of ``INS-W_k`` / ``INS-W-sample_k``."""
    match = _FOLDER_RE.match(folder)
    return int(match.group(2)) if match else 0


def year_key(folder: str) -> str:
    """``INS-W_k`` for either spelling: the key of GLOBEM's overlapping-pids file."""
    return f"INS-W_{year_of(folder)}"


def find_institutes(root: Path, institutes: Sequence[Any] | None) -> list[str]:
    """The institute-year folders to load, in year order (full release preferred over the sample)."""
    if not root.is_dir():
        raise DataError(f"GLOBEM root {root} is not a folder; give the folder holding INS-W_1 .. INS-W_4")
    found = [d.name for d in root.iterdir() if d.is_dir() and _FOLDER_RE.match(d.name)]
    full = [f for f in found if "-sample" not in f]
    found = sorted(full or found, key=year_of)
    if not found:
        raise DataError(
            f"no INS-W_k (or INS-W-sample_k) folders under {root}; give the GLOBEM folder holding them"
        )
    if institutes is None:
        return found
    by_year = {year_of(f): f for f in found}
    wanted: list[str] = []
    for value in institutes:
        name = by_year.get(int(value)) if isinstance(value, (int, np.integer)) else str(value).strip()
        if name is None or name not in found:
            raise ConfigError(
                f"institute-year(s) [{value!r}] not under {root}; available: {', '.join(found)}"
            )
        wanted.append(name)
    return sorted(set(wanted), key=year_of)


def resolve_holdout(names: list[str], holdout: str | int | None) -> str:
    """The holdout folder: the last year by default, or the year / folder name given."""
    if holdout is None:
        return names[-1]
    if isinstance(holdout, (int, np.integer)):
        match = [n for n in names if year_of(n) == int(holdout)]
        hold = match[0] if match else f"INS-W_{int(holdout)}"
    else:
        hold = str(holdout).strip()
    if hold not in names:
        raise ConfigError(
            f"holdout {hold!r} is not among the loaded institute-years {names}; pick one of them"
        )
    return hold


def _parse_dates(values: pd.Series, path: Path) -> pd.Series:
    text = values.astype(str).str.strip()
    dates = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    if dates.isna().any():
        dates = pd.to_datetime(text, format="mixed", errors="coerce")
    if dates.isna().any():
        raise DataError(
            f"{path}: date {text[dates.isna()].iloc[0]!r} is not a date; GLOBEM files carry YYYY-MM-DD dates"
        )
    return dates.dt.normalize()


def read_keyed_csv(path: Path, what: str) -> pd.DataFrame:
    """A GLOBEM CSV indexed by ``pid,date`` (leading unnamed index column dropped), dates parsed."""
    try:
        frame = pd.read_csv(path, low_memory=False)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{what} {path} is truncated or corrupt ({first_line(exc)}); re-create it") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.loc[:, [not _UNNAMED_RE.match(c) for c in frame.columns]]
    missing = [c for c in ("pid", "date") if c not in frame.columns]
    if missing:
        raise DataError(f"{what} {path} lacks column(s) {missing}; GLOBEM files are indexed by pid,date")
    frame["pid"] = frame["pid"].astype(str).str.strip()
    frame["date"] = _parse_dates(frame["date"], path)
    return frame


def _numeric(column: pd.Series) -> pd.Series | None:
    """The column as float64, or None when it holds non-numeric text (e.g. the `_dis` low/medium/high)."""
    if column.dtype == bool or pd.api.types.is_numeric_dtype(column):
        return column.astype(np.float64)
    text = column.astype(str).str.strip().str.lower()
    booleans = text.map(lambda v: 1.0 if v == "true" else 0.0 if v == "false" else np.nan)
    numbers = pd.to_numeric(column, errors="coerce")
    numbers = numbers.where(numbers.notna(), booleans)
    recorded = column.notna() & (text != "")
    if (numbers.isna() & recorded).any():
        return None
    return numbers.astype(np.float64)


def read_features(folder: Path) -> tuple[pd.DataFrame, list[str]]:
    """Daily features of one institute-year, index (pid, date), float32 columns; and dropped columns."""
    feature_dir = folder / "FeatureData"
    if not feature_dir.is_dir():
        raise DataError(
            f"{folder} has no FeatureData folder; give the GLOBEM institute-year folder as released"
        )
    frames: list[pd.DataFrame] = []
    seen: set[str] = set()
    dropped: list[str] = []
    for name in FEATURE_FILES:
        path = feature_dir / f"{name}.csv"
        if not path.is_file():
            continue
        frame = read_keyed_csv(path, "feature file")
        if frame.duplicated(["pid", "date"]).any():
            row = frame[frame.duplicated(["pid", "date"])].iloc[0]
            raise DataError(
                f"feature file {path} has two rows for pid {row['pid']} on {row['date']:%Y-%m-%d}; "
                "give one row per participant-day"
            )
        columns: dict[str, np.ndarray] = {}
        for col in frame.columns:
            if col in ("pid", "date") or col in seen:
                continue
            values = _numeric(frame[col])
            if values is None:
                dropped.append(f"{name}:{col}")
                continue
            columns[col] = values.to_numpy(dtype=np.float32)
            seen.add(col)
        if columns:
            index = pd.MultiIndex.from_arrays([frame["pid"], frame["date"]], names=["pid", "date"])
            frames.append(pd.DataFrame(columns, index=index))
    if not frames:
        raise DataError(
            f"{feature_dir} holds none of {', '.join(f + '.csv' for f in FEATURE_FILES)} with numeric "
            "features; give the GLOBEM FeatureData files"
        )
    return pd.concat(frames, axis=1, join="outer"), dropped


def _parse_dep(values: pd.Series, path: Path) -> np.ndarray:
    """1/0 per row, -1 where blank; raises on any other value."""
    text = values.astype(str).str.strip().str.lower()
    out = np.full(len(text), -1, dtype=np.int64)
    out[text.isin(_TRUE).to_numpy()] = 1
    out[text.isin(_FALSE).to_numpy()] = 0
    blank = (values.isna() | text.isin({"", "nan", "none"})).to_numpy()
    bad = (out < 0) & ~blank
    if bad.any():
        raise DataError(f"{path}: dep holds {values[bad].iloc[0]!r}; dep must be True/False or 1/0")
    return out


def read_labels(folder: Path, label: str) -> tuple[pd.DataFrame, int, int]:
    """``pid, date, y`` of ``SurveyData/{label}.csv``; the numbers of blank and duplicate rows skipped.

    A duplicate (pid, date) keeps its last row, as GLOBEM's ``data_loader_read_label_file`` does.
    """
    path = folder / "SurveyData" / f"{label}.csv"
    if not path.is_file():
        raise DataError(
            f"label file {path} not found; GLOBEM labels are SurveyData/{label}.csv (pid,date,...,dep)"
        )
    frame = read_keyed_csv(path, "label file")
    if "dep" not in frame.columns:
        raise DataError(
            f"label file {path} has no dep column; give GLOBEM's {label}.csv (pid,date,...,BDI2,dep)"
        )
    frame = frame.assign(y=_parse_dep(frame["dep"], path))
    n_blank = int((frame["y"] < 0).sum())
    frame = frame[frame["y"] >= 0]
    n_dup = int(frame.duplicated(["pid", "date"]).sum())
    frame = frame.drop_duplicates(["pid", "date"], keep="last")
    return frame[["pid", "date", "y"]].reset_index(drop=True), n_blank, n_dup


def choose_features(
    tables: dict[str, pd.DataFrame], features: str | Sequence[str], names: list[str]
) -> tuple[list[str], str]:
    """The feature columns to load and how they were chosen (``"globem54"``, ``"all"`` or a list)."""
    if isinstance(features, str) and features not in ("globem54", "all"):
        raise ConfigError(f"features = {features!r}: give 'globem54', 'all' or a list of feature names")
    if features == "all":
        common = set.intersection(*(set(t.columns) for t in tables.values()))
        chosen = [c for c in tables[names[0]].columns if c in common]
        if not chosen:
            raise DataError("no feature column is present in every selected institute-year; pass features=")
        return chosen, "all (columns present in every institute-year)"
    chosen = list(DL_FEATURES) if features == "globem54" else [str(f) for f in features]
    for name in names:
        absent = [f for f in chosen if f not in tables[name].columns]
        if absent:
            hint = "features='all' or a list" if features == "globem54" else "columns present in every year"
            raise ConfigError(
                f"feature(s) {absent[:3]} not in {name}'s FeatureData ({len(absent)} missing); use {hint}"
            )
    return chosen, "GLOBEM deep-model list (54)" if features == "globem54" else "given list"
