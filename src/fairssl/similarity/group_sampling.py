"""Which windows conditioned CKA compares: groups, equal-size random draws, subject-level permutations.

The sampling half of :mod:`fairssl.similarity.conditioned` (the summaries are in
:mod:`~fairssl.similarity.conditioned_summary`, the dissimilarity ratio and its null in
:mod:`~fairssl.similarity.dissimilarity`):

- :func:`group_table`: the groups of each attribute that are used or skipped and the common size n;
- :func:`draw_cka`: a function index (n,) -> layer x layer CKA, gathering from N x N kernels when they fit;
- :func:`subject_labels` / :func:`subject_permutation_draws`: the permutation null permutes group labels
  **between subjects** (each subject keeps one label), never windows (``inference.md``).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fairssl.data.dataset import MISSING, normalise_attributes
from fairssl.errors import ConfigError, DataError
from fairssl.similarity.cka import cka_matrix
from fairssl.similarity.kernel_draws import LayerKernels, PairKernels, kernel_cka_batch

__all__ = [
    "KERNEL_BYTES_LIMIT",
    "LONG_COLUMNS",
    "PERMUTATION",
    "SubjectDraws",
    "attribute_values",
    "check_acts",
    "check_int",
    "coded_group_members",
    "draw_cka",
    "group_rng",
    "group_table",
    "pseudo_group_members",
    "subject_codes",
    "subject_labels",
    "subject_permutation_draws",
]

PERMUTATION = "__permutation__"
"""The ``group`` value of the permutation baseline's rows."""

KERNEL_BYTES_LIMIT = 2**30
"""Up to this many bytes of N x N float64 kernels (all layers of both models), every draw is gathered from
kernels computed once (O(n^2) per draw); beyond it each draw recomputes its features' statistics
(:func:`draw_cka`)."""

LONG_COLUMNS = ["attribute", "group", "n", "draw", "layer_a", "layer_b", "cka", "perm_draw"]
"""Columns of :func:`~fairssl.similarity.conditioned.conditioned_cka`'s long table."""


