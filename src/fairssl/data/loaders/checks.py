"""Checks shared by the generic loaders: window labels and split names."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fairssl.data.dataset import SPLITS
from fairssl.errors import DataError

_SPLIT_ALIASES = {"validation": "val", "valid": "val", "dev": "val", "training": "train", "testing": "test"}


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


def normalise_split(split: Any) -> np.ndarray:
    """Split names (N,) -> train/val/test/pool (aliases such as "validation" mapped); each of train, val
    and test must be present."""
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


__all__ = ["check_labels", "normalise_split"]
