"""Loader for MESA sleep/wake (Palotti et al. 2019 sleep_awake_benchmark, task 1).

Accepted inputs (``root``):

1. a folder with the benchmark's split files ``dftrain_task1.csv`` and ``dftest_task1.csv`` (the
   files the paper's reference code reads); the test users are the users of ``dftest_task1.csv``;
2. one combined task-1 CSV (all users in one file);
3. a folder of per-user task-1 files ``mesa_NNNN.csv`` (also looked for in ``root/task1/``);
4. a folder of raw actigraphy files ``mesa-sleep-NNNN.csv`` (NSRR's ``actigraphy/`` folder) together
   with ``labels=`` a CSV ``mesaid,line,gt`` (the PSG-derived label per actigraphy line): only labelled
   lines are used (task 1 keeps the PSG period only), ordered by ``line``.

Task-1 files have the columns ``mesaid, linetime, marker, interval, binterval, gt, gt_sleep_block,
wake, activity, whitelight, redlight, greenlight, bluelight`` (any order; only ``mesaid``, ``linetime``,
``gt`` and the five channels are needed). The label is ``gt`` (1 = asleep by PSG), never the actigraph's
own ``wake`` flag (the reference's defect 1). ``linetime`` is the benchmark's date-time
("1900-01-01 23:00:30"), and epochs are put in time order per user before windowing (defect 10).

Channels: ``activity`` and the four light channels; lights are ``log1p``-transformed (negative
readings clipped to 0 first, counted in ``info``); NaN readings are set to 0 before the transform (as
the reference's ``fillna(0.0)``; counted in ``info``); then every channel is z-scored with the mean and
standard deviation (ddof 0) of the training users' epochs. One window per epoch: the epoch with
``window_half`` epochs before and after (T = 2 * window_half + 1 = 101), cut with
``sliding_window_view`` per user; at a user's first and last epochs the series is padded with the edge
value (``padding="edge"``, default) or with 0, the training mean (``padding="zero"``). Epochs the
benchmark dropped (EXCLUDED intervals) are not re-inserted: windows run over the user's rows.

Splits: case 1 uses the benchmark's train/test users; otherwise ``test_ids`` (a list of mesaids or a
file with one per line / a ``mesaid`` column) or, if not given, a seeded random ``test_fraction`` of the
users. ``val_fraction`` of the training users (seeded) form the validation split.

Demographics: NSRR harmonised ``mesaid, nsrr_age, nsrr_age_gt89, nsrr_sex, nsrr_race`` or the raw MESA
``mesaid, gender1 (0 female, 1 male), race1c (1 white, 2 Chinese American, 3 Black, 4 Hispanic),
sleepage5c`` (comma or semicolon separated; looked for as ``demographics.csv`` beside the data when
not given). Attributes: ``sex`` (male/female), ``age`` ("<65"/">=65"), ``age89`` ("<=89"/">89"),
``race`` (white, black, hispanic, asian; MESA's Chinese-American group is ``asian`` in both formats);
unknown values are ``missing``.

Memory: with ``out_dir`` the windows are written straight into ``out_dir/X.npy`` (a memory map) and the
returned dataset maps it read-only, with ``windows.parquet`` and ``dataset.json`` beside it, so
``WindowDataset.load(out_dir)`` reopens it; the full set is never held in memory.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from fairssl.data.dataset import MISSING, WindowDataset
from fairssl.data.splits import pick_subjects
from fairssl.errors import ConfigError, DataError

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
_RACES = {
    "white": "white",
    "caucasian": "white",
    "black": "black",
    "black or african american": "black",
    "african american": "black",
    "hispanic": "hispanic",
    "hispanic or latino": "hispanic",
    "asian": "asian",
    "chinese american": "asian",
    "chinese-american": "asian",
    "american indian or alaska native": "other",
    "native hawaiian or other pacific islander": "other",
    "multiple": "other",
    "other": "other",
}
_RACE1C = {"1": "white", "2": "asian", "3": "black", "4": "hispanic"}
_MISSING_TOKENS = {"", "nan", "na", "n/a", "unknown", "not reported", "none", "."}


def _first_line(exc: BaseException) -> str:
    """The first line of an exception's message (messages stay one line)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


