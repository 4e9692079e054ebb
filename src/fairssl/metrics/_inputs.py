"""Input checks of the metrics API: one-line DataErrors (what was wrong, what was got, what to do).

Only adapts what a notebook user has (lists, pandas Series, NumPy arrays, torch tensors, a dict or a
single column of protected attributes) to the arrays :mod:`fairssl.evaluation` expects; the metric
functions check nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from fairssl.errors import ConfigError, DataError
from fairssl.evaluation.counts import as_sensitive_frame


def as_numpy(values: Any) -> np.ndarray:
    """``values`` as a NumPy array; torch tensors are detached and moved to the CPU (no torch import)."""
    if hasattr(values, "detach") and hasattr(values, "cpu"):
        values = values.detach().cpu().numpy()
    return np.asarray(values)


def _shown(values: np.ndarray) -> str:
    """The first few distinct values of an array, for a message."""
    distinct = pd.unique(pd.Series(values.ravel()))
    head = ", ".join(f"{v:g}" if isinstance(v, (float, np.floating)) else str(v) for v in distinct[:5])
    return f"[{head}{', ...' if len(distinct) > 5 else ''}]"


def _numeric_1d(values: Any, name: str, n: int | None) -> np.ndarray:
    arr = as_numpy(values)
    if arr.ndim == 2 and arr.shape[1] == 1:  # (N, 1), e.g. a model's output column
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise DataError(f"{name} must be 1-D (one value per window); got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise DataError(f"{name} has {arr.shape[0]} values but y_true has {n}; give one value per window")
    if arr.dtype.kind not in "biuf":
        raise DataError(f"{name} must be numeric; got dtype {arr.dtype}: encode it as 0/1 (or scores)")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        bad = int((~np.isfinite(arr)).sum())
        raise DataError(f"{name} holds {bad} NaN/Inf value(s); drop those windows or fill them first")
    return arr


def check_y_true(y_true: Any, *, allow_empty: bool = False) -> np.ndarray:
    """0/1 labels (N,) -> int64 (N,); DataError for another shape, NaN or values other than 0/1."""
    arr = _numeric_1d(y_true, "y_true", None)
    if arr.shape[0] == 0 and not allow_empty:
        raise DataError("y_true is empty; give at least one window")
    if not np.isin(arr, (0, 1)).all():
        raise DataError(
            f"y_true must hold 0/1 labels; got values {_shown(arr)}: binarise multiclass labels "
            "one-vs-rest (y_true == k)"
        )
    return arr.astype(np.int64)


def check_y_pred(y_pred: Any, n: int) -> np.ndarray:
    """0/1 predictions (N,) -> int64 (N,); scores passed here are rejected with the fix."""
    arr = _numeric_1d(y_pred, "y_pred", n)
    if not np.isin(arr, (0, 1)).all():
        if np.all(arr == np.round(arr)):
            raise DataError(
                f"y_pred must hold 0/1 predictions; got values {_shown(arr)}: binarise multiclass "
                "predictions one-vs-rest (y_pred == k)"
            )
        raise DataError(
            f"y_pred holds scores (values other than 0 and 1, e.g. {_shown(arr)}); pass them as "
            "y_score= (they are thresholded at threshold)"
        )
    return arr.astype(np.int64)


def check_y_score(y_score: Any, n: int) -> np.ndarray:
    """Scores (N,), or (N, 2) class probabilities reduced to column 1 -> float64 (N,)."""
    arr = as_numpy(y_score)
    if arr.ndim == 2 and arr.shape[1] == 2:
        arr = arr[:, 1]
    return _numeric_1d(arr, "y_score", n).astype(np.float64)


def check_threshold(threshold: float) -> float:
    """The prediction rule's threshold as a finite float (scores >= threshold are predicted 1)."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)):
        raise ConfigError(f"threshold must be a number (e.g. 0.5); got {threshold!r}")
    if not np.isfinite(threshold):
        raise ConfigError(f"threshold must be finite; got {threshold!r}")
    return float(threshold)


def check_both_classes(labels: np.ndarray) -> None:
    """AUROC needs both classes: DataError naming the one class present."""
    present = np.unique(labels)
    if present.size < 2:
        raise DataError(
            f"AUROC needs both classes in y_true, but every label is {int(present[0])}; evaluate a set "
            "with positives and negatives, or pass thresholded predictions as y_pred= (no AUROC)"
        )


def raw_frame(sensitive_features: Any) -> pd.DataFrame:
    """Protected attributes as a DataFrame (not yet normalised), column names as strings.

    Accepts a DataFrame, a named Series, a dict name -> values, or a 1-D/2-D array or list (columns
    named ``sensitive_feature_0``, ... as in fairlearn).
    """
    sf = sensitive_features
    if hasattr(sf, "detach") and hasattr(sf, "cpu"):
        sf = as_numpy(sf)
    if isinstance(sf, pd.Series):
        sf = sf.to_frame(name=str(sf.name if sf.name is not None else "sensitive_feature_0"))
    elif isinstance(sf, Mapping):
        lengths = {str(k): len(as_numpy(v)) for k, v in sf.items()}
        if len(set(lengths.values())) > 1:
            raise DataError(
                f"sensitive_features columns have different lengths {lengths}; give one value per window"
            )
        sf = pd.DataFrame({str(k): as_numpy(v) for k, v in sf.items()})
    elif not isinstance(sf, pd.DataFrame):
        arr = np.asarray(sf, dtype=object)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise DataError(
                f"sensitive_features must be 1-D or 2-D (windows x attributes); got shape {arr.shape}"
            )
        sf = pd.DataFrame(arr, columns=[f"sensitive_feature_{i}" for i in range(arr.shape[1])])
    return sf.set_axis([str(c) for c in sf.columns], axis=1).reset_index(drop=True)


def sensitive_frame(sensitive_features: Any, n: int) -> pd.DataFrame:
    """:func:`raw_frame`, checked for N rows and normalised: NaN/None/'' become the ``missing`` group.

    Rows are matched by position, not by index.
    """
    return as_sensitive_frame(raw_frame(sensitive_features), n)


def check_n_boot(n_boot: int) -> int:
    """n_boot as a non-negative int (0: no intervals)."""
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 0:
        raise ConfigError(f"n_boot must be a non-negative integer (0: no intervals); got {n_boot!r}")
    return int(n_boot)
