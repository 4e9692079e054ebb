"""Loader for GLOBEM (Xu et al. 2022): weekly self-reported depression from daily phone/wearable features.

Layout under ``root``: one folder per institute-year ``INS-W_1`` .. ``INS-W_4`` with

- ``FeatureData/{rapids,location,screen,call,bluetooth,steps,sleep,wifi}.csv`` indexed by ``pid,date``;
  every other column is a numeric daily feature (a leading unnamed index column is dropped; a column
  that is not numeric is dropped and listed in ``info``). Whichever files exist are loaded and joined on
  ``(pid, date)``; a column name seen in an earlier file (``rapids.csv`` holds them all) is not read again.
- ``SurveyData/dep_weekly.csv`` with ``pid,date,...,dep`` (``dep`` True/False or 1/0; rows with a blank
  ``dep`` are skipped and counted).

A window is the ``window_days`` (28) daily feature vectors ending on the label date, inclusive:
days d-27 .. d. A day without a feature row is NaN. ``mask`` is True where a value was recorded.
Imputation, documented: forward fill within the window (the last recorded earlier day of the same
window), then the training median of the feature; then, with ``standardize`` (default), each feature is
z-scored with the training mean and standard deviation (ddof 0). Training statistics are computed over
the daily rows of the training institute-years (each day once, not once per window). A feature never
recorded in training gets median 0, mean 0, std 1 (counted in ``info``). Windows with fewer than
``min_observed_days`` recorded days are dropped (counted in ``info``).

Features: ``features`` selects columns by name; by default, the columns present in every selected
institute-year, in the order of the first. Splits: every institute-year except ``holdout`` (default:
the last, ``INS-W_4``) is ``train``; the holdout year's participants are split into ``val`` and ``test``
by participant with ``seed`` (``val_fraction`` to ``val``), never by row order (the reference's
defect 10). ``pid`` is per institute-year: subject = ``"{institute}:{pid}"``; window id =
``"{institute}:{pid}:{YYYY-MM-DD}"``.

Demographics (``PID, gender, age, race, generation, disability``; released by the GLOBEM team on
request) are joined on PID; header names are matched case-insensitively (``pid`` = ``PID``). Attributes:
``gender`` (Male/Female for whole-word male/man/m and female/woman/f, other answers kept as written),
``race``, ``disability``, ``generation`` (kept as written), ``age`` ("<25"/">=25" by ``age_threshold``).
Blank, "unknown", "prefer not to say" and similar answers are ``missing``. Without demographics the
dataset has no protected attributes (a warning).
"""

from __future__ import annotations

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
"""Feature files looked for in ``INS-W_k/FeatureData/`` (in this order)."""

_INSTITUTE_RE = re.compile(r"^INS-W_(\d+)$")
_UNNAMED_RE = re.compile(r"^(Unnamed: \d+|)$")
_TRUE = {"true", "1", "1.0"}
_FALSE = {"false", "0", "0.0"}
_MISSING_TOKENS = {
    "",
    "nan",
    "na",
    "n/a",
    "none",
    "unknown",
    "prefer not to say",
    "prefer not to answer",
    "prefer not to disclose",
    "decline to answer",
    "declined",
    "missing",
}
_GENDERS = {"male": "Male", "man": "Male", "m": "Male", "female": "Female", "woman": "Female", "f": "Female"}
_CHUNK = 1024