def check_int(value: Any, name: str, minimum: int, hint: str) -> int:
    """``value`` as an int, or :class:`ConfigError` (what was wrong, what was got, ``hint``)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}; {hint}")
    return int(value)


def attribute_values(column: pd.Series) -> np.ndarray:
    """The column (N,) as the data contract normalises it (:func:`~fairssl.data.dataset.normalise_attributes`:
    text stripped of surrounding spaces, NaN/None/'' as :data:`MISSING`), so 'male ' and 'male' are one
    group here as in the fairness metrics."""
    frame = normalise_attributes(column.to_frame(name="a"))
    return frame["a"].astype(str).to_numpy(dtype=object)


def group_table(
    sensitive_features: pd.DataFrame,
    *,
    n_per_group: int | None = None,
    min_group_size: int = 30,
    include_missing: bool = False,
) -> pd.DataFrame:
    """Which groups :func:`~fairssl.similarity.conditioned.conditioned_cka` uses, which it skips, and the
    common sample size n.

    Returns one row per (attribute, group): ``attribute``, ``group``, ``size`` (windows in the group),
    ``status`` (``"used"``, ``"too_small"``: fewer than ``min_group_size`` windows, or
    ``"missing_excluded"``: the explicit ``"missing"`` group while ``include_missing`` is False) and ``n``,
    the attribute's common sample size: the smallest size among its used groups, capped by ``n_per_group``
    (0 when no group is used).
    """
    if not isinstance(sensitive_features, pd.DataFrame) or sensitive_features.shape[1] == 0:
        raise DataError(
            "sensitive_features must be a DataFrame with one column per protected attribute, got "
            f"{type(sensitive_features).__name__} with shape {getattr(sensitive_features, 'shape', '?')}; "
            "pass e.g. WindowDataset.attributes"
        )
    min_group_size = check_int(min_group_size, "min_group_size", 4, "pass e.g. 30")
    if n_per_group is not None:
        n_per_group = check_int(n_per_group, "n_per_group", 4, "pass e.g. 200 or None for the smallest group")
    rows = []
    for attribute in sensitive_features.columns:
        values = attribute_values(sensitive_features[attribute])
        groups, sizes = np.unique(values, return_counts=True)
        statuses = [
            "missing_excluded"
            if g == MISSING and not include_missing
            else ("too_small" if s < min_group_size else "used")
            for g, s in zip(groups, sizes, strict=True)
        ]
        used = [int(s) for s, st in zip(sizes, statuses, strict=True) if st == "used"]
        n = min(used) if used else 0
        if n_per_group is not None:
            n = min(n, n_per_group)
        rows += [
            {"attribute": str(attribute), "group": str(g), "size": int(s), "status": st, "n": n}
            for g, s, st in zip(groups, sizes, statuses, strict=True)
        ]
    return pd.DataFrame(rows, columns=["attribute", "group", "size", "status", "n"])


def group_rng(seed: int, attribute: str, group: str) -> np.random.Generator:
    """A generator that depends only on (seed, attribute, group), not on the other groups present."""
    return np.random.default_rng([seed, zlib.crc32(attribute.encode()), zlib.crc32(group.encode())])


def check_acts(acts: Mapping[str, Any], name: str, n_rows: int) -> dict[str, np.ndarray]:
    """``acts`` as layer -> array (n_rows, ...), or :class:`DataError` naming the misaligned layer."""
    if not isinstance(acts, Mapping) or len(acts) == 0:
        raise DataError(
            f"{name} must be a non-empty mapping of layer name -> activations (n, features), got "
            f"{type(acts).__name__}; pass e.g. the dict returned by capture_activations"
        )
    out = {}
    for layer, values in acts.items():
        arr = np.asarray(values)
        if arr.ndim < 2 or arr.shape[0] != n_rows:
            raise DataError(
                f"{name}[{layer!r}] has shape {arr.shape} but sensitive_features has {n_rows} rows; row i of "
                "every activation array must be window i of sensitive_features"
            )
        out[str(layer)] = arr
    return out


def draw_cka(
    arrays_a: Mapping[str, np.ndarray],
    arrays_b: Mapping[str, np.ndarray],
    *,
    debiased: bool,
    kernel_bytes_limit: int,
    kernels: tuple[LayerKernels, LayerKernels] | PairKernels | None = None,
) -> Callable[[np.ndarray], np.ndarray]:
    """A function ``idx`` (n,) -> the (layers_a, layers_b) CKA matrix (ndarray, rows and columns in the
    order of ``arrays_a`` and ``arrays_b``) of those windows.

    With ``kernels`` (the :class:`~fairssl.similarity.kernel_draws.LayerKernels` of both models, e.g.
    shared by several calls, or their :class:`~fairssl.similarity.kernel_draws.PairKernels`, shared by
    every call on the same two models), or when the N x N float64 kernels of all layers of both models fit
    in ``kernel_bytes_limit`` bytes (then computed here), every draw gathers from them, batched over layers
    (:func:`~fairssl.similarity.kernel_draws.kernel_cka_batch`, O(n^2) per layer pair); otherwise each draw
    recomputes its features' statistics. Both give the same :func:`~fairssl.similarity.cka.cka_matrix` up
    to rounding.
    """
    n_rows = len(next(iter(arrays_a.values())))
    if kernels is None and n_rows * n_rows * 8 * (len(arrays_a) + len(arrays_b)) <= kernel_bytes_limit:
        kernels = (LayerKernels.of(arrays_a), LayerKernels.of(arrays_b))
    if kernels is not None:
        if isinstance(kernels, PairKernels):
            pair = kernels
        else:
            ka, kb = kernels
            ka.check(arrays_a, "acts_a")
            kb.check(arrays_b, "acts_b")
            pair = PairKernels.of(ka, kb)
        pair.check(arrays_a, arrays_b)

        def from_kernels(idx: np.ndarray) -> np.ndarray:
            return kernel_cka_batch(pair, idx, debiased=debiased)

        return from_kernels

    def from_features(idx: np.ndarray) -> np.ndarray:
        return cka_matrix(
            {k: v[idx] for k, v in arrays_a.items()},
            {k: v[idx] for k, v in arrays_b.items()},
            debiased=debiased,
        ).to_numpy(dtype=float)

    return from_features


def subject_labels(values: np.ndarray, subjects: np.ndarray) -> pd.Series:
    """Each subject's one group label: its most frequent window value (ties: the smallest value).

    ``values``, ``subjects``: (N,) window-level labels and subject ids. Returns a Series (S,) of labels
    indexed by the sorted unique subject ids.
    """
    frame = pd.DataFrame({"subject": subjects, "value": np.asarray(values).astype(str)})
    counts = frame.groupby(["subject", "value"], sort=True).size().rename("count").reset_index()
    first = counts.sort_values(
        ["subject", "count", "value"], ascending=[True, False, True], kind="stable"
    ).drop_duplicates("subject")  # (S,) one row per subject, in subject order
    return pd.Series(first["value"].to_numpy(dtype=object), index=pd.Index(first["subject"].to_numpy()))


def pseudo_group_members(
    subjects: np.ndarray, subject_ids: np.ndarray, shuffled: np.ndarray, group: str, n: int
) -> np.ndarray:
    """Window indices (into ``subjects`` (N,)) of the subjects whose permuted label ``shuffled`` (S,) is
    ``group``; all N windows when they hold fewer than n (so a draw of n always exists)."""
    return coded_group_members(subject_codes(subjects, subject_ids), shuffled, group, n)


def subject_codes(subjects: np.ndarray, subject_ids: np.ndarray) -> np.ndarray:
    """Each window's position in ``subject_ids`` (S,): int64 (N,), -1 for a subject not listed."""
    return pd.Index(subject_ids).get_indexer(np.asarray(subjects)).astype(np.int64)


