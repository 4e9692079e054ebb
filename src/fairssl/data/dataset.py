"""The dataset contract every loader and the simulator produce.

A :class:`WindowDataset` holds N windows of multichannel time series with everything that must travel
with them. Nothing is aligned by row order alone: every per-window array has the same length N and
the ``window_id`` column names each row, so a subset or a reordering carries ids along.

Arrays (N windows, C channels, T time steps):

- ``X``            float32 (N, C, T); may be a read-only ``np.memmap`` (large sets are never copied).
- ``y``            int64 (N,); class labels 0..K-1, or -1 for unlabelled windows (pre-training pool only).
- ``window_id``    str (N,), unique.
- ``subject``      str (N,); the person a window belongs to. Splits are subject-disjoint.
- ``split``        str (N,), one of ``train``, ``val``, ``test``, ``pool`` (unlabelled pre-training pool).
- ``attributes``   DataFrame (N rows, index = window_id), one categorical column per protected attribute.
                   Missing values are the explicit category :data:`MISSING`, never folded into a group.
- ``y_clean``      optional int64 (N,): the true labels where the recorded ``y`` is known to be biased
                   (the simulator returns them).
- ``mask``         optional bool (N, C, T): True where a value was observed rather than imputed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairssl.errors import DataError

MISSING = "missing"
"""The explicit category for an unknown/declined protected attribute value."""

SPLITS = ("train", "val", "test", "pool")

_META_FILE = "windows.parquet"
_X_FILE = "X.npy"
_MASK_FILE = "mask.npy"
_INFO_FILE = "dataset.json"


def _as_str_array(values: Any, name: str, n: int) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise DataError(
            f"{name} has shape {arr.shape}, expected ({n},) to match the {n} windows of X; "
            f"give one {name} per window"
        )
    return arr.astype(str).astype(object)


def normalise_attributes(attributes: pd.DataFrame) -> pd.DataFrame:
    """Return ``attributes`` as string categoricals with NaN/None/'' replaced by :data:`MISSING`."""
    out = pd.DataFrame(index=attributes.index)
    for col in attributes.columns:
        values = attributes[col].astype(object)
        text = values.where(values.notna(), MISSING).astype(str).str.strip()  # vectorised, no per-row lambda
        out[str(col)] = pd.Categorical(text.mask(text == "", MISSING))
    return out


@dataclass(frozen=True, eq=False)
class WindowDataset:
    """Windows, labels, ids, protected attributes and a subject-disjoint split (see module docstring)."""

    X: np.ndarray
    y: np.ndarray
    window_id: np.ndarray
    subject: np.ndarray
    split: np.ndarray
    attributes: pd.DataFrame
    channel_names: tuple[str, ...] = ()
    name: str = "dataset"
    y_clean: np.ndarray | None = None
    mask: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(
        cls,
        X: np.ndarray,
        y: Any,
        *,
        subject: Any,
        split: Any,
        attributes: pd.DataFrame | None = None,
        window_id: Any = None,
        channel_names: Sequence[str] | None = None,
        name: str = "dataset",
        y_clean: Any = None,
        mask: np.ndarray | None = None,
        info: dict[str, Any] | None = None,
        allow_nan: bool = False,
    ) -> WindowDataset:
        """Build and validate a dataset; raises :class:`DataError` with a one-line message on bad input.

        ``X`` (N, C, T) is converted to float32 only if it is not float32 already (memmaps are kept).
        ``attributes`` may have any index; its rows are taken in order and re-indexed by ``window_id``.
        """
        if not isinstance(X, np.ndarray) or X.ndim != 3:
            shape = getattr(X, "shape", type(X).__name__)
            raise DataError(f"X must be a 3-D array (windows, channels, time); got shape {shape}")
        n, c, _t = X.shape
        if X.dtype != np.float32:
            X = np.ascontiguousarray(X, dtype=np.float32)
        wid = (
            np.array([f"w{i}" for i in range(n)], dtype=object)
            if window_id is None
            else _as_str_array(window_id, "window_id", n)
        )
        if attributes is None:
            attributes = pd.DataFrame(index=range(n))
        if len(attributes) != n:
            raise DataError(
                f"attributes has {len(attributes)} rows but X has {n} windows; give one row per window"
            )
        attrs = normalise_attributes(attributes.reset_index(drop=True))
        attrs.index = pd.Index(wid, name="window_id")
        names = tuple(channel_names) if channel_names is not None else tuple(f"ch{i}" for i in range(c))
        if len(names) != c:
            raise DataError(f"{len(names)} channel names given for {c} channels; give one name per channel")
        ds = cls(
            X=X,
            y=np.asarray(y).astype(np.int64) if np.asarray(y).dtype.kind in "iub" else _labels(y, n),
            window_id=wid,
            subject=_as_str_array(subject, "subject", n),
            split=_as_str_array(split, "split", n),
            attributes=attrs,
            channel_names=names,
            name=name,
            y_clean=None if y_clean is None else np.asarray(y_clean).astype(np.int64),
            mask=mask,
            info=dict(info or {}),
        )
        ds.validate(allow_nan=allow_nan)
        return ds

    # ------------------------------------------------------------------ checks
    def validate(self, *, allow_nan: bool = False) -> None:
        """Check the contract; raise :class:`DataError` naming the first problem and its fix."""
        n = self.X.shape[0]
        for arr_name in ("y", "window_id", "subject", "split"):
            arr = getattr(self, arr_name)
            if arr.shape != (n,):
                raise DataError(
                    f"{arr_name} has shape {arr.shape}, expected ({n},); give one value per window"
                )
        if self.y_clean is not None and self.y_clean.shape != (n,):
            raise DataError(f"y_clean has shape {self.y_clean.shape}, expected ({n},)")
        if self.mask is not None and self.mask.shape != self.X.shape:
            raise DataError(f"mask has shape {self.mask.shape}, expected {self.X.shape} like X")
        if len(pd.unique(self.window_id)) != n:
            raise DataError("window_id values are not unique; give each window its own id")
        bad_split = sorted(set(pd.unique(self.split)) - set(SPLITS))
        if bad_split:
            raise DataError(f"unknown split name(s) {bad_split}; allowed: {', '.join(SPLITS)}")
        labelled = self.split != "pool"
        yl = self.y[labelled]
        if (yl < 0).any():
            raise DataError(
                f"{int((yl < 0).sum())} labelled windows (train/val/test) have a negative label; "
                "labels must be 0..K-1, and -1 (unlabelled) only in the 'pool' split"
            )
        for s in ("train", "val", "test"):
            if not (self.split == s).any():
                raise DataError(f"the '{s}' split is empty; every dataset needs train, val and test windows")
        classes = np.unique(self.y[self.split == "train"])
        if len(classes) < 2:
            raise DataError(
                f"the train split has a single class {classes.tolist()}; a classifier needs at least two"
            )
        subj_split = pd.DataFrame({"s": self.subject, "p": self.split}).drop_duplicates()
        shared = subj_split.groupby("s")["p"].nunique()
        shared = shared[shared > 1]
        if len(shared):
            raise DataError(
                f"{len(shared)} subject(s) appear in more than one split (e.g. {shared.index[0]!r}); "
                "splits must be subject-disjoint: re-split by subject"
            )
        if not allow_nan:
            self._check_finite()

    def _check_finite(self, chunk: int = 65_536) -> None:
        """Raise on NaN/Inf in X, reading it in chunks of windows (a memmap is never loaded whole)."""
        total, first = 0, None
        for start in range(0, self.X.shape[0], chunk):
            bad = ~np.isfinite(np.asarray(self.X[start : start + chunk]))
            count = int(bad.sum())
            if count and first is None:
                w, c, _ = np.argwhere(bad)[0]
                first = (self.window_id[start + w], self.channel_names[c])
            total += count
        if first is not None:
            raise DataError(
                f"X holds {total} NaN/Inf values (first at window {first[0]!r}, channel {first[1]!r}); "
                "impute them or load with imputation enabled"
            )

    # ------------------------------------------------------------------ views
    @property
    def n_channels(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_steps(self) -> int:
        return int(self.X.shape[2])

    @property
    def n_classes(self) -> int:
        labelled = self.y[self.y >= 0]
        return int(labelled.max()) + 1 if labelled.size else 0

    @property
    def attribute_names(self) -> list[str]:
        return list(self.attributes.columns)

    def indices(self, split: str) -> np.ndarray:
        """Row indices (int64) of the windows in ``split``."""
        if split not in SPLITS:
            raise DataError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")
        return np.flatnonzero(self.split == split)

    def subset(self, index: np.ndarray) -> WindowDataset:
        """A dataset of the rows ``index`` (int positions or a boolean mask), ids carried along.

        ``X`` of a memmap is gathered into memory only for the selected rows.
        """
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return replace(
            self,
            X=self.X[idx],
            y=self.y[idx],
            window_id=self.window_id[idx],
            subject=self.subject[idx],
            split=self.split[idx],
            attributes=self.attributes.iloc[idx],
            y_clean=None if self.y_clean is None else self.y_clean[idx],
            mask=None if self.mask is None else self.mask[idx],
        )

    def metadata(self) -> pd.DataFrame:
        """One row per window: window_id, subject, split, y, (y_clean), and the attribute columns."""
        meta = pd.DataFrame(
            {"window_id": self.window_id, "subject": self.subject, "split": self.split, "y": self.y}
        )
        if self.y_clean is not None:
            meta["y_clean"] = self.y_clean
        for col in self.attributes.columns:
            meta[col] = np.asarray(self.attributes[col].astype(str))
        return meta

    # ------------------------------------------------------------------ storage
    def save(self, directory: str | Path) -> Path:
        """Write ``X.npy`` (memory-mappable), ``windows.parquet`` and ``dataset.json`` to ``directory``."""
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        target = path / _X_FILE
        # Saving a memory-mapped dataset into its own folder must not truncate the file it reads from.
        own = (
            isinstance(self.X, np.memmap)
            and target.exists()
            and Path(str(self.X.filename)).resolve() == target.resolve()
        )
        if not own:
            np.save(target, self.X)
        if self.mask is not None:
            np.save(path / _MASK_FILE, self.mask)
        self.metadata().to_parquet(path / _META_FILE, index=False)
        info = {
            "name": self.name,
            "channel_names": list(self.channel_names),
            "attributes": self.attribute_names,
            "info": self.info,
        }
        (path / _INFO_FILE).write_text(json.dumps(info, indent=2))
        return path

    @classmethod
    def load(cls, directory: str | Path, *, mmap: bool = True) -> WindowDataset:
        """Read a dataset written by :meth:`save`; ``X`` is memory-mapped read-only when ``mmap``."""
        path = Path(directory)
        if not (path / _INFO_FILE).is_file():
            raise DataError(
                f"{path} is not a fairssl dataset folder (no {_INFO_FILE}); "
                "write one with WindowDataset.save or use a loader"
            )
        try:
            info = json.loads((path / _INFO_FILE).read_text())
            X = np.load(path / _X_FILE, mmap_mode="r" if mmap else None)
            meta = pd.read_parquet(path / _META_FILE)
            mask = (
                np.load(path / _MASK_FILE, mmap_mode="r" if mmap else None)
                if (path / _MASK_FILE).is_file()
                else None
            )
            names, attributes, name = info["channel_names"], info["attributes"], info["name"]
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(
                f"{path} is truncated or corrupt ({exc!r}); re-create it from the source data"
            ) from None
        return cls.build(
            X,
            meta["y"].to_numpy(),
            subject=meta["subject"].to_numpy(),
            split=meta["split"].to_numpy(),
            attributes=meta[attributes],
            window_id=meta["window_id"].to_numpy(),
            channel_names=names,
            name=name,
            y_clean=meta["y_clean"].to_numpy() if "y_clean" in meta else None,
            mask=mask,
            info=info.get("info", {}),
        )


def _labels(y: Any, n: int) -> np.ndarray:
    arr = np.asarray(y)
    if arr.shape != (n,):
        raise DataError(f"y has shape {arr.shape}, expected ({n},); give one label per window")
    try:
        as_float = arr.astype(float)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"labels must be integers 0..K-1; got values such as {arr[:3].tolist()}: encode them as integers"
        ) from exc
    if not np.all(np.isfinite(as_float)) or not np.all(as_float == np.round(as_float)):
        raise DataError("labels must be integers 0..K-1 (no NaN, no fractions); encode them as integers")
    return as_float.astype(np.int64)
