"""Bring-your-own-data loaders: ready-made window arrays, or a long table to be windowed.

- :func:`load_arrays`: an ``.npz`` with ``X`` (N, C, T) and ``y``, or a folder with ``X.npy``
  (memory-mapped, never copied) plus a metadata table (one row per window).
- :func:`load_long_table`: a CSV/parquet long table (one row per subject and time step), cut into
  windows by :mod:`fairssl.data.windowing`, joined with a per-subject demographics table.

Both return a validated :class:`~fairssl.data.dataset.WindowDataset` with a subject-disjoint split
(created stratified by "subject has any positive window" when the data has none). Every user error is a
one-line :class:`~fairssl.errors.DataError`.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairssl.data.dataset import MISSING, SPLITS, WindowDataset
from fairssl.data.splits import check_disjoint, subject_split
from fairssl.data.windowing import (
    IMPUTE_METHODS,
    Impute,
    LabelRule,
    check_columns,
    check_window_fits,
    impute_windows,
    windows_from_long,
)
from fairssl.errors import ConfigError, DataError

_METADATA_NAMES = ("metadata.parquet", "metadata.csv", "windows.parquet", "windows.csv")
_RESERVED = ("window_id", "subject", "split", "y", "y_clean", "row")
_SPLIT_ALIASES = {"validation": "val", "valid": "val", "dev": "val", "training": "train", "testing": "test"}
_FINITE_CHUNK = 4096


# ---------------------------------------------------------------------------------------------- files
def _require_file(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        raise DataError(f"file not found: {p}; check the path")
    return p


def _check_csv_complete(path: Path) -> None:
    """Raise if the file's last line was cut mid-row (no final newline and fewer fields than the header)."""
    with path.open("rb") as fh:
        header = fh.readline()
        fh.seek(0, io.SEEK_END)
        size = fh.tell()
        if size == 0:
            raise DataError(f"{path} is empty (0 bytes); re-export the table")
        fh.seek(max(0, size - 65536))
        tail = fh.read()
    if tail.endswith(b"\n"):
        return
    last = tail.rsplit(b"\n", 1)[-1]
    n_header = len(next(csv.reader([header.decode("utf-8", "replace")]), []))
    n_last = len(next(csv.reader([last.decode("utf-8", "replace")]), []))
    if n_last < n_header:
        raise DataError(
            f"{path} is truncated: its last line has {n_last} of {n_header} fields and no line end; "
            "re-export or re-download the file"
        )


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV (optionally compressed) or parquet table; missing, empty, cut or corrupt files raise."""
    p = _require_file(path)
    if p.is_dir():
        raise DataError(f"{p} is a folder, expected a .csv or .parquet file")
    suffixes = "".join(p.suffixes).lower()
    try:
        if suffixes.endswith((".parquet", ".pq")):
            return pd.read_parquet(p)
        if ".csv" in suffixes or suffixes.endswith(".tsv"):
            if suffixes.endswith((".csv", ".tsv")):
                _check_csv_complete(p)
            return pd.read_csv(p, sep="\t" if suffixes.endswith(".tsv") else ",", low_memory=False)
    except DataError:
        raise
    except (OSError, ValueError, EOFError, UnicodeDecodeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{p} is truncated or corrupt ({reason}); re-export or re-download it") from exc
    raise DataError(f"unsupported table format {p.name!r}; use .csv, .csv.gz, .tsv or .parquet")


# ---------------------------------------------------------------------------------------------- checks
def check_labels(y: Any, *, binary: bool = True, split: np.ndarray | None = None) -> np.ndarray:
    """Labels (N,) -> int64, or a one-line :class:`DataError` saying which values were found.

    Labels must be integers >= 0; -1 (unlabelled) is allowed only where ``split == "pool"``. With
    ``binary`` the labelled values must lie in {0, 1}.
    """
    raw = pd.Series(np.asarray(y, dtype=object) if np.asarray(y).dtype.kind in "OUS" else np.asarray(y))
    numeric = pd.to_numeric(raw, errors="coerce")
    bad_text = raw.notna() & numeric.isna()
    if bad_text.any():
        found = sorted(map(str, pd.unique(raw[raw.notna()])))[:6]
        raise DataError(f"labels are not numeric: found values {found}; encode the classes as integers 0/1")
    values = numeric.to_numpy(dtype=float)
    if np.isnan(values).any():
        raise DataError(
            f"labels hold {int(np.isnan(values).sum())} missing values; drop those windows "
            "or put them in the 'pool' split with label -1"
        )
    if not np.all(values == np.round(values)):
        found = sorted(pd.unique(values[values != np.round(values)]).tolist())[:6]
        raise DataError(f"labels are not integers: found values such as {found}; encode the classes as 0/1")
    labels = values.astype(np.int64)
    labelled = np.ones(len(labels), dtype=bool) if split is None else np.asarray(split) != "pool"
    found_all = sorted(np.unique(labels[labelled]).tolist())
    if binary and not set(found_all) <= {0, 1}:
        raise DataError(
            f"labels are not binary: found values {found_all[:10]}; map them to 0/1 or pass binary=False"
        )
    if (labels[labelled] < 0).any():
        raise DataError(
            f"labels must be >= 0 outside the 'pool' split; found values {found_all[:10]}; "
            "-1 marks unlabelled pool windows only"
        )
    return labels


def _normalise_split(split: Any) -> np.ndarray:
    names = pd.Series(np.asarray(split, dtype=object)).astype(str).str.strip().str.lower()
    names = names.map(lambda s: _SPLIT_ALIASES.get(s, s))
    bad = sorted(set(names) - set(SPLITS))
    if bad:
        raise DataError(f"unknown split name(s) {bad[:5]}; allowed: {', '.join(SPLITS)}")
    out = names.to_numpy(dtype=object)
    for s in ("train", "val", "test"):
        if not (out == s).any():
            raise DataError(f"the '{s}' split is empty; every dataset needs train, val and test windows")
    return out


def _first_nonfinite(X: np.ndarray) -> tuple[int, int, int] | None:
    """(count, first window row, first channel) of NaN/Inf in X (N, C, T), scanning in chunks."""
    count, first = 0, None
    for lo in range(0, X.shape[0], _FINITE_CHUNK):
        bad = ~np.isfinite(np.asarray(X[lo : lo + _FINITE_CHUNK]))
        n_bad = int(bad.sum())
        if n_bad and first is None:
            i, c, _ = np.argwhere(bad)[0]
            first = (lo + int(i), int(c))
        count += n_bad
    return None if first is None else (count, first[0], first[1])


# ---------------------------------------------------------------------------------------------- arrays
def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {k: archive[k] for k in archive.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise DataError(
                f"{path} holds object arrays, which are not loaded for safety; save ids and attributes "
                "as strings (array.astype(str)) and NaN-free"
            ) from exc
        raise DataError(f"{path} is truncated or corrupt ({exc}); re-create the .npz") from exc
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        reason = str(exc) or type(exc).__name__
        raise DataError(f"{path} is truncated or corrupt ({reason}); re-create the .npz") from exc


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
    name: str | None = None,
) -> WindowDataset:
    """Load ready-made windows: an ``.npz`` file or a folder holding ``X.npy`` and a metadata table.

    ``.npz`` keys: ``X`` (N, C, T), ``y`` (N,); optional ``subject``, ``split``, ``window_id``,
    ``y_clean``, ``mask`` (N, C, T), ``channel_names`` (C,); every other 1-D key of length N is a
    protected attribute. A ``metadata`` table (rows = windows) may replace or extend these keys.

    Folder: ``X.npy`` is opened with ``mmap_mode="r"`` (a read-only ``np.memmap``, never copied unless
    ``impute`` is asked) and the metadata table (``metadata.parquet|csv`` or ``windows.parquet|csv``, or
    ``metadata=``) has columns ``y`` and optional ``window_id``, ``subject``, ``split``, ``y_clean``,
    ``row`` (the X row of each record, if the table is not in X's order); other columns are attributes
    (or only those named in ``attributes``). An optional ``mask.npy`` is memory-mapped too.

    Without ``subject`` every window is its own subject (noted in ``info``); without ``split`` one is drawn
    subject-disjointly (``fractions``, ``seed``), stratified by "subject has a positive window".
    NaN/Inf in X is an error unless ``impute`` ("zero", "mean", "ffill": means fitted on train windows),
    which makes an in-memory copy and a mask.
    """
    p = _require_file(path)
    meta_table: pd.DataFrame | None = None
    mask: np.ndarray | None = None
    names: Sequence[str] | None = channel_names
    if p.is_dir():
        try:
            X = np.load(p / "X.npy", mmap_mode="r")
        except FileNotFoundError as exc:
            raise DataError(f"{p} has no X.npy; save the windows (N, C, T) there with numpy.save") from exc
        except (OSError, ValueError, EOFError) as exc:
            raise DataError(f"{p / 'X.npy'} is truncated or corrupt ({exc}); re-create it") from exc
        if (p / "mask.npy").is_file():
            try:
                mask = np.load(p / "mask.npy", mmap_mode="r")
            except (OSError, ValueError, EOFError) as exc:
                raise DataError(f"{p / 'mask.npy'} is truncated or corrupt ({exc}); re-create it") from exc
        meta_table = (
            metadata.reset_index(drop=True)
            if isinstance(metadata, pd.DataFrame)
            else read_table(_find_metadata(p, metadata))
        )
    else:
        arrays = _read_npz(p)
        for key in ("X", "y"):
            if key not in arrays and not (key == "y" and metadata is not None):
                raise DataError(
                    f"{p} has no {key!r} array; found keys {sorted(arrays)}: save X and y with numpy.savez"
                )
        X = arrays.pop("X")
        mask = arrays.pop("mask", None)
        if names is None and "channel_names" in arrays:
            names = [str(c) for c in arrays.pop("channel_names")]
        arrays.pop("channel_names", None)
        n_x = X.shape[0] if X.ndim >= 1 else 0
        for key, value in arrays.items():
            if value.ndim != 1 or value.shape[0] != n_x:
                raise DataError(
                    f"array {key!r} in {p.name} has shape {value.shape} but X has {n_x} windows; "
                    "give one value per window"
                )
        meta_table = pd.DataFrame(arrays)
        if metadata is not None:
            extra = metadata if isinstance(metadata, pd.DataFrame) else read_table(_require_file(metadata))
            if len(extra) != len(meta_table):
                raise DataError(
                    f"metadata has {len(extra)} rows but X has {n_x} windows; "
                    "give one metadata row per window"
                )
            meta_table = pd.concat([meta_table, extra.reset_index(drop=True)], axis=1)
            meta_table = meta_table.loc[:, ~meta_table.columns.duplicated(keep="last")]
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
        name=name or p.stem,
        source=str(p),
    )


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
    name: str,
    source: str,
) -> WindowDataset:
    n = X.shape[0]
    check_columns(meta, ["y"], source="the metadata")
    if len(meta) != n:
        raise DataError(
            f"metadata has {len(meta)} rows but X has {n} windows; give one metadata row per window"
        )
    if "row" in meta.columns:
        rows = pd.to_numeric(meta["row"], errors="coerce").to_numpy()
        if not np.array_equal(np.sort(rows), np.arange(n)):
            raise DataError(
                f"metadata column 'row' must be a permutation of 0..{n - 1} (the X row of each record)"
            )
        meta = meta.iloc[np.argsort(rows)].reset_index(drop=True)
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
    split = _normalise_split(meta["split"]) if "split" in meta.columns else None
    y = check_labels(meta["y"].to_numpy(), binary=binary, split=split)
    if split is None:
        split = subject_split(subject, fractions=fractions, seed=seed, stratify=y)
        notes.append(
            f"split drawn by subject (fractions {list(fractions)}, seed {seed}, stratified by outcome)"
        )
    else:
        check_disjoint(subject, split)

    bad = _first_nonfinite(X)
    if bad is not None:
        count, row, chan = bad
        wid = meta["window_id"].iloc[row] if "window_id" in meta.columns else f"w{row}"
        if impute is None:
            raise DataError(
                f"X holds {count} NaN/Inf values (first at window {str(wid)!r}, channel {chan}); "
                f"pass impute= one of {', '.join(IMPUTE_METHODS)} or clean the arrays"
            )
        X, observed = impute_windows(X, method=impute, fit_index=np.flatnonzero(split == "train"))
        mask = observed if mask is None else (np.asarray(mask, dtype=bool) & observed)
        notes.append(f"{count} NaN/Inf values imputed ({impute}, train-window statistics)")
    elif impute is not None and impute not in IMPUTE_METHODS:
        raise ConfigError(f"unknown impute {impute!r}; allowed: None, {', '.join(IMPUTE_METHODS)}")

    return WindowDataset.build(
        X,
        y,
        subject=subject,
        split=split,
        attributes=meta[attr_cols] if attr_cols else None,
        window_id=meta["window_id"].to_numpy() if "window_id" in meta.columns else None,
        channel_names=channel_names,
        name=name,
        y_clean=meta["y_clean"].to_numpy() if "y_clean" in meta.columns else None,
        mask=mask,
        info={"source": source, "notes": notes},
    )


# ---------------------------------------------------------------------------------------------- long
def _demographics_frame(
    demographics: str | Path | pd.DataFrame, id_col: str, attributes: Sequence[str] | None
) -> tuple[pd.DataFrame, list[str]]:
    demo = demographics.copy() if isinstance(demographics, pd.DataFrame) else read_table(demographics)
    check_columns(demo, [id_col], source="the demographics table")
    attr_cols = [c for c in demo.columns if c != id_col] if attributes is None else list(attributes)
    check_columns(demo, attr_cols, source="the demographics table")
    demo[id_col] = demo[id_col].astype(str)
    dup = demo[id_col].duplicated()
    if dup.any():
        raise DataError(
            f"the demographics table has {int(dup.sum())} duplicate id(s) in {id_col!r} "
            f"(e.g. {str(demo.loc[dup, id_col].iloc[0])!r}); keep one row per subject"
        )
    return demo.set_index(id_col)[attr_cols], attr_cols


def load_long_table(
    path: str | Path | pd.DataFrame,
    *,
    subject_col: str = "subject",
    time_col: str = "time",
    label_col: str = "label",
    channels: Sequence[str] | None = None,
    window: int,
    stride: int = 1,
    label_rule: LabelRule = "last",
    demographics: str | Path | pd.DataFrame | None = None,
    demographics_id_col: str | None = None,
    attributes: Sequence[str] | None = None,
    split_col: str | None = None,
    impute: Impute | None = None,
    min_coverage: float = 0.0,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int = 0,
    binary: bool = True,
    name: str | None = None,
) -> WindowDataset:
    """Load a long table (CSV/parquet or DataFrame: one row per subject and time step) as windows.

    ``channels`` None = every numeric column other than the subject, time, label, split and attribute
    columns. Windows of ``window`` rows every ``stride`` rows, labelled by ``label_rule`` (see
    :func:`fairssl.data.windowing.windows_from_long`).

    Protected attributes come from ``demographics`` (a table with one row per subject, joined on
    ``demographics_id_col``, default ``subject_col``; ``attributes`` picks columns, default all) or, without
    it, from the ``attributes`` columns of the long table (first non-missing value per subject). Subjects
    without demographics get the explicit :data:`~fairssl.data.dataset.MISSING` category; they are never
    dropped nor merged into another group.

    The split is per subject: ``split_col`` if given (constant per subject), else drawn over the subjects
    long enough for a window, stratified by "any positive row". Imputation ("ffill", "mean") falls back on
    column means of the *training* subjects' rows; "zero" fills 0.
    """
    table = path.copy() if isinstance(path, pd.DataFrame) else read_table(path)
    source = "a DataFrame" if isinstance(path, pd.DataFrame) else str(path)
    base = [subject_col, time_col, label_col] + ([split_col] if split_col else [])
    check_columns(table, base, source=source)
    table[subject_col] = table[subject_col].astype(str)

    demo: pd.DataFrame | None = None
    if demographics is not None:
        demo, attr_cols = _demographics_frame(demographics, demographics_id_col or subject_col, attributes)
        table_attr_cols: list[str] = []
    else:
        if demographics_id_col is not None:
            raise ConfigError(
                "demographics_id_col is set but no demographics table was given; pass demographics="
            )
        attr_cols = list(attributes or [])
        check_columns(table, attr_cols, source=source)
        table_attr_cols = attr_cols
    if channels is None:
        used = set(base) | set(table_attr_cols)
        chan = [
            str(c)
            for c in table.columns
            if c not in used
            and pd.api.types.is_numeric_dtype(table[c])
            and not pd.api.types.is_bool_dtype(table[c])
        ]
        if not chan:
            raise DataError(
                f"no numeric channel columns in {source} besides {sorted(used)}; "
                f"available columns: {', '.join(map(str, table.columns))}"
            )
    else:
        chan = [str(c) for c in channels]
        check_columns(table, chan, source=source)

    # Per-subject split, drawn before windowing so imputation can use training statistics only.
    lengths = table.groupby(subject_col, sort=True).size()
    check_window_fits(lengths.index.to_numpy(), lengths.to_numpy(), window)
    eligible = lengths.index[lengths.to_numpy() >= window].to_numpy()
    if split_col is not None:
        per_subject = table.groupby(subject_col)[split_col].nunique()
        mixed = per_subject[per_subject > 1]
        if len(mixed):
            raise DataError(
                f"subject {str(mixed.index[0])!r} appears in more than one split in column {split_col!r} "
                f"({len(mixed)} such subject(s)); splits must be subject-disjoint: re-split by subject"
            )
        first = table.groupby(subject_col)[split_col].first().loc[eligible]
        subject_to_split = dict(zip(eligible.tolist(), _normalise_split(first).tolist(), strict=True))
    else:
        y_rows = pd.to_numeric(table[label_col], errors="coerce")
        stratum = y_rows.groupby(table[subject_col]).max().reindex(eligible).fillna(-1).to_numpy()
        drawn = subject_split(eligible, fractions=fractions, seed=seed, stratify=stratum)
        subject_to_split = dict(zip(eligible.tolist(), drawn.tolist(), strict=True))

    fill_values = None
    if impute in ("ffill", "mean"):
        train_rows = table[subject_col].map(subject_to_split).eq("train").to_numpy()
        fill_values = table.loc[train_rows, chan].apply(pd.to_numeric, errors="coerce")
        fill_values = fill_values.replace([np.inf, -np.inf], np.nan).mean().fillna(0.0).to_dict()

    windows = windows_from_long(
        table,
        subject_col=subject_col,
        time_col=time_col,
        channels=chan,
        label_col=label_col,
        window=window,
        stride=stride,
        label_rule=label_rule,
        min_coverage=min_coverage,
        impute=impute,
        fill_values=fill_values,
    )
    split = np.array([subject_to_split[s] for s in windows.subject], dtype=object)
    y = check_labels(windows.y, binary=binary, split=split)

    if demo is not None:
        attrs = demo.reindex(windows.subject).reset_index(drop=True)
        n_missing_subjects = int((~pd.Index(np.unique(windows.subject)).isin(demo.index)).sum())
    else:
        per_subject_attr = table.groupby(subject_col)[table_attr_cols].first() if table_attr_cols else None
        attrs = (
            per_subject_attr.reindex(windows.subject).reset_index(drop=True)
            if per_subject_attr is not None
            else pd.DataFrame(index=range(len(y)))
        )
        n_missing_subjects = 0
    info = {
        "source": source,
        "windowing": windows.report,
        "split": "column " + split_col
        if split_col
        else f"drawn by subject (fractions {list(fractions)}, seed {seed})",
        "fill_values": fill_values,
        "subjects_without_demographics": n_missing_subjects,
        "missing_category": MISSING,
    }
    return WindowDataset.build(
        windows.X,
        y,
        subject=windows.subject,
        split=split,
        attributes=attrs,
        window_id=windows.window_id,
        channel_names=chan,
        name=name or (Path(path).stem if not isinstance(path, pd.DataFrame) else "long_table"),
        mask=windows.mask,
        info=info,
    )