def _first_line(exc: BaseException) -> str:
    """The first line of an exception's message (messages stay one line)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _institute_name(value: Any) -> str:
    if isinstance(value, (int, np.integer)):
        return f"INS-W_{int(value)}"
    return str(value).strip()


def _find_institutes(root: Path, institutes: Sequence[Any] | None) -> list[str]:
    if not root.is_dir():
        raise DataError(f"GLOBEM root {root} is not a folder; give the folder holding INS-W_1 .. INS-W_4")
    found = sorted(
        (d.name for d in root.iterdir() if d.is_dir() and _INSTITUTE_RE.match(d.name)),
        key=lambda name: int(name.split("_")[1]),
    )
    if not found:
        raise DataError(f"no INS-W_k folders under {root}; give the GLOBEM folder holding INS-W_1 .. INS-W_4")
    if institutes is None:
        return found
    wanted = [_institute_name(v) for v in institutes]
    absent = [w for w in wanted if w not in found]
    if absent:
        raise ConfigError(f"institute-year(s) {absent} not under {root}; available: {', '.join(found)}")
    return sorted(set(wanted), key=lambda name: int(name.split("_")[1]) if _INSTITUTE_RE.match(name) else 0)


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


def _read_keyed_csv(path: Path, what: str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, low_memory=False)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{what} {path} is truncated or corrupt ({_first_line(exc)}); re-create it") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.loc[:, [not _UNNAMED_RE.match(c) for c in frame.columns]]
    missing = [c for c in ("pid", "date") if c not in frame.columns]
    if missing:
        raise DataError(f"{what} {path} lacks column(s) {missing}; GLOBEM files are indexed by pid,date")
    frame["pid"] = frame["pid"].astype(str).str.strip()
    frame["date"] = _parse_dates(frame["date"], path)
    return frame


def _numeric(column: pd.Series) -> pd.Series | None:
    """The column as float64, or None when it holds non-numeric text."""
    if column.dtype == bool:
        return column.astype(np.float64)
    if pd.api.types.is_numeric_dtype(column):
        return column.astype(np.float64)
    text = column.astype(str).str.strip().str.lower()
    booleans = text.map(lambda v: 1.0 if v == "true" else 0.0 if v == "false" else np.nan)
    numbers = pd.to_numeric(column, errors="coerce")
    numbers = numbers.where(numbers.notna(), booleans)
    recorded = column.notna() & (text != "")
    if (numbers.isna() & recorded).any():
        return None
    return numbers.astype(np.float64)


def _read_features(folder: Path) -> tuple[pd.DataFrame, list[str]]:
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
        frame = _read_keyed_csv(path, "feature file")
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


def _read_labels(folder: Path) -> tuple[pd.DataFrame, int, int]:
    path = folder / "SurveyData" / "dep_weekly.csv"
    if not path.is_file():
        raise DataError(
            f"label file {path} not found; GLOBEM labels are SurveyData/dep_weekly.csv (pid,date,...,dep)"
        )
    frame = _read_keyed_csv(path, "label file")
    if "dep" not in frame.columns:
        raise DataError(
            f"label file {path} has no dep column; give GLOBEM's dep_weekly.csv (pid,date,...,BDI2,dep)"
        )
    frame = frame.assign(y=_parse_dep(frame["dep"], path))
    n_blank = int((frame["y"] < 0).sum())
    frame = frame[frame["y"] >= 0]
    n_dup = int(frame.duplicated(["pid", "date"]).sum())
    frame = frame.drop_duplicates(["pid", "date"], keep="first")
    return frame[["pid", "date", "y"]].reset_index(drop=True), n_blank, n_dup


def _window_rows(features: pd.DataFrame, labels: pd.DataFrame, window_days: int) -> np.ndarray:
    """Row positions in ``features`` of each label's days d-W+1 .. d; -1 where no row. (L, W) int64."""
    offsets = np.arange(-(window_days - 1), 1)  # (W,) days relative to the label date
    days = labels["date"].to_numpy()[:, None] + offsets[None, :].astype("timedelta64[D]")  # (L, W)
    pids = np.repeat(labels["pid"].to_numpy(), window_days)
    keys = pd.MultiIndex.from_arrays([pids, days.ravel()], names=["pid", "date"])
    return features.index.get_indexer(keys).reshape(len(labels), window_days)


def _forward_fill(block: np.ndarray) -> None:
    """In place: NaN -> last non-NaN earlier day. ``block`` (b, W, C), days on axis 1."""
    for j in range(1, block.shape[1]):  # W steps, each vectorised over (b, C); day j-1 is already filled
        day = block[:, j]
        np.copyto(day, block[:, j - 1], where=np.isnan(day))


def _attribute_value(value: Any) -> str:
    text = str(value).strip()
    return MISSING if text.lower() in _MISSING_TOKENS else text


