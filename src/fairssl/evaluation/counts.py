"""Per-group confusion counts: the single source of every group metric.

Every fairness metric and every threshold-based performance metric of a group is a function of the four
confusion counts of that group. They are computed here once, vectorised, and nothing else in
:mod:`fairssl.evaluation` counts windows.

Layout. A confusion count array has a trailing axis of length 4 in the order of :data:`CELLS`::

    index 0: tn  (y_true = 0, y_pred = 0)
    index 1: fp  (y_true = 0, y_pred = 1)
    index 2: fn  (y_true = 1, y_pred = 0)
    index 3: tp  (y_true = 1, y_pred = 1)

so ``cell = 2 * y_true + y_pred``. Counts of G groups are ``(G, 4)``; counts of B bootstrap resamples are
``(B, G, 4)``.

Resampling. A bootstrap resample is a vector of multiplicities (how often each window, or each cluster of
windows, was drawn). Counts of B resamples are one matrix product::

    table  (S, G*4)  = how many windows of each (group, cell) each of S clusters holds   (cell_table)
    counts (B, G*4)  = multiplicities (B, S) @ table                                       (counts_from_table)

which equals counting on the explicitly resampled arrays (tested) at a fraction of the cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fairssl.data.dataset import MISSING, normalise_attributes
from fairssl.errors import ConfigError, DataError

CELLS = ("tn", "fp", "fn", "tp")
"""Order of the last axis of every confusion-count array."""

TN, FP, FN, TP = 0, 1, 2, 3


@dataclass(frozen=True, eq=False)
class GroupCodes:
    """The groups of one protected attribute, encoded as integer codes.

    Attributes:
        attribute: column name.
        groups: the group names, sorted; ``codes`` index into this tuple.
        codes: int64 (N,); the group of each window, or -1 for a window left out (a :data:`MISSING` value
            when missing values are excluded).
        sizes: int64 (G,); the number of windows in each group.
    """

    attribute: str
    groups: tuple[str, ...]
    codes: np.ndarray
    sizes: np.ndarray

    @property
    def n_groups(self) -> int:
        return len(self.groups)


def as_sensitive_frame(sensitive_features: pd.DataFrame | pd.Series, n: int) -> pd.DataFrame:
    """Validate and normalise protected attributes: string values, NaN/None/'' become :data:`MISSING`.

    Args:
        sensitive_features: DataFrame (N rows, one column per attribute) or a named Series.
        n: the expected number of rows (windows).
    """
    if isinstance(sensitive_features, pd.Series):
        sensitive_features = sensitive_features.to_frame(name=str(sensitive_features.name or "attribute"))
    if not isinstance(sensitive_features, pd.DataFrame):
        raise DataError(
            f"sensitive_features must be a pandas DataFrame (one column per attribute); "
            f"got {type(sensitive_features).__name__}: wrap it in pd.DataFrame"
        )
    if len(sensitive_features) != n:
        raise DataError(
            f"sensitive_features has {len(sensitive_features)} rows but there are {n} predictions; "
            "give one row per window"
        )
    if sensitive_features.shape[1] == 0:
        raise DataError("sensitive_features has no columns; give at least one protected attribute")
    if len(set(map(str, sensitive_features.columns))) != sensitive_features.shape[1]:
        raise DataError(
            f"sensitive_features has duplicate column names {list(sensitive_features.columns)}; "
            "give each attribute a unique name"
        )
    if is_normalised(sensitive_features):
        return sensitive_features.copy()  # normalising it again would return an equal frame
    return normalise_attributes(sensitive_features.reset_index(drop=True))


_TEXT_DTYPE = normalise_attributes(pd.DataFrame({"a": ["x"]}))["a"].cat.categories.dtype
"""dtype of the categories :func:`~fairssl.data.dataset.normalise_attributes` makes (pandas' string dtype)."""


def is_normalised(frame: pd.DataFrame) -> bool:
    """True when ``frame`` is a fixed point of :func:`~fairssl.data.dataset.normalise_attributes`.

    That is: a RangeIndex 0..N-1, string column names, and every column an unordered categorical whose
    categories have the normaliser's string dtype, are stripped, non-empty, strictly increasing and all
    used, with no missing code. The normaliser maps each value to itself (its text, stripped, is
    unchanged) and rebuilds the categories as the sorted distinct values present, which are these, so
    normalising such a frame again returns an equal frame: :func:`as_sensitive_frame` and
    :func:`encode_groups` then skip the string conversion of N values per column (the same frame is
    encoded once per model and per resampling of a study). O(N) integer checks plus O(G) string checks
    per column.
    """
    index = frame.index
    if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
        return False
    for col in frame.columns:
        if not isinstance(col, str):
            return False
        dtype = frame[col].dtype
        if not isinstance(dtype, pd.CategoricalDtype) or dtype.ordered:
            return False
        cats = dtype.categories
        if cats.dtype != _TEXT_DTYPE or not cats.is_monotonic_increasing:
            return False
        if any(not isinstance(c, str) or c == "" or c != c.strip() for c in cats):
            return False
        codes = frame[col].cat.codes.to_numpy()
        if codes.size and (codes.min() < 0 or (np.bincount(codes, minlength=len(cats)) == 0).any()):
            return False
        if not codes.size and len(cats):
            return False
    return True


def encode_groups(
    sensitive_features: pd.DataFrame | pd.Series, *, include_missing: bool = False
) -> list[GroupCodes]:
    """Encode each attribute column as integer group codes (one :class:`GroupCodes` per column).

    Groups are the sorted distinct values present. :data:`MISSING` is its own group when
    ``include_missing``; otherwise its windows get code -1 and belong to no group.
    """
    frame = as_sensitive_frame(sensitive_features, len(sensitive_features))
    out = []
    for col in frame.columns:
        # a normalised column's categories are the sorted distinct values present and its codes index
        # them: what factorising its text with sort=True returns (checked against it in the tests)
        column = frame[col]
        groups = [str(u) for u in column.cat.categories]
        codes = column.cat.codes.to_numpy().astype(np.int64)
        if not include_missing and MISSING in groups:
            drop = groups.index(MISSING)
            codes = np.where(codes == drop, -1, np.where(codes > drop, codes - 1, codes))
            groups.pop(drop)
        sizes = np.bincount(codes[codes >= 0], minlength=len(groups)).astype(np.int64)
        out.append(GroupCodes(attribute=str(col), groups=tuple(groups), codes=codes, sizes=sizes))
    return out


def binarise(labels: np.ndarray | Sequence[int], *, pos_label: int = 1, name: str = "y_true") -> np.ndarray:
    """Return int64 (N,) with 1 where ``labels == pos_label`` and 0 elsewhere (one-vs-rest)."""
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise DataError(f"{name} must be 1-D (one label per window); got shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise DataError(f"{name} holds NaN/Inf; give integer class labels")
    if arr.dtype.kind not in "iubf":
        raise DataError(
            f"{name} must hold integer class labels; got dtype {arr.dtype}: encode the labels as 0..K-1"
        )
    return (arr == pos_label).astype(np.int64)


def confusion_cells(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Cell index ``2 * y_true + y_pred`` in 0..3 (see :data:`CELLS`) of binary (0/1) arrays, shape (N,)."""
    return (2 * np.asarray(y_true, dtype=np.int64) + np.asarray(y_pred, dtype=np.int64)).astype(np.int64)


def confusion_counts(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    groups: np.ndarray,
    *,
    n_groups: int,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Confusion counts per group.

    Args:
        y_true, y_pred: binary 0/1 arrays (N,).
        groups: int (N,) group codes in 0..n_groups-1; windows with code -1 are ignored.
        n_groups: G.
        weights: None (each window counts 1), (N,) per-window weights/multiplicities, or (B, N) one
            weight vector per resample.

    Returns:
        float64 (G, 4) for None/1-D weights, (B, G, 4) for 2-D weights; last axis ordered as :data:`CELLS`.
    """
    cells = confusion_cells(y_true, y_pred)
    codes = np.asarray(groups, dtype=np.int64)
    keep = codes >= 0
    index = codes[keep] * 4 + cells[keep]  # (N_kept,) flat (group, cell) index
    n_bins = n_groups * 4
    if weights is None:
        return np.bincount(index, minlength=n_bins).astype(np.float64).reshape(n_groups, 4)
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 1:
        return np.bincount(index, weights=w[keep], minlength=n_bins).reshape(n_groups, 4)
    table = np.zeros((index.shape[0], n_bins))  # (N_kept, G*4) one-hot of each window's (group, cell)
    table[np.arange(index.shape[0]), index] = 1.0
    return (w[:, keep] @ table).reshape(w.shape[0], n_groups, 4)  # (B, G*4) -> (B, G, 4)


def cell_table(
    cells: np.ndarray,
    groups: np.ndarray,
    *,
    n_groups: int,
    clusters: np.ndarray | None = None,
    n_clusters: int | None = None,
) -> np.ndarray:
    """How many windows of each (group, cell) each cluster holds.

    Args:
        cells: int (N,) confusion cells (0..3, see :func:`confusion_cells`).
        groups: int (N,) group codes, -1 for windows in no group.
        n_groups: G.
        clusters: int (N,) cluster codes 0..S-1 (e.g. subjects); None makes each window its own cluster.
        n_clusters: S (defaults to ``clusters.max() + 1``).

    Returns:
        float64 (S, G*4); column ``g * 4 + cell``.
    """
    codes = np.asarray(groups, dtype=np.int64)
    cl = np.arange(codes.shape[0]) if clusters is None else np.asarray(clusters, dtype=np.int64)
    s = int(cl.max()) + 1 if n_clusters is None else int(n_clusters)
    keep = codes >= 0
    flat = cl[keep] * (n_groups * 4) + codes[keep] * 4 + np.asarray(cells, dtype=np.int64)[keep]
    return np.bincount(flat, minlength=s * n_groups * 4).astype(np.float64).reshape(s, n_groups * 4)


def counts_from_table(table: np.ndarray, multiplicities: np.ndarray) -> np.ndarray:
    """Confusion counts of B resamples: ``multiplicities (B, S) @ table (S, G*4)`` reshaped to (B, G, 4)."""
    m = np.asarray(multiplicities, dtype=np.float64)
    return (m @ table).reshape(m.shape[0], -1, 4)  # (B, G*4) -> (B, G, 4)


def check_min_size(value: int, name: str) -> None:
    """Raise ConfigError unless ``value`` (a minimum size called ``name``) is a non-negative integer."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ConfigError(f"{name} must be a non-negative integer; got {value!r}")


def check_min_group_size(min_group_size: int) -> None:
    """Raise ConfigError unless ``min_group_size`` is a non-negative integer (bools are rejected)."""
    check_min_size(min_group_size, "min_group_size")


def encode_subjects(subjects: np.ndarray | Sequence | None, n: int, *, name: str = "subjects") -> np.ndarray:
    """Subject ids (N,) as int64 codes 0..S-1; None makes each window its own subject (codes 0..N-1).

    Raises DataError (naming the argument ``name``) for a wrong shape or missing ids.
    """
    if subjects is None:
        return np.arange(n, dtype=np.int64)
    arr = np.asarray(subjects)
    if arr.shape != (n,):
        raise DataError(
            f"{name} has shape {arr.shape}, expected ({n},); give one cluster (subject) id per window"
        )
    if pd.isna(pd.Series(arr)).any():
        raise DataError(f"{name} holds missing ids; give every window its subject id")
    codes, _ = pd.factorize(arr)
    return codes.astype(np.int64)


def subjects_in(groups: np.ndarray, subjects: np.ndarray, members: np.ndarray) -> int:
    """Distinct subjects among the windows whose group is a member.

    Args:
        groups: int (N,) group codes (-1: in no group). subjects: int (N,) subject codes.
        members: bool (G,) the groups pooled (a subject in two pooled groups counts once).
    """
    codes = np.asarray(groups, dtype=np.int64)
    member = np.asarray(members, dtype=bool)
    keep = codes >= 0
    keep[keep] = member[codes[keep]]
    return int(np.unique(np.asarray(subjects)[keep]).size)


def group_subjects(groups: np.ndarray, subjects: np.ndarray, n_groups: int) -> np.ndarray:
    """int64 (G,): distinct subjects with at least one window in each group."""
    eye = np.eye(n_groups, dtype=bool)
    return np.array([subjects_in(groups, subjects, eye[g]) for g in range(n_groups)], dtype=np.int64)
