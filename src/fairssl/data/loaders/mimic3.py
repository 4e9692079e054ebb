"""Loader for the MIMIC-III in-hospital-mortality benchmark (mimic3-benchmarks, Harutyunyan et al. 2019).

Layout under ``root`` (the benchmark's ``data/`` folder, or its ``in-hospital-mortality/`` folder):

- ``in-hospital-mortality/{train,test}/listfile.csv`` with header ``stay,y_true``
  (e.g. ``12797_episode1_timeseries.csv,0``) and the per-stay CSVs in the same folders, columns
  ``Hours`` plus the 17 variables of :data:`VARIABLES` (any column order; no other columns).
- optional ``in-hospital-mortality/{train,val}_listfile.csv`` written by the benchmark's
  ``split_train_val.py`` (stays of both live in ``train/``): used as the train/validation split when
  present; otherwise ``train/listfile.csv`` is split patient-disjointly with ``seed``.
- ``all_stays.csv`` of the benchmark (``root/all_stays.csv``, ``root/root/all_stays.csv`` or
  ``all_stays=PATH``) for gender, age and ethnicity; optional MIMIC-III ``ADMISSIONS.csv`` (``admissions=``
  or ``root/ADMISSIONS.csv[.gz]``), joined on ``HADM_ID``, for language, insurance, religion and marital
  status.

Discretisation (the benchmark's ``Discretizer(timestep=1.0, impute_strategy='previous',
start_time='zero', store_masks=True)`` over the first 48 h): a row at ``Hours = t`` falls in bin
``int(t / timestep - 1e-6)`` (so bin k holds (k, k+1], and t = 0 goes to bin 0); within a bin the last
observed value wins (rows stably sorted by ``Hours``); an unobserved bin takes the last observed
value of an earlier bin, else the benchmark's normal value (:data:`NORMAL_VALUES`); the five
categorical variables are one-hot over the benchmark's raw category strings (:data:`CATEGORIES`);
17 mask channels are 1 where the variable was observed in the bin. Result: 76 channels x 48 steps,
channels-first. The 12 continuous channels are z-scored with the training split's mean and standard
deviation (ddof 1, floored at 1e-7, as the benchmark's ``Normalizer``); one-hot and mask channels
are not scaled.

Deviations from the benchmark (none arise on the benchmark's own files): rows with negative
``Hours`` are dropped (the benchmark's IHM files hold none); numeric spellings of categorical
values ("15.0" for GCS total 15, "1" for capillary refill 1.0) are accepted; an unknown category
string is a :class:`DataError` rather than an ``AssertionError``.

Episode k of a subject (``..._episodeK_timeseries.csv``) is the k-th row of that subject in
``all_stays.csv`` ordered by ``INTIME`` (then ``OUTTIME``), which is how the benchmark numbers
episodes; without ``INTIME`` the file's row order per subject is used.
"""

from __future__ import annotations

import csv
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairssl.data.dataset import MISSING, WindowDataset
from fairssl.data.splits import pick_subjects
from fairssl.errors import ConfigError, DataError

_EPS = 1e-6
_LISTFILE_HEADER = ["stay", "y_true"]
_STAY_RE = re.compile(r"^(\d+)_episode(\d+)_")

VARIABLES: tuple[str, ...] = (
    "Capillary refill rate",
    "Diastolic blood pressure",
    "Fraction inspired oxygen",
    "Glascow coma scale eye opening",
    "Glascow coma scale motor response",
    "Glascow coma scale total",
    "Glascow coma scale verbal response",
    "Glucose",
    "Heart Rate",
    "Height",
    "Mean blood pressure",
    "Oxygen saturation",
    "Respiratory rate",
    "Systolic blood pressure",
    "Temperature",
    "Weight",
    "pH",
)
"""The benchmark's 17 variables in its channel order (``id_to_channel`` of discretizer_config.json)."""

STAY_COLUMNS: tuple[str, ...] = ("Hours", *VARIABLES)
"""The columns of a per-stay timeseries CSV."""

