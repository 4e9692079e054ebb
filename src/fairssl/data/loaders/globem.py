"""Loader for GLOBEM (Xu et al. 2022): self-reported depression from daily phone/wearable features.

Layout (see :mod:`fairssl.data.loaders.globem_layout`): ``root/INS-W_k`` (or the sample's
``INS-W-sample_k``) with ``FeatureData/*.csv`` and ``SurveyData/{label}.csv`` indexed by ``pid,date``.
``label``: ``"dep_weekly"`` (default; post + weekly EMA surveys) or ``"dep_endterm"`` (post survey only);
``y`` = its ``dep`` column (True/False or 1/0; blank rows skipped and counted).

A window is the ``window_days`` (28) daily feature vectors ending on the label date, inclusive
(days d-27 .. d, as GLOBEM's ``data_loader_ml``). A day without a feature row is NaN; ``mask`` is True
where a value was recorded. Windows with fewer than ``min_observed_days`` recorded days are dropped.

Features: ``"globem54"`` (default) is the 54-feature list GLOBEM's deep models read
(:data:`~fairssl.data.loaders.globem_layout.DL_FEATURES`); ``"all"`` takes every numeric column present
in every loaded year, minus those never recorded in training (counted); or a list of names.

Imputation: forward fill within the window, then the training median of the feature. Scaling (C
channels; statistics over the daily rows of the training participants, each day once), with
:func:`fairssl.data.scaling.fit_scaler`:

- ``"robust"`` (default): ``clip((x - median) / (q95 - q5), -2, 2)``, GLOBEM's quantile range and clip
  bound (``normalize_along_axis`` in its ``data_loader_dl.py``; GLOBEM computes these per window along
  the days, here they are fitted once on training rows so no statistic comes from validation/test).
- ``"standard"``: ``(x - mean) / sd``, no clip unless ``clip`` is given; ``"none"``: raw values.
- ``_norm`` features (already divided by the person's own 5-95% range in the release) are left as
  released, as GLOBEM does. A good scaled channel has training median 0 and most values within [-2, 2].

Splits: every year except ``holdout`` (default the last) is ``train``; the holdout year's participants
are split into ``val``/``test`` by subject with ``seed``. Returning participants (a new pid each
year; :mod:`~fairssl.data.loaders.globem_people`): with a person map each person is one subject
``person:{id}``; with GLOBEM's ``overlapping_pids.json`` (found beside the data, or ``overlap=PATH``)
the holdout-year pids it lists as returning are known but cannot be paired. Either way a holdout-year
participant who also appears in a training year never reaches val/test: ``returning = "drop"``
(default; their holdout windows are dropped) or ``"train"`` (their holdout windows join train).
Without a linkage file a warning says val/test may hold returning people. Other subjects are
``"{folder}:{pid}"``; window id ``"{folder}:{pid}:{YYYY-MM-DD}"``.

Demographics (``PID, gender, age, race, generation, disability``; on request from the GLOBEM team):
``demographics=PATH`` (one file, joined on PID) or, when not given, each year's
``ParticipantsInfoData/demographics.csv`` (joined on the year's pids), else ``root/demographics.csv``.
Attributes: ``gender``
(Male/Female by whole word), ``race``, ``disability``, ``generation``, ``age`` ("<25"/">=25");
blank or declined answers are ``missing``. Without demographics there are no attributes (a warning).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairssl.data.dataset import WindowDataset
from fairssl.data.loaders.globem_layout import (
    LABELS,
    choose_features,
    find_institutes,
    read_features,
    read_labels,
    resolve_holdout,
    year_key,
)
from fairssl.data.loaders.globem_people import (
    Linkage,
    find_overlap_file,
    globem_attributes,
    read_demographics,
    read_linkage,
)
from fairssl.data.scaling import check_scaling, fit_scaler
from fairssl.data.splits import pick_subjects
from fairssl.errors import ConfigError, DataError

_CHUNK = 1024
_RETURNING = ("drop", "train")
ROBUST_CLIP = 2.0
"""GLOBEM clips robust-scaled features to [-2, 2] (``normalize_along_axis``)."""

# Where to obtain the source and the files it needs, for `fairssl data` (keys: fairssl.cli_data).
OBTAIN: dict[str, str] = {
    "title": "GLOBEM (Xu et al. 2022): four years of phone and wearable data with depression surveys",
    "url": "https://physionet.org/content/globem/ (release); https://github.com/UW-EXP/GLOBEM (sample, code)",
    "access": "PhysioNet credentialed access and data use agreement; demographics on request from the "
    "GLOBEM team",
}
EXPECTED_FILES: tuple[dict[str, Any], ...] = (
    {
        "glob": ("INS-W_*/FeatureData/*.csv", "INS-W-sample_*/FeatureData/*.csv"),
        "header": ("pid", "date"),
        "what": "daily feature files",
    },
    {
        "glob": ("INS-W_*/SurveyData/dep_weekly.csv", "INS-W-sample_*/SurveyData/dep_weekly.csv"),
        "what": 'weekly depression labels (label = "dep_weekly", the default)',
        "header": ("pid", "date", "dep"),
    },
    {
        "glob": ("INS-W_*/SurveyData/dep_endterm.csv", "INS-W-sample_*/SurveyData/dep_endterm.csv"),
        "what": 'end-of-term depression labels (label = "dep_endterm")',
        "header": ("pid", "date", "dep"),
        "optional": True,
    },
    {
        "glob": ("INS-W*/ParticipantsInfoData/demographics.csv", "demographics.csv"),
        "what": "demographics (on request; without them there are no attributes)",
        "header": ("PID",),
        "optional": True,
    },
    {"glob": ("overlapping_pids.json",), "what": "returning-participant linkage", "optional": True},
)

__all__ = ["EXPECTED_FILES", "OBTAIN", "globem_attributes", "load_globem"]


def _window_rows(features: pd.DataFrame, labels: pd.DataFrame, window_days: int) -> np.ndarray:
    """Row positions in ``features`` of each label's days d-W+1 .. d; -1 where no row. (L, W) int64."""
    offsets = np.arange(-(window_days - 1), 1)  # (W,) days relative to the label date
    days = labels["date"].to_numpy()[:, None] + offsets[None, :].astype("timedelta64[D]")  # (L, W)
    pids = np.repeat(labels["pid"].to_numpy(), window_days)
    keys = pd.MultiIndex.from_arrays([pids, days.ravel()], names=["pid", "date"])
    return features.index.get_indexer(keys).reshape(len(labels), window_days)


