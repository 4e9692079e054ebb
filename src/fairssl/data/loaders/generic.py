"""Bring-your-own-data loaders: ready-made window arrays, or a long table to be windowed.

- :func:`load_arrays` (source ``arrays``): an ``.npz`` with ``X`` (N, C, T) and ``y``, or a folder with
  ``X.npy`` (memory-mapped) plus a metadata table (one row per window).
- :func:`load_long_table` (source ``long``): a CSV/parquet long table (one row per subject and time step),
  cut into windows by :mod:`fairssl.data.windowing`, joined with a per-subject demographics table.

Both return a validated :class:`~fairssl.data.dataset.WindowDataset` with a subject-disjoint split
(created stratified by "subject has any positive window" when the data has none), and both standardise
each channel with statistics of the *training* split only (``scaling``). Every user error is a one-line
:class:`~fairssl.errors.DataError` or :class:`~fairssl.errors.ConfigError`.

Order of preparation: split (per subject) -> imputation (in data units, fills from training rows) ->
windows -> scaling fitted on the observed (not imputed) values of the training windows, applied to all.
Imputing first keeps a fill's meaning the same with or without scaling (``"zero"`` is a 0 in the data's
units, i.e. ``-centre/scale`` after scaling; ``"mean"`` lands at about 0); fitting on observed values
only keeps imputed values from shrinking the SD. ``scaling="none"`` leaves X bit-identical.

Options of ``long`` (``data.options`` in a study file; ``window`` is required):

===================  ==============  =========================================================================
option               default         meaning
===================  ==============  =========================================================================
window               (required)      rows per window (T)
stride               1               rows between the starts of consecutive windows
subject_col          "subject"       column with the subject (person) id
time_col             "time"          column ordering each subject's rows (number, datetime or ISO text)
label_col            "label"         numeric label column; NaN rows are unlabelled
channels             all numeric     channel columns (default: every numeric column other than the id, time,
                                     label, split and attribute columns)
label_rule           "last"          window label: the "last", "center", "any" or "majority" row label
demographics         None            table with one row per subject holding the protected attributes
demographics_id_col  subject_col     id column of the demographics table
attributes           all / none      attribute columns (default: every demographics column; none from the long
                                     table)
split_col            None            column with train/val/test per subject; None draws a split by subject
fractions            (.7, .15, .15)  train/val/test fractions of subjects when the split is drawn
seed                 0               seed of the drawn split
impute               None            "ffill", "mean" or "zero" for NaN/Inf (fills from training rows); None
                                     makes NaN/Inf an error
min_coverage         0.0             drop windows with a smaller fraction of observed (not imputed) values
max_gap              None            drop windows spanning a step between consecutive rows larger than this: a
                                     number in time_col's units, or a duration ("2D", "36h") for dates; None
                                     counts rows only
scaling              "standard"      per-channel scaling fitted on the training windows: "standard" (mean/SD),
                                     "robust" (median, 5-95% range) or "none" (values unchanged)
clip                 None            bound scaled values to [-clip, clip] (GLOBEM's pipeline uses 2)
binary               True            labels must be 0/1
===================  ==============  =========================================================================

``arrays`` takes ``metadata``, ``attributes``, ``channel_names``, ``binary``, ``impute`` ("zero",
"mean", "ffill" over each window; fills from training windows), ``fractions``, ``seed``, ``scaling``
("standard") and ``clip`` (None) with the same meanings.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairssl.data.dataset import WindowDataset
from fairssl.data.loaders.checks import check_labels, normalise_split
from fairssl.data.loaders.files import load_npy, read_npz, read_table, require_file
from fairssl.data.loaders.long_table import load_long_table
from fairssl.data.magnitude import too_large, too_large_message
from fairssl.data.scaling import check_scaling, scale_train_fitted
from fairssl.data.splits import check_disjoint, subject_split
from fairssl.data.windowing import (
    IMPUTE_METHODS,
    Impute,
    check_columns,
    impute_windows,
)
from fairssl.errors import ConfigError, DataError

_METADATA_NAMES = ("metadata.parquet", "metadata.csv", "windows.parquet", "windows.csv")
_RESERVED = ("window_id", "subject", "split", "y", "y_clean", "row")
_CHUNK = 4096


# ---------------------------------------------------------------------------------------------- values
def _scan_values(X: np.ndarray) -> dict[str, tuple[int, int, int, float]]:
    """First bad value of X (N, C, T), read in chunks: ``"nonfinite"`` (NaN/Inf) and ``"too_large"``
    (beyond 1e20 or float32's range) -> (count, window row, channel, value)."""
    found: dict[str, tuple[int, int, int, float]] = {}
    for lo in range(0, X.shape[0], _CHUNK):
        xb = np.asarray(X[lo : lo + _CHUNK])
        for key, bad in (("nonfinite", ~np.isfinite(xb)), ("too_large", too_large(xb))):
            n_bad = int(bad.sum())
            if not n_bad:
                continue
            count, row, chan, value = found.get(key, (0, -1, -1, 0.0))
            if row < 0:
                i, chan, t = (int(v) for v in np.argwhere(bad)[0])
                row, value = lo + i, float(xb[i, chan, t])
            found[key] = (count + n_bad, row, chan, value)
    return found


def _clean_values(
    X: np.ndarray,
    mask: np.ndarray | None,
    *,
    split: np.ndarray,
    impute: Impute | None,
    window_name: Any,
    notes: list[str],
) -> tuple[np.ndarray, np.ndarray | None]:
    """Raise on too-large values; impute NaN/Inf (train-window statistics) or raise without ``impute``."""
    if impute is not None and impute not in IMPUTE_METHODS:
        raise ConfigError(f"unknown impute {impute!r}; allowed: None, {', '.join(IMPUTE_METHODS)}")
    found = _scan_values(X)
    if "too_large" in found:
        count, row, chan, value = found["too_large"]
        raise DataError(too_large_message(value, f"window {window_name(row)!r}, channel {chan}", count))
    if "nonfinite" not in found:
        return X, mask
    count, row, chan, _ = found["nonfinite"]
    if impute is None:
        raise DataError(
            f"X holds {count} NaN/Inf values (first at window {window_name(row)!r}, channel {chan}); "
            f"pass impute= one of {', '.join(IMPUTE_METHODS)} or clean the arrays"
        )
    X, observed = impute_windows(X, method=impute, fit_index=np.flatnonzero(split == "train"))
    notes.append(f"{count} NaN/Inf values imputed ({impute}, train-window statistics)")
    return X, observed if mask is None else (np.asarray(mask, dtype=bool) & observed)


# ---------------------------------------------------------------------------------------------- arrays
def _find_metadata(folder: Path, metadata: str | Path | None) -> Path:
    if metadata is not None:
        meta_path = Path(metadata)
        return meta_path if meta_path.is_absolute() or meta_path.exists() else folder / meta_path
    for name in _METADATA_NAMES:
        if (folder / name).is_file():
            return folder / name
    present = sorted(p.name for p in folder.iterdir())
    raise DataError(
        f"{folder} has no metadata table ({' or '.join(_METADATA_NAMES)}); found {present[:10]}: "
        "add one row per window of X.npy (y, subject, ...) or pass metadata="
    )


def _read_folder(
    p: Path, metadata: str | Path | pd.DataFrame | None
) -> tuple[np.ndarray, np.ndarray | None, pd.DataFrame]:
    """(X memmap, mask memmap or None, metadata table) of a folder holding X.npy."""
    try:
        X = load_npy(p / "X.npy")
    except FileNotFoundError as exc:
        raise DataError(f"{p} has no X.npy; save the windows (N, C, T) there with numpy.save") from exc
    mask = load_npy(p / "mask.npy") if (p / "mask.npy").is_file() else None
    meta = (
        metadata.reset_index(drop=True)
        if isinstance(metadata, pd.DataFrame)
        else read_table(_find_metadata(p, metadata))
    )
    return X, mask, meta


def _read_archive(
    p: Path, metadata: str | Path | pd.DataFrame | None
) -> tuple[np.ndarray, np.ndarray | None, pd.DataFrame, list[str] | None]:
    """(X, mask or None, metadata table, channel names or None) of an .npz archive (plus ``metadata``)."""
    arrays = read_npz(p)
    for key in ("X", "y"):
        if key not in arrays and not (key == "y" and metadata is not None):
            raise DataError(
                f"{p} has no {key!r} array; found keys {sorted(arrays)}: save X and y with numpy.savez"
            )
    X = arrays.pop("X")
    mask = arrays.pop("mask", None)
    names = [str(c) for c in arrays.pop("channel_names")] if "channel_names" in arrays else None
    n_x = X.shape[0] if X.ndim >= 1 else 0
    for key, value in arrays.items():
        if value.ndim != 1 or value.shape[0] != n_x:
            raise DataError(
                f"array {key!r} in {p.name} has shape {value.shape} but X has {n_x} windows; "
                "give one value per window"
            )
    meta = pd.DataFrame(arrays)
    if metadata is not None:
        extra = metadata if isinstance(metadata, pd.DataFrame) else read_table(require_file(metadata))
        if len(extra) != len(meta):
            raise DataError(
                f"metadata has {len(extra)} rows but X has {n_x} windows; give one metadata row per window"
            )
        meta = pd.concat([meta, extra.reset_index(drop=True)], axis=1)
        meta = meta.loc[:, ~meta.columns.duplicated(keep="last")]
    return X, mask, meta, names


def load_arrays(
    path: str | Path,
    *,
    metadata: str | Path | pd.DataFrame | None = None,
    attributes: Sequence[str] | None = None,
    channel_names: Sequence[str] | None = None,
    binary: bool = True,
    impute: Impute | None = None,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int = 0,
    scaling: str = "standard",
    clip: float | None = None,
    name: str | None = None,
) -> WindowDataset:
    """Load ready-made windows: an ``.npz`` file or a folder holding ``X.npy`` and a metadata table.

    ``.npz`` keys: ``X`` (N, C, T), ``y`` (N,); optional ``subject``, ``split``, ``window_id``,
    ``y_clean``, ``mask`` (N, C, T), ``channel_names`` (C,); every other 1-D key of length N is a
    protected attribute. A ``metadata`` table (rows = windows) may replace or extend these keys.

    Folder: ``X.npy`` is opened with ``mmap_mode="r"`` (a read-only ``np.memmap``) and the metadata table
    (``metadata.parquet|csv`` or ``windows.parquet|csv``, or ``metadata=``) has columns ``y`` and optional
    ``window_id``, ``subject``, ``split``, ``y_clean``, ``row`` (the X row of each record, if the table
    is not in X's order); other columns are attributes (or only those named in ``attributes``). An
    optional ``mask.npy`` is memory-mapped too. ``X`` stays memory-mapped (never copied) only with
    ``scaling="none"`` and no imputation; scaling writes a scaled float32 copy in memory.

    Without ``subject`` every window is its own subject (noted in ``info``); without ``split`` one is drawn
    subject-disjointly (``fractions``, ``seed``), stratified by "subject has a positive window".
    NaN/Inf in X is an error unless ``impute`` ("zero", "mean", "ffill": means fitted on train windows),
    which makes an in-memory copy and a mask. Values beyond 1e20 are an error
    (:mod:`fairssl.data.magnitude`). ``scaling`` ("standard", "robust", "none") and ``clip``: see
    :mod:`fairssl.data.scaling`; fitted on the training windows' observed values only.
    """
    check_scaling(scaling, clip)
    p = require_file(path)
    if p.is_dir():
        X, mask, meta_table = _read_folder(p, metadata)
        names = channel_names
    else:
        X, mask, meta_table, stored_names = _read_archive(p, metadata)
        names = channel_names if channel_names is not None else stored_names
    if X.ndim != 3:
        raise DataError(f"X must be a 3-D array (windows, channels, time); got shape {X.shape}")
    return _assemble(
        X,
        meta_table,
        mask=mask,
        attributes=attributes,
        channel_names=names,
        binary=binary,
        impute=impute,
        fractions=fractions,
        seed=seed,
        scaling=scaling,
        clip=clip,
        name=name or p.stem,
        source=str(p),
    )


def _order_by_row(meta: pd.DataFrame, n: int) -> pd.DataFrame:
    """``meta`` put in X's row order by its ``row`` column (if any)."""
    if "row" not in meta.columns:
        return meta
    rows = pd.to_numeric(meta["row"], errors="coerce").to_numpy()
    if not np.array_equal(np.sort(rows), np.arange(n)):
        raise DataError(
            f"metadata column 'row' must be a permutation of 0..{n - 1} (the X row of each record)"
        )
    return meta.iloc[np.argsort(rows)].reset_index(drop=True)


def _assemble(
    X: np.ndarray,
    meta: pd.DataFrame,
    *,
    mask: np.ndarray | None,
    attributes: Sequence[str] | None,
    channel_names: Sequence[str] | None,
    binary: bool,
    impute: Impute | None,
    fractions: Sequence[float],
    seed: int,
    scaling: str,
    clip: float | None,
    name: str,
    source: str,
) -> WindowDataset:
    n = X.shape[0]
    check_columns(meta, ["y"], source="the metadata")
    if len(meta) != n:
        raise DataError(
            f"metadata has {len(meta)} rows but X has {n} windows; give one metadata row per window"
        )
    meta = _order_by_row(meta, n)
    if attributes is None:
        attr_cols = [c for c in meta.columns if c not in _RESERVED]
    else:
        attr_cols = list(attributes)
        check_columns(meta, attr_cols, source="the metadata")
    notes: list[str] = []
    if "subject" in meta.columns:
        subject = meta["subject"].astype(str).to_numpy(dtype=object)
    else:
        subject = np.array([f"s{i}" for i in range(n)], dtype=object)
        notes.append("no subject ids: every window is its own subject, so the split is by window")
    split = normalise_split(meta["split"]) if "split" in meta.columns else None
    y = check_labels(meta["y"].to_numpy(), binary=binary, split=split)
    if split is None:
        split = subject_split(subject, fractions=fractions, seed=seed, stratify=y)
        notes.append(
            f"split drawn by subject (fractions {list(fractions)}, seed {seed}, stratified by outcome)"
        )
    else:
        check_disjoint(subject, split)

    ids = meta["window_id"] if "window_id" in meta.columns else None
    X, mask = _clean_values(
        X, mask, split=split, impute=impute, notes=notes,
        window_name=lambda row: str(ids.iloc[row]) if ids is not None else f"w{row}",
    )  # fmt: skip
    names = list(channel_names) if channel_names is not None else [f"ch{i}" for i in range(X.shape[1])]
    if len(names) != X.shape[1]:
        raise DataError(f"{len(names)} channel names given for {X.shape[1]} channels; give one per channel")
    X, scale_info = scale_train_fitted(X, split, method=scaling, clip=clip, mask=mask, channel_names=names)
    return WindowDataset.build(
        X,
        y,
        subject=subject,
        split=split,
        attributes=meta[attr_cols] if attr_cols else None,
        window_id=ids.to_numpy() if ids is not None else None,
        channel_names=names,
        name=name,
        y_clean=meta["y_clean"].to_numpy() if "y_clean" in meta.columns else None,
        mask=mask,
        info={"source": source, "notes": notes, **scale_info},
    )


__all__ = ["check_labels", "load_arrays", "load_long_table", "read_table"]