CATEGORIES: dict[str, tuple[str, ...]] = {
    "Capillary refill rate": ("0.0", "1.0"),
    "Glascow coma scale eye opening": (
        "To Pain",
        "3 To speech",
        "1 No Response",
        "4 Spontaneously",
        "None",
        "To Speech",
        "Spontaneously",
        "2 To pain",
    ),
    "Glascow coma scale motor response": (
        "1 No Response",
        "3 Abnorm flexion",
        "Abnormal extension",
        "No response",
        "4 Flex-withdraws",
        "Localizes Pain",
        "Flex-withdraws",
        "Obeys Commands",
        "Abnormal Flexion",
        "6 Obeys Commands",
        "5 Localizes Pain",
        "2 Abnorm extensn",
    ),
    "Glascow coma scale total": ("11", "10", "13", "12", "15", "14", "3", "5", "4", "7", "6", "9", "8"),
    "Glascow coma scale verbal response": (
        "1 No Response",
        "No Response",
        "Confused",
        "Inappropriate Words",
        "Oriented",
        "No Response-ETT",
        "5 Oriented",
        "Incomprehensible sounds",
        "1.0 ET/Trach",
        "4 Confused",
        "2 Incomp sounds",
        "3 Inapprop words",
    ),
}
"""Raw category strings of the five categorical variables, in the benchmark's one-hot order.

Data, not code: this is ``possible_values`` of the benchmark's ``discretizer_config.json``. The raw
MIMIC strings are kept as separate categories (e.g. "4 Spontaneously" and "Spontaneously" are two
one-hot positions), exactly as the benchmark does: 2 + 8 + 12 + 13 + 12 = 47 one-hot channels.
"""

NORMAL_VALUES: dict[str, str] = {
    "Capillary refill rate": "0.0",
    "Diastolic blood pressure": "59.0",
    "Fraction inspired oxygen": "0.21",
    "Glascow coma scale eye opening": "4 Spontaneously",
    "Glascow coma scale motor response": "6 Obeys Commands",
    "Glascow coma scale total": "15",
    "Glascow coma scale verbal response": "5 Oriented",
    "Glucose": "128.0",
    "Heart Rate": "86",
    "Height": "170.0",
    "Mean blood pressure": "77.0",
    "Oxygen saturation": "98.0",
    "Respiratory rate": "19",
    "Systolic blood pressure": "118.0",
    "Temperature": "36.6",
    "Weight": "81.0",
    "pH": "7.4",
}
"""The benchmark's fallback for a variable not yet observed in a stay (``normal_values``)."""


def _channel_names() -> tuple[str, ...]:
    names: list[str] = []
    for var in VARIABLES:
        if var in CATEGORIES:
            names.extend(f"{var}->{value}" for value in CATEGORIES[var])
        else:
            names.append(var)
    names.extend(f"mask->{var}" for var in VARIABLES)
    return tuple(names)


CHANNEL_NAMES: tuple[str, ...] = _channel_names()
"""The 76 output channels: one-hot/continuous values in variable order, then the 17 masks."""

CONTINUOUS_CHANNELS: tuple[int, ...] = tuple(i for i, name in enumerate(CHANNEL_NAMES) if "->" not in name)
"""Indices of the 12 continuous channels (the ones z-scored), as the benchmark's ``cont_channels``."""

_CATEGORY_INDEX = {var: {v: i for i, v in enumerate(values)} for var, values in CATEGORIES.items()}
_NORMAL_CODES = np.array(
    [
        _CATEGORY_INDEX[var][NORMAL_VALUES[var]] if var in CATEGORIES else float(NORMAL_VALUES[var])
        for var in VARIABLES
    ],
    dtype=np.float64,
)
# variable index feeding each of the 59 value channels (one-hot positions share their variable)
_VALUE_CHANNEL_VARIABLE = np.array(
    [j for j, var in enumerate(VARIABLES) for _ in range(len(CATEGORIES.get(var, ("",))))], dtype=np.int64
)