def _forward_fill(block: np.ndarray) -> None:
    """In place: NaN -> last non-NaN earlier day. ``block`` (b, W, C), days on axis 1."""
    for j in range(1, block.shape[1]):  # W steps, each vectorised over (b, C)
        day = block[:, j]
        np.copyto(day, block[:, j - 1], where=np.isnan(day))


def _clip_for(scaling: str, clip: float | bool | None) -> float | None:
    """``None`` -> the method's default (2 for robust, none otherwise); ``False`` -> no clip."""
    if clip is None:
        return ROBUST_CLIP if scaling == "robust" else None
    if clip is False:
        return None
    if clip is True:
        return ROBUST_CLIP
    return float(clip)


def _linkage(root: Path, overlap: str | Path | bool | None, label: str) -> Linkage:
    if overlap is False:
        return Linkage(kind="none")
    path = find_overlap_file(root) if overlap is None or overlap is True else Path(overlap)
    if path is None:
        return Linkage(kind="none")
    return read_linkage(path, label=label)


def _attributes(
    folder: np.ndarray, pid: np.ndarray, root: Path, names: list[str], demographics: Any, age: float
) -> tuple[pd.DataFrame, dict[str, Any], list[str]]:
    """Per-window attributes from one demographics file or the per-year ParticipantsInfoData files."""
    info: dict[str, Any] = {}
    if demographics is not None:
        per_pid, info["n_duplicate_demographic_rows"] = read_demographics(
            Path(demographics), age_threshold=age
        )
        table = per_pid.reindex(pid)
        missing = sorted(set(pid.tolist()) - set(per_pid.index))
        info["demographics"] = str(demographics)
    else:
        files = {n: root / n / "ParticipantsInfoData" / "demographics.csv" for n in names}
        files = {n: p for n, p in files.items() if p.is_file()}
        if not files:
            if (root / "demographics.csv").is_file():
                return _attributes(folder, pid, root, names, root / "demographics.csv", age)
            return pd.DataFrame(index=range(len(pid))), info, []
        parts, n_dup = [], 0
        for name, path in files.items():
            per_pid, dup = read_demographics(path, age_threshold=age)
            n_dup += dup
            per_pid.index = pd.MultiIndex.from_arrays([[name] * len(per_pid), per_pid.index])
            parts.append(per_pid)
        per_key = pd.concat(parts)
        info["n_duplicate_demographic_rows"] = n_dup
        info["demographics"] = f"ParticipantsInfoData/demographics.csv of {sorted(files)}"
        keys = pd.MultiIndex.from_arrays([folder, pid])
        table = per_key.reindex(keys)
        found = set(per_key.index)
        missing = sorted({f"{f}:{p}" for f, p in zip(folder, pid, strict=True) if (f, p) not in found})
    info["n_participants_without_demographics"] = len(missing)
    warn = (
        [f"{len(missing)} pid(s) have no demographics (e.g. {missing[0]}): attributes 'missing'"]
        if missing
        else []
    )
    return table.reset_index(drop=True), info, warn