# ---------------------------------------------------------------- reading
def _header(path: Path) -> list[str]:
    try:
        frame = pd.read_csv(path, nrows=0)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(
            f"MESA file {path} could not be read ({_first_line(exc)}); give an intact CSV"
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
    _check_columns(path, columns, what)
    dtypes: dict[str, Any] = {c: np.float64 for c in CHANNELS}
    dtypes.update({c: str for c in columns if c not in CHANNELS})
    try:
        frame = pd.read_csv(
            path, usecols=lambda c: str(c).strip() in columns, dtype=dtypes, keep_default_na=True
        )
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{what} {path} is truncated or corrupt ({_first_line(exc)}); re-create it") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


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


def _task_table(path: Path, source: str) -> pd.DataFrame:
    """mesaid, time key, gt and the five channels of one task-1 file."""
    frame = _read_csv(path, _TASK_NEEDED, "task-1 file")
    incomplete = frame[["mesaid", "linetime", "gt"]].isna().any(axis=1).to_numpy()
    if incomplete.any():
        line = int(np.flatnonzero(incomplete)[0]) + 2  # 1-based, after the header
        raise DataError(
            f"task-1 file {path} line {line} has a blank mesaid, linetime or gt; the file is truncated or "
            "corrupt, re-create it"
        )
    return pd.DataFrame(
        {
            "mesaid": _parse_mesaid(frame["mesaid"], path),
            "key": _parse_linetime(frame["linetime"], path),
            "gt": _parse_gt(frame["gt"], path),
            **{c: frame[c].to_numpy(dtype=np.float64) for c in CHANNELS},
            "source": source,
        }
    )


def _raw_table(files: Sequence[Path], labels: Path) -> pd.DataFrame:
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
                }
            )
        )
    raw = pd.concat(parts, ignore_index=True)
    table = raw.merge(lab_table, on=["mesaid", "key"], how="inner")
    if table.empty:
        raise DataError(
            f"no (mesaid, line) of the actigraphy files has a label in {labels}; give the label file of "
            "these users"
        )
    table["source"] = ""
    return table


def _gather(root: Path, labels: str | Path | None) -> tuple[pd.DataFrame, str]:
    if root.is_file():
        return _task_table(root, ""), "combined task-1 file"
    if not root.is_dir():
        raise DataError(f"MESA root {root} does not exist; give the folder or file of the task-1 data")
    if all((root / f).is_file() for f in _SPLIT_FILES):
        parts = [_task_table(root / f, s) for f, s in zip(_SPLIT_FILES, ("train", "test"), strict=True)]
        return pd.concat(parts, ignore_index=True), "benchmark dftrain_task1.csv / dftest_task1.csv"
    for folder in (root, root / "task1"):
        task_files = sorted(folder.glob("mesa_*.csv")) if folder.is_dir() else []
        if task_files:
            parts = [_task_table(p, "") for p in task_files]
            return pd.concat(parts, ignore_index=True), f"per-user task-1 files in {folder}"
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
        return _raw_table(raw_files, labels_path), "raw actigraphy + label file"
    raise DataError(
        f"no MESA data under {root}: expected dftrain_task1.csv + dftest_task1.csv, mesa_NNNN.csv task-1 "
        "files or mesa-sleep-NNNN.csv actigraphy files"
    )


# ---------------------------------------------------------------- demographics
def _read_demographics(path: Path) -> pd.DataFrame:
    try:
        with path.open(encoding="utf-8-sig") as handle:
            first = handle.readline()
        sep = ";" if first.count(";") > first.count(",") else ","
        table = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(
            f"demographics file {path} could not be read ({_first_line(exc)}); give an intact CSV"
        ) from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    if "mesaid" not in table.columns:
        raise DataError(f"demographics file {path} has no mesaid column; give the NSRR MESA demographics CSV")
    return table


def _clean(value: Any) -> str:
    return str(value).strip().lower()