def globem_attributes(table: pd.DataFrame, *, age_threshold: float = 25) -> pd.DataFrame:
    """Per-participant attributes (index = PID) from a demographics table (any header case).

    Columns present among gender, race, disability, generation, age. ``gender`` maps whole-word
    male/man/m and female/woman/f (case-insensitive; 'female' never matches 'male') to Male/Female and
    keeps other answers; ``age`` is "<T"/">=T" for numbers, kept as written otherwise.
    """
    lower = {str(c).strip().lower(): c for c in table.columns}
    if "pid" not in lower:
        raise DataError(
            f"demographics have no PID column (got {list(table.columns)[:8]}); give the GLOBEM "
            "demographics CSV (PID, gender, age, race, generation, disability)"
        )
    out = pd.DataFrame(index=pd.Index(table[lower["pid"]].astype(str).str.strip(), name="pid"))
    if "gender" in lower:
        genders = [_attribute_value(v) for v in table[lower["gender"]]]
        out["gender"] = [_GENDERS.get(g.lower(), g) for g in genders]
    for name in ("race", "disability", "generation"):
        if name in lower:
            out[name] = [_attribute_value(v) for v in table[lower[name]]]
    if "age" in lower:
        groups = []
        label = f"{age_threshold:g}"
        for v in table[lower["age"]]:
            text = _attribute_value(v)
            try:
                age = float(text)
                groups.append(f">={label}" if age >= age_threshold else f"<{label}")
            except ValueError:
                groups.append(text)
        out["age"] = groups
    return out