def coded_group_members(codes: np.ndarray, shuffled: np.ndarray, group: str, n: int) -> np.ndarray:
    """:func:`pseudo_group_members` from the windows' subject codes (N,) (:func:`subject_codes`): the
    windows (ascending) whose subject now carries ``group``, or all N windows when fewer than n."""
    carries = np.append(shuffled == group, False)  # (S + 1,): code -1 (unlisted subject) reads False
    members = np.flatnonzero(carries[codes])
    return members if members.size >= n else np.arange(codes.size)


def subject_permutation_draws(
    values: np.ndarray, subjects: np.ndarray, groups: list[str], n: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """One permutation of group labels between subjects: n window indices (sorted) per pseudo-group.

    values, subjects: (N,) window-level group labels and subject ids. A subject's label is its most
    frequent window value (:func:`subject_labels`); the labels are shuffled between subjects once, and each
    of ``groups`` gets n windows of the subjects now carrying its label (as many subjects as really carry
    it), so pseudo-groups of one permutation are disjoint like the real groups. A pseudo-group with fewer
    than n windows draws from all windows. Many draws of one attribute: :class:`SubjectDraws`, which
    computes the subject labels once and gives the same draws from the same ``rng``.
    """
    return SubjectDraws.of(values, subjects).draws(groups, n, rng)


@dataclass(frozen=True)
class SubjectDraws:
    """One attribute's subject labels, prepared for many :func:`subject_permutation_draws`."""

    labels: np.ndarray  # (S,) each subject's label, subjects in sorted id order
    codes: np.ndarray  # (N,) each window's subject position in that order

    @classmethod
    def of(cls, values: np.ndarray, subjects: np.ndarray) -> SubjectDraws:
        label = subject_labels(values, subjects)
        return cls(labels=label.to_numpy(dtype=object), codes=subject_codes(subjects, label.index.to_numpy()))

    def draws(self, groups: list[str], n: int, rng: np.random.Generator) -> list[np.ndarray]:
        """:func:`subject_permutation_draws` (the same random stream): n sorted windows per group."""
        shuffled = rng.permutation(self.labels)  # (S,) labels, permuted between subjects
        return [
            np.sort(rng.choice(coded_group_members(self.codes, shuffled, group, n), size=n, replace=False))
            for group in groups
        ]