def _age_groups(age: Any, gt89: str, *, threshold: float) -> tuple[str, str]:
    try:
        value = float(age)
    except (TypeError, ValueError):
        value = float("nan")
    over89 = _clean(gt89)
    if over89 in ("yes", "1", "true"):
        a89 = ">89"
    elif over89 in ("no", "0", "false"):
        a89 = "<=89"
    else:
        a89 = MISSING if not np.isfinite(value) else (">89" if value > 89 else "<=89")
    if not np.isfinite(value):
        return MISSING, a89
    label = f"{threshold:g}"
    return (f">={label}" if value >= threshold else f"<{label}"), a89


def mesa_attributes(table: pd.DataFrame, *, age_threshold: float = 65) -> pd.DataFrame:
    """Per-user attributes (index = mesaid as a string) from an NSRR harmonised or raw MESA table.

    Columns: ``sex`` (male/female), ``age`` ("<T"/">=T"), ``age89`` ("<=89"/">89"), ``race``. Values
    are matched as whole lower-cased strings (never substrings: 'female' is not 'male'); blanks and
    unknown codes are ``missing``. NSRR columns are preferred when both formats are present.
    """
    cols = set(table.columns)
    ids = pd.to_numeric(table["mesaid"], errors="coerce")
    rows: list[dict[str, str]] = []
    if {"nsrr_sex", "nsrr_race", "nsrr_age"} <= cols:
        for _, r in table.iterrows():
            sex = _clean(r["nsrr_sex"])
            race = _clean(r["nsrr_race"])
            age, a89 = _age_groups(r["nsrr_age"], r.get("nsrr_age_gt89", ""), threshold=age_threshold)
            rows.append(
                {
                    "sex": sex if sex in ("male", "female") else MISSING,
                    "age": age,
                    "age89": a89,
                    "race": MISSING if race in _MISSING_TOKENS else _RACES.get(race, race),
                }
            )
    elif {"gender1", "race1c", "sleepage5c"} <= cols:
        for _, r in table.iterrows():
            gender = _clean(r["gender1"]).removesuffix(".0")
            race = _clean(r["race1c"]).removesuffix(".0")
            age, a89 = _age_groups(r["sleepage5c"], "", threshold=age_threshold)
            rows.append(
                {
                    "sex": {"0": "female", "1": "male"}.get(gender, MISSING),
                    "age": age,
                    "age89": a89,
                    "race": _RACE1C.get(race, MISSING),
                }
            )
    else:
        raise DataError(
            "demographics have neither the NSRR columns (nsrr_age, nsrr_sex, nsrr_race) nor the raw MESA "
            f"columns (gender1, race1c, sleepage5c); got {sorted(cols)[:10]}"
        )
    out = pd.DataFrame(rows, columns=["sex", "age", "age89", "race"])
    out.index = pd.Index(["" if np.isnan(i) else str(int(i)) for i in ids.to_numpy(dtype=float)])
    return out[out.index != ""]


# ---------------------------------------------------------------- splits
def _read_test_ids(test_ids: str | Path | Sequence[Any]) -> set[int]:
    if isinstance(test_ids, (str, Path)):
        path = Path(test_ids)
        if not path.is_file():
            raise DataError(f"test_ids file {path} does not exist; give a file of mesaids or a list")
        text = path.read_text(encoding="utf-8-sig").split()
        tokens = [t.strip(",;") for t in text if t.strip(",;").lower() != "mesaid"]
    else:
        tokens = [str(t) for t in test_ids]
    try:
        return {int(float(t)) for t in tokens if t != ""}
    except ValueError:
        raise DataError(f"test_ids hold a value that is not a mesaid (an integer): {tokens[:3]}") from None


# ---------------------------------------------------------------- windows
def transform_channels(values: np.ndarray) -> tuple[np.ndarray, int, int]:
    """NaN -> 0, lights clipped at 0 and ``log1p``-transformed; ``values`` (R, 5) in :data:`CHANNELS` order.

    Returns the transformed float64 (R, 5) array, the number of NaN readings and of negative lights.
    """
    out = np.array(values, dtype=np.float64)
    nan = np.isnan(out)
    out[nan] = 0.0
    lights = out[:, 1:]
    negative = lights < 0
    lights[negative] = 0.0
    out[:, 1:] = np.log1p(lights)
    return out, int(nan.sum()), int(negative.sum())