# ---------------------------------------------------------------- demographics vocabularies
_ETHNICITY_GROUPS = {
    "WHITE": "WHITE",
    "MIDDLE EASTERN": "WHITE",
    "PORTUGUESE": "WHITE",
    "BLACK": "BLACK",
    "CARIBBEAN ISLAND": "BLACK",
    "HISPANIC": "HISPANIC",
    "SOUTH AMERICAN": "HISPANIC",
    "ASIAN": "ASIAN",
    "AMERICAN INDIAN": "OTHER",
    "NATIVE HAWAIIAN": "OTHER",
    "MULTI RACE ETHNICITY": "OTHER",
    "OTHER": "OTHER",
}
_ETHNICITY_MISSING = {"", "UNKNOWN", "UNABLE TO OBTAIN", "PATIENT DECLINED TO ANSWER", "DECLINED"}
_GENDERS = {"M": "M", "MALE": "M", "F": "F", "FEMALE": "F"}
_RELIGION_MISSING = {"", "NOT SPECIFIED", "UNOBTAINABLE"}
_MARITAL_MISSING = {"", "UNKNOWN (DEFAULT)", "UNKNOWN"}


def _clean(value: Any) -> str:
    """Upper-cased stripped string of a cell; '' for NaN/None."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    return str(value).strip().upper()


def map_ethnicity(value: Any) -> str:
    """Map a MIMIC-III ``ETHNICITY`` string to WHITE, BLACK, HISPANIC, ASIAN, OTHER or ``missing``.

    The head of the string is taken as the benchmark does (``' OR '`` -> ``'/'``, then the part
    before ``' - '`` and before ``'/'``: "HISPANIC/LATINO - PUERTO RICAN" -> "HISPANIC") and matched
    exactly, never by substring. Grouping follows the benchmark's ``e_map`` (MIDDLE EASTERN and
    PORTUGUESE -> WHITE, CARIBBEAN ISLAND -> BLACK, SOUTH AMERICAN -> HISPANIC), except that UNKNOWN,
    UNABLE TO OBTAIN, PATIENT DECLINED TO ANSWER and blanks are ``missing`` (never pooled into a group);
    any other head (AMERICAN INDIAN, NATIVE HAWAIIAN, MULTI RACE ETHNICITY, OTHER, ...) is OTHER.
    """
    text = _clean(value)
    head = text.replace(" OR ", "/").split(" - ")[0].split("/")[0].strip()
    if head in _ETHNICITY_MISSING:
        return MISSING
    return _ETHNICITY_GROUPS.get(head, "OTHER")


def map_gender(value: Any) -> str:
    """``M``/``F`` for exactly M, MALE, F, FEMALE (case-insensitive, whole string); else ``missing``."""
    return _GENDERS.get(_clean(value), MISSING)


def map_language(value: Any) -> str:
    """``ENGL`` for English, ``OTHER`` for any other MIMIC language code, ``missing`` when blank."""
    text = _clean(value)
    if text == "":
        return MISSING
    return "ENGL" if text == "ENGL" else "OTHER"


def _map_with_missing(value: Any, missing: set[str]) -> str:
    """The stripped value as written (e.g. 'Private'); ``missing`` when its upper case is in ``missing``."""
    return MISSING if _clean(value) in missing else str(value).strip()


def age_group(age: Any, *, threshold: float) -> str:
    """``"<T"`` or ``">=T"`` for a numeric age (MIMIC's shifted ages > 89 are >= T); else ``missing``."""
    try:
        value = float(age)
    except (TypeError, ValueError):
        return MISSING
    if not np.isfinite(value):
        return MISSING
    label = f"{threshold:g}"
    return f">={label}" if value >= threshold else f"<{label}"


# ---------------------------------------------------------------- discretisation
def _parse_value(var: str, raw: str, where: str) -> float:
    if var not in CATEGORIES:
        try:
            return float(raw)
        except ValueError:
            raise DataError(
                f"{where}: column {var!r} holds {raw!r}, not a number; the file is corrupt, re-create it "
                "with the benchmark's extraction scripts"
            ) from None
    index = _CATEGORY_INDEX[var]
    text = raw.strip()
    if text in index:
        return float(index[text])
    try:  # numeric spellings of the numeric categories ("15.0" for "15", "1" for "1.0")
        number = float(text)
        for candidate in (f"{number:.1f}", str(int(number)) if number == int(number) else ""):
            if candidate in index:
                return float(index[candidate])
    except ValueError:
        pass
    raise DataError(
        f"{where}: column {var!r} holds {raw!r}, not one of the benchmark's {len(index)} categories "
        f"({', '.join(CATEGORIES[var][:4])}, ...); fix the value or re-extract with mimic3-benchmarks"
    )


def discretize_stay(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    hours: float = 48.0,
    timestep: float = 1.0,
    where: str = "stay",
) -> tuple[np.ndarray, int]:
    """Bin one stay's rows into the benchmark's hourly grid, before imputation.

    ``header``: the CSV header (``Hours`` and the 17 variables, any order); ``rows``: the raw string
    cells ('' = not recorded). Returns ``(codes, n_ignored)`` with ``codes`` float64 (T, 17),
    T = ``int(hours / timestep + 1 - 1e-6)``: the last value observed in each bin (a category index
    for the categorical variables), NaN where the variable was not observed in the bin; and the
    number of rows ignored because ``Hours`` lies outside [0, hours].
    """
    n_bins = int(hours / timestep + 1.0 - _EPS)
    column = {name: i for i, name in enumerate(header)}
    codes = np.full((n_bins, len(VARIABLES)), np.nan)
    if len(rows) == 0:
        return codes, 0
    cells = np.empty((len(rows), len(header)), dtype=object)
    cells[:] = [list(r) for r in rows]  # (R, 18)
    try:
        t = np.array([float(x) for x in cells[:, column["Hours"]]], dtype=np.float64)
    except ValueError:
        raise DataError(
            f"{where}: the Hours column holds a non-number; the file is corrupt, re-create it with the "
            "benchmark's extraction scripts"
        ) from None
    order = np.argsort(t, kind="stable")
    keep = order[(t[order] >= 0.0) & (t[order] <= hours + _EPS)]  # time-sorted rows in [0, hours]
    n_ignored = len(rows) - keep.size
    bins = np.minimum(np.trunc(t[keep] / timestep - _EPS).astype(np.int64), n_bins - 1)
    bins = np.maximum(bins, 0)  # t in [0, eps) gives -0 -> bin 0, as int() in the benchmark
    for j, var in enumerate(VARIABLES):
        col = cells[keep, column[var]]
        observed = np.flatnonzero(col != "")
        if observed.size == 0:
            continue
        b = bins[observed]  # non-decreasing: rows are time-sorted
        last = np.append(b[1:] != b[:-1], True)  # last observation of each bin wins
        codes[b[last], j] = [_parse_value(var, str(v), where) for v in col[observed[last]]]
    return codes, n_ignored


def encode_codes(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Impute and expand binned codes to the 76 benchmark channels (no scaling).

    ``codes`` float64 (N, T, 17) from :func:`discretize_stay`. Imputation: the last observed value of
    an earlier bin, else :data:`NORMAL_VALUES`. Returns ``X`` float32 (N, 76, T) in
    :data:`CHANNEL_NAMES` order and ``observed`` bool (N, 17, T) (the mask channels' values).
    """
    n, t, v = codes.shape
    observed = ~np.isnan(codes)  # (N, T, 17)
    pos = np.where(observed, np.arange(t)[None, :, None], -1)
    pos = np.maximum.accumulate(pos, axis=1)  # index of the last observed bin so far, -1 if none
    filled = np.take_along_axis(codes, np.maximum(pos, 0), axis=1)
    filled = np.where(pos >= 0, filled, _NORMAL_CODES[None, None, :])  # (N, T, 17)
    X = np.empty((n, len(CHANNEL_NAMES), t), dtype=np.float32)
    c = 0
    for j, var in enumerate(VARIABLES):
        values = filled[:, :, j]  # (N, T)
        if var in CATEGORIES:
            k = len(CATEGORIES[var])
            X[:, c : c + k, :] = values[:, None, :] == np.arange(k)[None, :, None]  # one-hot (N, K, T)
            c += k
        else:
            X[:, c, :] = values
            c += 1
    observed_ct = observed.transpose(0, 2, 1)  # (N, 17, T)
    X[:, c : c + v, :] = observed_ct
    return X, observed_ct


def normalizer_stats(X_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std (ddof 1, floored at 1e-7) of the continuous channels over (windows, time).

    ``X_train`` (N, 76, T) unscaled training windows. Returns two float64 (12,) arrays.
    """
    values = X_train[:, list(CONTINUOUS_CHANNELS), :].astype(np.float64)  # (N, 12, T)
    flat = values.transpose(1, 0, 2).reshape(len(CONTINUOUS_CHANNELS), -1)  # (12, N*T)
    mean = flat.mean(axis=1)
    std = flat.std(axis=1, ddof=1) if flat.shape[1] > 1 else np.ones(len(CONTINUOUS_CHANNELS))
    return mean, np.maximum(std, 1e-7)


def _first_line(exc: BaseException) -> str:
    """The first line of an exception's message (messages stay one line)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


# ---------------------------------------------------------------- files
def _read_listfile(path: Path) -> list[tuple[str, int]]:
    if not path.is_file():
        raise DataError(
            f"listfile {path} not found; point root at the mimic3-benchmarks data folder that holds "
            "in-hospital-mortality/{train,test}/listfile.csv"
        )
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip() for h in header] != _LISTFILE_HEADER:
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


def _read_stay(path: Path) -> tuple[list[str], list[list[str]]]:
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
            f"stay file {path} is corrupt ({_first_line(exc)}); re-create it with the benchmark"
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


def _find_ihm_dir(root: Path) -> Path:
    if not root.is_dir():
        raise DataError(f"MIMIC-III root {root} is not a folder; give the mimic3-benchmarks data folder")
    for candidate in (root / "in-hospital-mortality", root):
        if (candidate / "train").is_dir() and (candidate / "test").is_dir():
            return candidate
    raise DataError(
        f"no in-hospital-mortality/train and test folders under {root}; point root at the "
        "mimic3-benchmarks data folder (created by its create_in_hospital_mortality.py)"
    )


def _subject_of(stay: str, listfile: Path) -> tuple[str, int]:
    match = _STAY_RE.match(stay)
    if match is None:
        raise DataError(
            f"stay {stay!r} in {listfile} is not named SUBJECT_episodeK_timeseries.csv; give the "
            "benchmark's listfile"
        )
    return match.group(1), int(match.group(2))


def _find_file(given: str | Path | None, candidates: Sequence[Path], what: str) -> Path | None:
    if given is not None:
        path = Path(given)
        if not path.is_file():
            raise DataError(f"{what} file {path} does not exist; give the path of the file or leave it None")
        return path
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def _read_table(path: Path, required: Sequence[str], what: str) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{what} {path} could not be read ({_first_line(exc)}); give an intact CSV") from None
    table.columns = [str(c).strip().upper() for c in table.columns]
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise DataError(
            f"{what} {path} lacks column(s) {missing}; give the file with its original MIMIC-III header"
        )
    return table


def _stay_demographics(
    path: Path, keys: Sequence[tuple[str, int]], *, age_threshold: float
) -> tuple[pd.DataFrame, list[str]]:
    """Gender, age group, ethnicity (and HADM_ID) per (subject, episode) key, in ``keys`` order."""
    table = _read_table(path, ["SUBJECT_ID", "GENDER", "AGE", "ETHNICITY"], "all_stays")
    table["_row"] = np.arange(len(table))
    table["SUBJECT_ID"] = table["SUBJECT_ID"].str.strip()
    order = ["SUBJECT_ID"]
    if "INTIME" in table.columns:
        table["_in"] = pd.to_datetime(table["INTIME"], errors="coerce")
        table["_out"] = pd.to_datetime(table.get("OUTTIME", table["INTIME"]), errors="coerce")
        order += ["_in", "_out"]
    order.append("_row")
    table = table.sort_values(order, kind="stable")
    table["_episode"] = table.groupby("SUBJECT_ID", sort=False).cumcount() + 1
    table = table.set_index(["SUBJECT_ID", "_episode"])
    index = pd.MultiIndex.from_tuples(list(keys))
    found = table.reindex(index)
    out = pd.DataFrame(
        {
            "gender": [map_gender(v) for v in found["GENDER"]],
            "age": [age_group(v, threshold=age_threshold) for v in found["AGE"]],
            "ethnicity": [map_ethnicity(v) for v in found["ETHNICITY"]],
            "_hadm": [_clean(v) for v in found["HADM_ID"]] if "HADM_ID" in found else [""] * len(found),
        }
    )
    absent = found["GENDER"].isna().to_numpy()
    missing_keys = [f"{s}_episode{k}" for (s, k), a in zip(keys, absent, strict=True) if a]
    return out, missing_keys


def _admission_attributes(path: Path, hadm: Sequence[str]) -> tuple[pd.DataFrame, int]:
    table = _read_table(
        path, ["HADM_ID", "INSURANCE", "LANGUAGE", "RELIGION", "MARITAL_STATUS"], "ADMISSIONS"
    )
    table["HADM_ID"] = table["HADM_ID"].map(_clean)
    table = table.drop_duplicates("HADM_ID").set_index("HADM_ID")
    found = table.reindex(pd.Index(list(hadm)))
    out = pd.DataFrame(
        {
            "language": [map_language(v) for v in found["LANGUAGE"]],
            "insurance": [_map_with_missing(v, {""}) for v in found["INSURANCE"]],
            "religion": [_map_with_missing(v, _RELIGION_MISSING) for v in found["RELIGION"]],
            "marital_status": [_map_with_missing(v, _MARITAL_MISSING) for v in found["MARITAL_STATUS"]],
        }
    )
    return out, int(found["LANGUAGE"].isna().sum())


# ---------------------------------------------------------------- loader
def load_mimic3(
    root: str | Path,
    *,
    all_stays: str | Path | None = None,
    admissions: str | Path | None = None,
    val_fraction: float = 0.15,
    seed: int = 0,
    age_threshold: float = 65,
    hours: float = 48.0,
    timestep: float = 1.0,
) -> WindowDataset:
    """Load the in-hospital-mortality task as a :class:`WindowDataset` of (N, 76, 48) windows.

    One window per ICU stay: the first ``hours`` of the stay, discretised as the benchmark does (see
    the module docstring), continuous channels z-scored with training statistics. ``y`` is
    ``y_true`` (1 = died in hospital). Subject = leading digits of the stay name; window id = the stay
    name without ``_timeseries.csv``. Split: ``test`` from ``test/listfile.csv``; ``train``/``val`` from
    the benchmark's ``train_listfile.csv``/``val_listfile.csv`` when both exist, else a seeded
    patient-disjoint split of ``train/listfile.csv`` with ``val_fraction`` of the patients in ``val``.
    Attributes: gender (M/F), age ("<65"/">=65" by ``age_threshold``), ethnicity (:func:`map_ethnicity`)
    from ``all_stays.csv``; language, insurance, religion, marital_status from ``ADMISSIONS.csv`` when
    found. Missing values are ``missing``; stays absent from ``all_stays.csv`` are counted in
    ``info["n_stays_without_demographics"]``. ``mask`` is True where the variable behind a channel was
    observed in the bin (always True on the mask channels).
    """
    if not 0.0 < val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in (0, 1); got {val_fraction}")
    root = Path(root)
    ihm = _find_ihm_dir(root)
    test_entries = _read_listfile(ihm / "test" / "listfile.csv")
    train_list = ihm / "train" / "listfile.csv"
    bench_train, bench_val = ihm / "train_listfile.csv", ihm / "val_listfile.csv"
    info: dict[str, Any] = {"source": "mimic3-benchmarks in-hospital-mortality", "root": str(root)}
    warn: list[str] = []
    if bench_train.is_file() and bench_val.is_file():
        train_entries, val_entries = _read_listfile(bench_train), _read_listfile(bench_val)
        info["val_split"] = "benchmark train_listfile.csv / val_listfile.csv"
        parts = [("train", train_entries, bench_train), ("val", val_entries, bench_val)]
    else:
        entries = _read_listfile(train_list)
        subjects = [_subject_of(stay, train_list)[0] for stay, _ in entries]
        val_subjects = pick_subjects(
            subjects, fraction=val_fraction, seed=seed, what="patient(s) in the training listfile"
        )
        in_val = [s in val_subjects for s in subjects]
        parts = [
            ("train", [e for e, v in zip(entries, in_val, strict=True) if not v], train_list),
            ("val", [e for e, v in zip(entries, in_val, strict=True) if v], train_list),
        ]
        info["val_split"] = (
            f"seeded patient-disjoint split of train/listfile.csv (seed={seed}, fraction={val_fraction})"
        )
    parts.append(("test", test_entries, ihm / "test" / "listfile.csv"))

    stays: list[str] = []
    folders: list[Path] = []
    labels: list[int] = []
    splits: list[str] = []
    keys: list[tuple[str, int]] = []
    for split_name, entries, listfile in parts:
        folder = ihm / ("test" if split_name == "test" else "train")
        for stay, y in entries:
            keys.append(_subject_of(stay, listfile))
            stays.append(stay)
            folders.append(folder)
            labels.append(y)
            splits.append(split_name)
    if len(set(stays)) != len(stays):
        dup = pd.Series(stays)[pd.Series(stays).duplicated()].iloc[0]
        raise DataError(f"stay {dup!r} is listed twice across the listfiles; each stay belongs to one split")

    n_bins = int(hours / timestep + 1.0 - _EPS)
    codes = np.empty((len(stays), n_bins, len(VARIABLES)), dtype=np.float64)  # (N, T, 17)
    n_ignored = 0
    for i, (stay, folder) in enumerate(zip(stays, folders, strict=True)):
        path = folder / stay
        header, body = _read_stay(path)
        codes[i], ignored = discretize_stay(header, body, hours=hours, timestep=timestep, where=str(path))
        n_ignored += ignored
    X, observed = encode_codes(codes)
    del codes
    split_arr = np.array(splits)
    mean, std = normalizer_stats(X[split_arr == "train"])
    cont = list(CONTINUOUS_CHANNELS)
    X[:, cont, :] = ((X[:, cont, :] - mean[None, :, None]) / std[None, :, None]).astype(np.float32)
    mask = np.concatenate(
        [observed[:, _VALUE_CHANNEL_VARIABLE, :], np.ones_like(observed)], axis=1
    )  # (N, 59 + 17, T)
    info["normalizer"] = {
        "channels": [CHANNEL_NAMES[i] for i in cont],
        "mean": mean.tolist(),
        "std": std.tolist(),
        "fitted_on": "train",
    }
    info["n_rows_outside_window"] = n_ignored

    attributes = pd.DataFrame(index=range(len(stays)))
    stays_path = _find_file(
        all_stays,
        [root / "all_stays.csv", root / "root" / "all_stays.csv", ihm.parent / "root" / "all_stays.csv"],
        "all_stays",
    )
    if stays_path is None:
        message = (
            f"no all_stays.csv found under {root}; the dataset has no protected attributes "
            "(give all_stays=PATH)"
        )
        if admissions is not None:
            message += "; ADMISSIONS.csv is joined through all_stays.csv's HADM_ID, so it was not used"
        warn.append(message)
        warnings.warn(message, stacklevel=2)
    else:
        demo, absent = _stay_demographics(stays_path, keys, age_threshold=age_threshold)
        info["n_stays_without_demographics"] = len(absent)
        if absent:
            warn.append(
                f"{len(absent)} stay(s) not in {stays_path.name} (e.g. {absent[0]}): attributes 'missing'"
            )
        attributes = demo[["gender", "age", "ethnicity"]].copy()
        adm_path = _find_file(admissions, [root / "ADMISSIONS.csv", root / "ADMISSIONS.csv.gz"], "ADMISSIONS")
        if adm_path is not None:
            adm, n_absent = _admission_attributes(adm_path, demo["_hadm"].tolist())
            info["n_stays_without_admission"] = n_absent
            attributes = pd.concat([attributes, adm], axis=1)
    info["warnings"] = warn

    window_id = [s[: -len("_timeseries.csv")] if s.endswith("_timeseries.csv") else s for s in stays]
    return WindowDataset.build(
        X,
        np.array(labels, dtype=np.int64),
        subject=[k[0] for k in keys],
        split=split_arr,
        attributes=attributes,
        window_id=window_id,
        channel_names=CHANNEL_NAMES,
        name="mimic3-ihm",
        mask=mask,
        info=info,
    )