def load_globem(
    root: str | Path,
    *,
    demographics: str | Path | None = None,
    institutes: Sequence[Any] | None = None,
    features: str | Sequence[str] = "globem54",
    label: str = "dep_weekly",
    window_days: int = 28,
    seed: int = 0,
    holdout: str | int | None = None,
    val_fraction: float = 0.5,
    scaling: str = "robust",
    clip: float | bool | None = None,
    overlap: str | Path | bool | None = None,
    returning: str = "drop",
    age_threshold: float = 25,
    min_observed_days: int = 1,
) -> WindowDataset:
    """Load GLOBEM depression as a :class:`WindowDataset` of (N, C, window_days) windows.

    See the module docstring for the layout, features, imputation, scaling, splits, returning
    participants and attributes. ``info`` holds the counts of every row, window and pid dropped or
    merged, the imputation medians and the scaler's statistics.
    """
    if window_days < 1:
        raise ConfigError(f"window_days must be >= 1; got {window_days}")
    if not 0.0 < val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in (0, 1); got {val_fraction}")
    if label not in LABELS:
        raise ConfigError(f"label = {label!r} is not one of {', '.join(LABELS)}")
    if returning not in _RETURNING:
        raise ConfigError(f"returning = {returning!r} is not one of {', '.join(_RETURNING)}")
    clip_value = _clip_for(scaling, clip)
    check_scaling(scaling, clip_value)
    root = Path(root)
    names = find_institutes(root, institutes)
    hold = resolve_holdout(names, holdout)
    if len(names) < 2:
        raise ConfigError(
            f"only {names} loaded; GLOBEM needs training institute-years and a holdout year (e.g. INS-W_1..4)"
        )
    link = _linkage(root, overlap, label)
    info: dict[str, Any] = {
        "source": "GLOBEM",
        "root": str(root),
        "institutes": names,
        "holdout": hold,
        "label": f"{label}.csv:dep",
        "window_days": window_days,
        "linkage": link.kind,
        "linkage_file": link.path,
        "returning": returning,
    }
    warn: list[str] = []

    tables: dict[str, pd.DataFrame] = {}
    label_tables: dict[str, pd.DataFrame] = {}
    dropped_cols: list[str] = []
    n_blank = n_dup = 0
    for name in names:
        tables[name], dropped = read_features(root / name)
        dropped_cols += [f"{name}/{d}" for d in dropped]
        label_tables[name], blank, dup = read_labels(root / name, label)
        n_blank, n_dup = n_blank + blank, n_dup + dup
    info["n_dropped_non_numeric_columns"] = len(dropped_cols)
    info["dropped_non_numeric_columns"] = dropped_cols[:20]
    info["n_labels_blank"] = n_blank
    info["n_labels_duplicate"] = n_dup
    chosen, info["features"] = choose_features(tables, features, names)

    # ---- one (R, C) table of daily values over all years; window rows index into it
    row_folder = np.concatenate([np.full(len(tables[n]), n, dtype=object) for n in names])
    row_pid = np.concatenate([tables[n].index.get_level_values("pid").to_numpy(dtype=object) for n in names])
    values = np.vstack([tables[n][chosen].to_numpy(dtype=np.float32) for n in names])  # (R, C)
    offsets = np.cumsum([0] + [len(tables[n]) for n in names])
    rows, windows = [], []
    n_few = 0
    for k, name in enumerate(names):
        idx = _window_rows(tables[name], label_tables[name], window_days)  # (L, W)
        keep = (idx >= 0).sum(axis=1) >= min_observed_days
        n_few += int((~keep).sum())
        rows.append(np.where(idx[keep] >= 0, idx[keep] + offsets[k], -1))
        windows.append(label_tables[name][keep].assign(folder=name))
    del tables
    info["n_windows_dropped_too_few_days"] = n_few
    idx_all = np.vstack(rows)  # (N0, W)
    meta = pd.concat(windows, ignore_index=True)
    folder, pid = meta["folder"].to_numpy(dtype=object), meta["pid"].to_numpy(dtype=object)
    key = np.array([f"{p}#{year_key(f)}" for f, p in zip(folder, pid, strict=True)], dtype=object)

    # ---- subjects: every pid of one person -> one subject (person map); returning pids (either file)
    subject = np.array(
        [
            f"person:{link.person[k]}" if k in link.person else f"{f}:{p}"
            for k, f, p in zip(key, folder, pid, strict=True)
        ],
        dtype=object,
    )
    mapped = pd.DataFrame({"key": key, "subject": subject})[np.isin(key, list(link.person))].drop_duplicates()
    per_person = mapped.groupby("subject")["key"].nunique()
    info["n_pids_merged"] = int(per_person[per_person > 1].sum())
    info["n_persons_merged"] = int((per_person > 1).sum())
    held = folder == hold
    train_subjects = set(subject[~held].tolist())
    back = held & (pd.Series(subject).isin(train_subjects).to_numpy() | np.isin(key, list(link.returning)))
    info["n_returning_pids_holdout"] = len(set(key[back].tolist()))
    if link.kind == "none":
        message = (
            "no GLOBEM overlapping_pids.json or person map found: people who return in the holdout year "
            "cannot be recognised and may sit in train and val/test; give overlap=PATH"
        )
        warn.append(message)
        warnings.warn(message, stacklevel=2)
    elif back.any():
        what = "dropped" if returning == "drop" else "moved to train"
        warn.append(
            f"{info['n_returning_pids_holdout']} holdout-year participant(s) also in a training year: their "
            f"{int(back.sum())} holdout window(s) {what} so no person is in both train and val/test"
        )
    info["n_windows_dropped_returning" if returning == "drop" else "n_windows_moved_to_train_returning"] = (
        int(back.sum())
    )
    keep = ~back if returning == "drop" else np.ones(len(back), dtype=bool)
    idx_all, meta, folder, pid, key, subject, held, back = (
        a[keep] for a in (idx_all, meta, folder, pid, key, subject, held, back)
    )
    meta = meta.reset_index(drop=True)
    to_split = held & ~back
    n_new, n_back = len(set(subject[to_split].tolist())), info["n_returning_pids_holdout"]
    if n_new < 2 and n_back:
        raise DataError(
            f"only {n_new} participant(s) of {hold} are new: {n_back} also take part in a training year and "
            "cannot be in val/test; pick another holdout year or load more data"
        )
    val_subjects = pick_subjects(
        subject[to_split],
        fraction=val_fraction,
        seed=seed,
        what="labelled participant(s) in the holdout year",
    )
    split = np.where(~to_split, "train", np.where(np.isin(subject, list(val_subjects)), "val", "test"))

    # ---- training statistics over the daily rows of the training participants (each day once)
    moved = {(f, p) for f, p in zip(folder[held & back], pid[held & back], strict=True)}
    row_train = (row_folder != hold) | np.array(
        [(f, p) in moved for f, p in zip(row_folder, row_pid, strict=True)]
    )
    train_rows = values[row_train]
    never = ~np.isfinite(train_rows).any(axis=0)  # (C,)
    if features == "all" and never.any():
        info["n_features_never_recorded_in_train_dropped"] = int(never.sum())
        values, train_rows = values[:, ~never], train_rows[:, ~never]
        chosen = [c for c, n in zip(chosen, never, strict=True) if not n]
    else:
        info["n_features_never_recorded_in_train"] = int(never.sum())
        if never.any():
            warn.append(f"{int(never.sum())} feature(s) never recorded in training years: imputed as 0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns -> 0 below
        median = np.nan_to_num(np.nanmedian(train_rows.astype(np.float64), axis=0), nan=0.0)
    scaled = np.array([i for i, c in enumerate(chosen) if scaling != "none" and "_norm:" not in c], dtype=int)
    scaler = (
        fit_scaler(train_rows[:, scaled], method=scaling, clip=clip_value, channel_axis=-1)
        if len(scaled)
        else None
    )
    del train_rows
    info["imputation"] = "forward fill within the window, then the training median"
    info["imputation_median"] = {c: float(m) for c, m in zip(chosen, median, strict=True)}
    info.update(
        scaler.info([chosen[i] for i in scaled]) if scaler else {"scaling": "none", "scaling_clip": None}
    )
    info["scaling_fitted_on"] = "daily rows of the training participants"
    info["n_norm_features_left_as_released"] = sum("_norm:" in c for c in chosen)

    # ---- windows: gather days, record the mask, impute, scale; chunk by chunk into X
    n, c = len(idx_all), len(chosen)
    X = np.empty((n, c, window_days), dtype=np.float32)
    mask = np.empty((n, c, window_days), dtype=bool)
    values = np.vstack([values, np.full((1, c), np.nan, dtype=np.float32)])  # last row = "no data"
    idx_all = np.where(idx_all >= 0, idx_all, len(values) - 1)
    fill = median.astype(np.float32)[None, None, :]
    for s in range(0, n, _CHUNK):
        block = values[idx_all[s : s + _CHUNK]]  # (b, W, C)
        out = slice(s, s + len(block))
        mask[out] = ~np.isnan(block).transpose(0, 2, 1)  # (b, C, W)
        _forward_fill(block)
        np.copyto(block, np.broadcast_to(fill, block.shape), where=np.isnan(block))
        if scaler is not None:
            block[..., scaled] = scaler.transform(block[..., scaled], channel_axis=-1)
        X[out] = block.transpose(0, 2, 1)  # (b, C, W)

    dates = meta["date"].dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
    window_id = np.array([f"{f}:{p}:{d}" for f, p, d in zip(folder, pid, dates, strict=True)], dtype=object)
    attributes, demo_info, demo_warn = _attributes(folder, pid, root, names, demographics, age_threshold)
    info.update(demo_info)
    warn += demo_warn
    if not demo_info:
        message = "no GLOBEM demographics given (demographics=PATH); the dataset has no protected attributes"
        warn.append(message)
        warnings.warn(message, stacklevel=2)
    info["warnings"] = warn
    return WindowDataset.build(
        X,
        meta["y"].to_numpy(),
        subject=subject,
        split=split,
        attributes=attributes,
        window_id=window_id,
        channel_names=chosen,
        name=f"globem-{label.replace('_', '-')}",
        mask=mask,
        info=info,
    )
