"""Shared parts of the linear probes (:mod:`fairssl.similarity.probes`): argument checks, which groups of
an attribute are probed, and subject-bootstrap helpers.

Every probe takes activations ``{layer: (N, features)}`` whose row i is row i of a ``sensitive_features``
DataFrame and belongs to subject ``subjects[i]``; these checks turn user input into validated arrays and
raise :class:`~fairssl.errors.ConfigError` / :class:`~fairssl.errors.DataError` (one line: problem and fix).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fairssl.data.dataset import MISSING, normalise_attributes
from fairssl.errors import ConfigError, DataError
from fairssl.evaluation.bootstrap import resample_multiplicities


# ---------------------------------------------------------------------------------------------- checks
def _check_int(value: Any, name: str, minimum: int, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}; {hint}")
    return int(value)


def _check_options(
    n_splits: int,
    min_group_size: int,
    n_boot: int,
    seed: int,
    max_features: int | None,
    C: float,
    conf: float,
) -> None:
    _check_int(n_splits, "n_splits", 2, "pass e.g. 5")
    _check_int(min_group_size, "min_group_size", 1, "pass e.g. 30")
    _check_int(n_boot, "n_boot", 1, "pass e.g. 200")
    _check_int(seed, "seed", 0, "pass a non-negative integer")
    if max_features is not None:
        _check_int(max_features, "max_features", 1, "pass e.g. 64, or None to keep every feature")
    if isinstance(C, bool) or not isinstance(C, (int, float)) or not C > 0 or not math.isfinite(C):
        raise ConfigError(f"C (inverse L2 strength) must be a positive number, got {C!r}; pass e.g. 1.0")
    if not isinstance(conf, (int, float)) or not 0.0 < conf < 1.0:
        raise ConfigError(f"confidence must lie strictly between 0 and 1, got {conf!r}; pass e.g. 0.95")


SOLVERS = ("newton", "sklearn")
"""Logistic-regression solvers of the probes: ``newton`` (:mod:`fairssl.similarity.probe_solver`, default)
and ``sklearn`` (scikit-learn's lbfgs, the reference it is tested against)."""


def _check_solver(solver: Any) -> str:
    if solver not in SOLVERS:
        raise ConfigError(f"solver must be one of {SOLVERS}, got {solver!r}; pass 'newton' (default)")
    return str(solver)


def _check_frame(sensitive_features: Any) -> pd.DataFrame:
    if not isinstance(sensitive_features, pd.DataFrame) or sensitive_features.shape[1] == 0:
        raise DataError(
            "sensitive_features must be a DataFrame with one column per protected attribute, got "
            f"{type(sensitive_features).__name__} with shape {getattr(sensitive_features, 'shape', '?')}; "
            "pass e.g. WindowDataset.attributes"
        )
    return sensitive_features


def _check_acts(acts: Any, n_rows: int) -> dict[str, np.ndarray]:
    """Validated ``{layer: (N, features)}``; trailing dimensions are flattened."""
    if not isinstance(acts, Mapping) or len(acts) == 0:
        raise DataError(
            f"acts must be a non-empty mapping of layer name -> activations (N, features), got "
            f"{type(acts).__name__}; pass e.g. the dict returned by capture_activations"
        )
    out: dict[str, np.ndarray] = {}
    for layer, values in acts.items():
        arr = np.asarray(values)
        if arr.ndim < 2 or arr.shape[0] != n_rows:
            raise DataError(
                f"acts[{layer!r}] has shape {arr.shape} but sensitive_features has {n_rows} rows; row i of "
                "every activation array must be window i of sensitive_features"
            )
        if not np.issubdtype(arr.dtype, np.number):
            raise DataError(f"acts[{layer!r}] has dtype {arr.dtype}; pass numeric activations")
        arr = arr.reshape(n_rows, -1)  # (N, d1, d2, ...) -> (N, features)
        if not np.isfinite(arr).all():
            raise DataError(
                f"acts[{layer!r}] holds {int((~np.isfinite(arr)).sum())} NaN/inf values; "
                "remove or impute them before probing"
            )
        out[str(layer)] = arr
    return out


def _check_subjects(subjects: Any, n_rows: int) -> np.ndarray:
    """Subject ids (N,) as strings."""
    arr = np.asarray(subjects, dtype=object)
    if arr.shape != (n_rows,):
        raise DataError(
            f"subjects has shape {arr.shape}, expected ({n_rows},) to match the rows of sensitive_features; "
            "give one subject id per window"
        )
    if pd.isna(pd.Series(arr)).any():
        raise DataError("subjects holds missing ids; give every window its subject id")
    return arr.astype(str)


def _select_attributes(frame: pd.DataFrame, attributes: Sequence[str] | None) -> list[str]:
    columns = [str(c) for c in frame.columns]
    if attributes is None:
        return columns
    if isinstance(attributes, str) or len(attributes) == 0:
        raise ConfigError(
            f"attributes must be a non-empty list of column names, got {attributes!r}; pass e.g. ['race']"
        )
    unknown = [a for a in attributes if str(a) not in columns]
    if unknown:
        raise ConfigError(
            f"unknown attribute(s) {unknown}; sensitive_features has columns {columns}; pass some of those"
        )
    return [str(a) for a in attributes]


def _attribute_values(frame: pd.DataFrame, attribute: str) -> np.ndarray:
    """One column as strings, NaN/None/'' mapped to :data:`MISSING` (as the data contract does)."""
    column = frame[next(c for c in frame.columns if str(c) == attribute)]
    return normalise_attributes(column.to_frame(attribute))[attribute].astype(str).to_numpy(dtype=object)


def _eligible_groups(
    attribute: str,
    values: np.ndarray,
    subjects: np.ndarray,
    *,
    min_group_size: int,
    n_splits: int,
    include_missing: bool,
    labels: np.ndarray | None = None,
) -> tuple[list[str], list[dict[str, Any]]]:
    """The groups used (sorted) and the skipped ones as records attribute, group, size, n_subjects, status."""
    used: list[str] = []
    skipped: list[dict[str, Any]] = []
    for group in sorted(set(values.tolist())):
        member = values == group
        size, n_subj = int(member.sum()), len(np.unique(subjects[member]))
        if group == MISSING and not include_missing:
            status = "missing_excluded"
        elif size < min_group_size:
            status = "too_small"
        elif n_subj < n_splits:
            status = "too_few_subjects"
        elif labels is not None and len(np.unique(labels[member])) < 2:
            status = "single_class"
        else:
            used.append(group)
            continue
        skipped.append(
            {"attribute": attribute, "group": group, "size": size, "n_subjects": n_subj, "status": status}
        )
    return used, skipped


@dataclass
class _GroupSelection:
    """Which groups of each attribute a probe uses, and what it skipped (reported in the output's attrs)."""

    skipped: list[dict[str, Any]] = field(default_factory=list)
    skipped_attributes: list[dict[str, str]] = field(default_factory=list)
    groups: dict[str, list[str]] = field(default_factory=dict)

    def usable(
        self,
        frame: pd.DataFrame,
        chosen: Sequence[str],
        subjects: np.ndarray,
        *,
        min_group_size: int,
        n_splits: int,
        include_missing: bool,
        labels: np.ndarray | None = None,
    ) -> Iterator[tuple[str, list[str], np.ndarray, np.ndarray]]:
        """(attribute, used groups, rows, group code per row 0..G-1) of each attribute with >= 2 usable
        groups; the rest is recorded as skipped."""
        for attribute in chosen:
            values = _attribute_values(frame, attribute)
            used, skip = _eligible_groups(
                attribute,
                values,
                subjects,
                min_group_size=min_group_size,
                n_splits=n_splits,
                include_missing=include_missing,
                labels=labels,
            )
            self.skipped += skip
            if len(used) < 2:
                self.skipped_attributes.append(
                    {"attribute": attribute, "reason": f"fewer than two usable groups ({used})"}
                )
                continue
            self.groups[attribute] = used
            rows = np.flatnonzero(np.isin(values, used))
            codes = np.searchsorted(np.array(used, dtype=object), values[rows]).astype(
                np.int64
            )  # (n,) 0..G-1
            yield attribute, used, rows, codes


def _check_enough_subjects(subj: np.ndarray, n_splits: int) -> None:
    n_all = len(np.unique(subj))
    if n_all < n_splits:
        raise ConfigError(
            f"subject-disjoint {n_splits}-fold cross-validation needs at least {n_splits} subjects, got "
            f"{n_all}; lower n_splits or probe more subjects"
        )


def _check_binary_labels(y: Any, n_rows: int) -> np.ndarray:
    arr = np.asarray(y)
    if arr.shape != (n_rows,):
        raise DataError(
            f"y has shape {arr.shape}, expected ({n_rows},) to match the rows of sensitive_features; "
            "give one label per window"
        )
    values = set(np.unique(arr).tolist())
    if not values <= {0, 1}:
        raise DataError(
            f"y must hold binary labels 0/1, got values {sorted(values)[:6]}; pass labelled windows only "
            "(drop the pool's -1) of a binary task"
        )
    return arr.astype(np.int64)


# --------------------------------------------------------------------------------------- bootstrap helpers
def _units(subjects: np.ndarray) -> tuple[np.ndarray, int]:
    """Subject codes in sorted id order (row-order independent) and the number of subjects."""
    uniques, codes = np.unique(subjects, return_inverse=True)
    return codes.astype(np.int64), len(uniques)


def _interval(reps: np.ndarray, confidence: float) -> tuple[float, float]:
    """Percentile interval of replicates (B,), NaN when fewer than half are defined."""
    valid = reps[~np.isnan(reps)]
    if valid.size < max(1, math.ceil(0.5 * reps.size)):
        return float("nan"), float("nan")
    alpha = 1.0 - confidence
    lo, hi = np.quantile(valid, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def _resamples(n_units: int, n_boot: int, seed: int, n_rows: int) -> list[np.ndarray]:
    """Subject multiplicities (b, S) in chunks of resamples, b * n_rows bounded as in the bootstrap."""
    return list(resample_multiplicities(n_units, n_boot=n_boot, seed=seed, elements_per_resample=n_rows))