def load_globem(
    root: str | Path,
    *,
    demographics: str | Path | None = None,
    institutes: Sequence[Any] | None = None,
    features: Sequence[str] | None = None,
    window_days: int = 28,
    seed: int = 0,
    holdout: str | int | None = None,
    val_fraction: float = 0.5,
    standardize: bool = True,
    age_threshold: float = 25,
    min_observed_days: int = 1,
) -> WindowDataset:
    """Load GLOBEM weekly depression as a :class:`WindowDataset` of (N, C, window_days) windows.

    ``y`` = ``dep`` of ``dep_weekly.csv`` (1 = depressed). C = the selected daily features. See the module
    docstring for the layout, imputation, splits and attributes. ``info`` holds the training medians,
    means and standard deviations and the counts of dropped rows, windows and columns.
    """
    if window_days < 1:
        raise ConfigError(f"window_days must be >= 1; got {window_days}")
    if not 0.0 < val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in (0, 1); got {val_fraction}")
    root = Path(root)
    names = _find_institutes(root, institutes)
    hold = names[-1] if holdout is None else _institute_name(holdout)
    if hold not in names:
        raise ConfigError(
            f"holdout {hold!r} is not among the loaded institute-years {names}; pick one of them"
        )
    if len(names) < 2:
        raise ConfigError(
            f"only {names} loaded; GLOBEM needs training institute-years and a holdout year (e.g. INS-W_1..4)"
        )
    info: dict[str, Any] = {
        "source": "GLOBEM",
        "root": str(root),
        "institutes": names,
        "holdout": hold,
        "label": "dep_weekly.csv:dep",
        "window_days": window_days,
    }
    warn: list[str] = []

    tables: dict[str, pd.DataFrame] = {}
    label_tables: dict[str, pd.DataFrame] = {}
    dropped_cols: list[str] = []
    n_blank = n_dup = 0
    for name in names:
        tables[name], dropped = _read_features(root / name)
        dropped_cols += [f"{name}/{d}" for d in dropped]
        label_tables[name], blank, dup = _read_labels(root / name)
        n_blank, n_dup = n_blank + blank, n_dup + dup
    info["dropped_non_numeric_columns"] = dropped_cols
    info["n_labels_blank"] = n_blank
    info["n_labels_duplicate"] = n_dup

    if features is not None:
        chosen = [str(f) for f in features]
        for name in names:
            absent = [f for f in chosen if f not in tables[name].columns]
            if absent:
                raise ConfigError(
                    f"feature(s) {absent[:5]} not in {name}'s FeatureData ({len(absent)} missing); pick "
                    "columns present in every institute-year"
                )
    else:
        common = set.intersection(*(set(t.columns) for t in tables.values()))
        chosen = [c for c in tables[names[0]].columns if c in common]
        info["n_features_not_in_every_institute"] = len(
            set().union(*(t.columns for t in tables.values()))
        ) - len(chosen)
    if not chosen:
        raise DataError(
            "no feature column is present in every selected institute-year; pass features= explicitly"
        )

    # ---- which rows feed each window (cheap), then one allocation
    rows: dict[str, np.ndarray] = {}
    for name in names:
        idx = _window_rows(tables[name], label_tables[name], window_days)  # (L, W)
        keep = (idx >= 0).sum(axis=1) >= min_observed_days
        info.setdefault("n_windows_dropped_too_few_days", 0)
        info["n_windows_dropped_too_few_days"] += int((~keep).sum())
        rows[name] = idx[keep]
        label_tables[name] = label_tables[name][keep].reset_index(drop=True)
    n = sum(len(r) for r in rows.values())
    c = len(chosen)

    # ---- splits
    subject = np.concatenate(
        [(name + ":" + label_tables[name]["pid"]).to_numpy(dtype=object) for name in names]
    )
    institute = np.concatenate([np.full(len(label_tables[name]), name, dtype=object) for name in names])
    held = institute == hold
    val_subjects = pick_subjects(
        subject[held], fraction=val_fraction, seed=seed, what="labelled participant(s) in the holdout year"
    )
    split = np.where(
        ~held, "train", np.where(pd.Series(subject).isin(val_subjects).to_numpy(), "val", "test")
    )

    # ---- training statistics over daily rows of the training institute-years
    train_rows = np.vstack(
        [tables[name][chosen].to_numpy(dtype=np.float64) for name in names if name != hold]
    )
    never = np.isnan(train_rows).all(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns handled below
        median = np.where(never, 0.0, np.nanmedian(train_rows, axis=0))
        mean = np.where(never, 0.0, np.nanmean(train_rows, axis=0))
        std = np.where(never, 1.0, np.nanstd(train_rows, axis=0))
    std = np.where(std < 1e-7, 1.0, std)
    del train_rows
    info["n_features_never_recorded_in_train"] = int(never.sum())
    info["imputation"] = "forward fill within the window, then the training median"
    info["normalizer"] = {
        "median": median.tolist(),
        "mean": mean.tolist(),
        "std": std.tolist(),
        "fitted_on": "train daily rows",
        "standardized": standardize,
    }

    # ---- windows: gather days, record the mask, impute, scale; chunk by chunk into X
    X = np.empty((n, c, window_days), dtype=np.float32)
    mask = np.empty((n, c, window_days), dtype=bool)
    fill = median.astype(np.float32)[None, None, :]
    shift, scale = mean.astype(np.float32), std.astype(np.float32)
    offset = 0
    for name in names:
        values = tables[name][chosen].to_numpy(dtype=np.float32)  # (R, C)
        values = np.vstack([values, np.full((1, c), np.nan, dtype=np.float32)])  # row R = "no data"
        idx = np.where(rows[name] >= 0, rows[name], len(values) - 1)
        for s in range(0, len(idx), _CHUNK):
            block = values[idx[s : s + _CHUNK]]  # (b, W, C), C contiguous
            out = slice(offset + s, offset + s + len(block))
            mask[out] = ~np.isnan(block).transpose(0, 2, 1)  # (b, C, W)
            _forward_fill(block)
            np.copyto(block, np.broadcast_to(fill, block.shape), where=np.isnan(block))
            if standardize:
                block -= shift
                block /= scale
            X[out] = block.transpose(0, 2, 1)  # (b, C, W)
        offset += len(idx)

    # ---- ids, labels, attributes
    dates = np.concatenate(
        [label_tables[name]["date"].dt.strftime("%Y-%m-%d").to_numpy(dtype=object) for name in names]
    )
    window_id = pd.Series(subject) + ":" + pd.Series(dates)
    y = np.concatenate([label_tables[name]["y"].to_numpy() for name in names])
    pids = np.concatenate([label_tables[name]["pid"].to_numpy(dtype=object) for name in names])
    attributes = pd.DataFrame(index=range(n))
    if demographics is not None:
        path = Path(demographics)
        if not path.is_file():
            raise DataError(f"demographics file {path} does not exist; give the GLOBEM demographics CSV")
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise DataError(
                f"demographics file {path} could not be read ({_first_line(exc)}); give an intact CSV"
            ) from None
        per_pid = globem_attributes(table, age_threshold=age_threshold)
        info["n_duplicate_demographic_rows"] = int(per_pid.index.duplicated().sum())
        per_pid = per_pid[~per_pid.index.duplicated(keep="first")]
        absent = sorted(set(pids.tolist()) - set(per_pid.index))
        info["n_participants_without_demographics"] = len(absent)
        if absent:
            warn.append(f"{len(absent)} pid(s) not in {path.name} (e.g. {absent[0]}): attributes 'missing'")
        attributes = per_pid.reindex(pids).reset_index(drop=True)
    else:
        message = "no GLOBEM demographics given (demographics=PATH); the dataset has no protected attributes"
        warn.append(message)
        warnings.warn(message, stacklevel=2)
    info["warnings"] = warn

    return WindowDataset.build(
        X,
        y,
        subject=subject,
        split=split,
        attributes=attributes,
        window_id=window_id.to_numpy(),
        channel_names=chosen,
        name="globem-dep-weekly",
        mask=mask,
        info=info,
    )