def window_series(series: np.ndarray, *, half: int, padding: str) -> np.ndarray:
    """All centred windows of one user's series, in time order.

    ``series`` (C, L) -> (L, C, 2*half+1); window k holds epochs k-half .. k+half, the series padded at
    both ends with its edge value (``"edge"``) or 0 (``"zero"``). A view where possible (no per-epoch loop).
    """
    widths = ((0, 0), (half, half))
    if padding == "edge":
        padded = np.pad(series, widths, mode="edge")  # (C, L + 2*half)
    else:
        padded = np.pad(series, widths, mode="constant")
    view = sliding_window_view(padded, 2 * half + 1, axis=1)  # (C, L, 2*half+1)
    return view.transpose(1, 0, 2)  # (L, C, 2*half+1)


def load_mesa(
    root: str | Path,
    *,
    demographics: str | Path | None = None,
    labels: str | Path | None = None,
    window_half: int = 50,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    seed: int = 0,
    test_ids: str | Path | Sequence[Any] | None = None,
    padding: Literal["edge", "zero"] = "edge",
    age_threshold: float = 65,
    out_dir: str | Path | None = None,
) -> WindowDataset:
    """Load MESA task 1 as a :class:`WindowDataset` of (N, 5, 2*window_half+1) windows, one per epoch.

    ``y`` = ``gt`` (1 = asleep). Subject = mesaid; window id = ``"{mesaid}:{k}"`` with k the epoch's
    position in the user's time-ordered series. See the module docstring for the accepted inputs,
    transforms, padding, splits, attributes and ``out_dir``. ``info`` records the normalisation
    statistics, the split source and counts of imputed readings.
    """
    if window_half < 0:
        raise ConfigError(f"window_half must be >= 0; got {window_half}")
    if padding not in ("edge", "zero"):
        raise ConfigError(f"padding must be 'edge' or 'zero'; got {padding!r}")
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 < value < 1.0:
            raise ConfigError(f"{name} must be in (0, 1); got {value}")
    root = Path(root)
    table, source = _gather(root, labels)
    info: dict[str, Any] = {"source": source, "root": str(root), "label": "gt", "padding": padding}
    warn: list[str] = []

    table = table.sort_values(["mesaid", "key"], kind="stable", ignore_index=True)
    mesaid = table["mesaid"].to_numpy()
    key = table["key"].to_numpy()
    dup = (mesaid[1:] == mesaid[:-1]) & (key[1:] == key[:-1])
    if dup.any():
        raise DataError(
            f"user {mesaid[1:][dup][0]} has two rows for the same epoch; give each epoch once (a file may "
            "have been concatenated twice)"
        )

    # ---- users -> splits
    users = np.unique(mesaid)
    if source.startswith("benchmark"):
        if test_ids is not None:
            raise ConfigError(
                "test_ids given but the benchmark's dftest_task1.csv already fixes the test users; drop one"
            )
        user_source = table.groupby("mesaid")["source"].nunique()
        if (user_source > 1).any():
            raise DataError(
                f"user {user_source[user_source > 1].index[0]} is in both dftrain_task1.csv and "
                "dftest_task1.csv; the benchmark's split must be user-disjoint"
            )
        test_users = set(np.unique(mesaid[table["source"].to_numpy() == "test"]).tolist())
        info["test_split"] = "benchmark dftest_task1.csv"
    elif test_ids is not None:
        wanted = _read_test_ids(test_ids)
        test_users = wanted & set(users.tolist())
        if not test_users:
            raise DataError(
                f"none of the {len(wanted)} test_ids is a user of the data; give mesaids of these files"
            )
        info["test_split"] = f"test_ids ({len(test_users)} users; {len(wanted - test_users)} not in the data)"
    else:
        test_users = pick_subjects(
            users, fraction=test_fraction, seed=seed, what="user(s) for the test split"
        )
        info["test_split"] = f"seeded user split (seed={seed}, fraction={test_fraction})"
    train_pool = np.array(sorted(set(users.tolist()) - test_users), dtype=np.int64)
    val_users = pick_subjects(
        train_pool, fraction=val_fraction, seed=seed + 1, what="user(s) for the validation split"
    )
    user_split = {
        u: "test" if u in test_users else "val" if u in val_users else "train" for u in users.tolist()
    }
    split = pd.Series(mesaid).map(user_split).to_numpy()

    # ---- channels: transform, train statistics, z-score
    values, n_nan, n_negative = transform_channels(table[list(CHANNELS)].to_numpy())
    train_rows = split == "train"
    mean = values[train_rows].mean(axis=0)
    std = values[train_rows].std(axis=0)
    std = np.where(std < 1e-7, 1.0, std)
    values = ((values - mean) / std).astype(np.float32)  # (R, 5)
    info["normalizer"] = {
        "channels": list(CHANNELS),
        "mean": mean.tolist(),
        "std": std.tolist(),
        "fitted_on": "train",
        "lights": "log1p",
    }
    info["n_nan_readings_set_to_zero"] = n_nan
    info["n_negative_lights_clipped"] = n_negative

    # ---- windows, per user, written in place
    n, steps = len(table), 2 * window_half + 1
    shape = (n, len(CHANNELS), steps)
    x_path: Path | None = None
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        x_path = out / "X.npy"
        X: np.ndarray = np.lib.format.open_memmap(x_path, mode="w+", dtype=np.float32, shape=shape)
    else:
        X = np.empty(shape, dtype=np.float32)
    starts = np.flatnonzero(np.r_[True, mesaid[1:] != mesaid[:-1]])
    ends = np.r_[starts[1:], n]
    position = np.empty(n, dtype=np.int64)
    for s, e in zip(starts, ends, strict=True):
        X[s:e] = window_series(values[s:e].T, half=window_half, padding=padding)
        position[s:e] = np.arange(e - s)
    del values
    if x_path is not None:
        if isinstance(X, np.memmap):
            X.flush()
        del X
        X = np.load(x_path, mmap_mode="r")

    subject = pd.Series(mesaid).astype(str)
    window_id = (subject + ":" + pd.Series(position).astype(str)).to_numpy()

    # ---- attributes
    attributes = pd.DataFrame(index=range(n))
    base = root if root.is_dir() else root.parent
    demo_path = Path(demographics) if demographics is not None else base / "demographics.csv"
    if demographics is not None and not demo_path.is_file():
        raise DataError(f"demographics file {demo_path} does not exist; give the NSRR MESA demographics CSV")
    if demo_path.is_file():
        demo = _read_demographics(demo_path)
        per_user = mesa_attributes(demo, age_threshold=age_threshold)
        n_dup = int(per_user.index.duplicated().sum())
        per_user = per_user[~per_user.index.duplicated(keep="first")]
        absent = sorted(set(subject.unique()) - set(per_user.index))
        info["n_duplicate_demographic_rows"] = n_dup
        info["n_users_without_demographics"] = len(absent)
        if absent:
            warn.append(
                f"{len(absent)} user(s) not in {demo_path.name} (e.g. {absent[0]}): attributes 'missing'"
            )
        attributes = per_user.reindex(subject.to_numpy()).reset_index(drop=True)
    else:
        message = f"no demographics found (looked for {demo_path}); the dataset has no protected attributes"
        warn.append(message)
        warnings.warn(message, stacklevel=2)
    info["warnings"] = warn

    ds = WindowDataset.build(
        X,
        table["gt"].to_numpy(),
        subject=subject.to_numpy(),
        split=split,
        attributes=attributes,
        window_id=window_id,
        channel_names=CHANNELS,
        name="mesa-task1",
        info=info,
    )
    if out_dir is not None:
        _write_metadata(ds, Path(out_dir))
    return ds


def _write_metadata(ds: WindowDataset, directory: Path) -> None:
    """Write the metadata files of ``WindowDataset.save`` beside an ``X.npy`` already in place.

    Mirrors ``WindowDataset.save`` without rewriting ``X`` (which is the memory map being returned).
    """
    ds.metadata().to_parquet(directory / "windows.parquet", index=False)
    meta = {
        "name": ds.name,
        "channel_names": list(ds.channel_names),
        "attributes": ds.attribute_names,
        "info": ds.info,
    }
    (directory / "dataset.json").write_text(json.dumps(meta, indent=2))
