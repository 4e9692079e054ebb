"""Subject-disjoint train/val/test splits (and an unlabelled pre-training pool).

Every window of a subject lands in the same split, so a model is never tested on a person it was trained
on. Splits are drawn over *subjects*, not windows: ``fractions`` are the shares of subjects per split.
With ``stratify`` the subjects are split separately within each stratum (e.g. subjects with any positive
window vs none), so small datasets keep both classes in every split.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from fairssl.errors import ConfigError, DataError

SPLIT_NAMES = ("train", "val", "test")


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    frac = np.asarray(fractions, dtype=float)
    if frac.shape != (3,) or not np.all(np.isfinite(frac)) or (frac <= 0).any():
        raise ConfigError(
            f"split fractions must be three positive numbers (train, val, test); got {list(fractions)}"
        )
    if abs(frac.sum() - 1.0) > 1e-6:
        raise ConfigError(f"split fractions must sum to 1; got {list(fractions)} (sum {frac.sum():.4g})")
    return frac


def _allocate(n: int, frac: np.ndarray) -> np.ndarray:
    """Subjects per split for a stratum of ``n``: largest-remainder rounding of ``n * frac``.

    When ``n >= 3`` every split gets at least one subject (taken from the largest split).
    """
    target = n * frac
    counts = np.floor(target).astype(int)
    order = np.argsort(-(target - counts), kind="stable")
    counts[order[: n - counts.sum()]] += 1
    if n >= len(frac):
        for k in range(len(frac)):
            if counts[k] == 0:
                counts[int(np.argmax(counts))] -= 1
                counts[k] = 1
    return counts


def _subject_strata(subjects: np.ndarray, subject: np.ndarray, stratify: Any) -> np.ndarray:
    """One stratum per unique subject: the max of its windows' values (any-positive for 0/1 labels)."""
    if isinstance(stratify, Mapping):
        missing = [s for s in subjects if s not in stratify]
        if missing:
            raise DataError(
                f"stratify has no value for {len(missing)} subject(s) (e.g. {str(missing[0])!r}); "
                "give one stratum per subject"
            )
        return np.asarray([str(stratify[s]) for s in subjects], dtype=object)
    values = np.asarray(stratify)
    if values.shape != subject.shape:
        raise DataError(
            f"stratify has shape {values.shape}, expected {subject.shape} (one value per window) "
            "or a mapping subject -> stratum"
        )
    per_subject = pd.Series(values).groupby(subject, sort=True).max()
    return np.asarray(per_subject.reindex(subjects).astype(str).to_numpy(), dtype=object)


def subject_split(
    subject: Any,
    *,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int = 0,
    stratify: Any = None,
) -> np.ndarray:
    """Assign each window to ``"train"``, ``"val"`` or ``"test"`` so that no subject spans two splits.

    Parameters
    ----------
    subject : (N,) array of subject ids, one per window.
    fractions : shares of *subjects* in train, val, test; three positive numbers summing to 1.
    seed : the subjects are shuffled with ``numpy.random.default_rng(seed)``; same seed, same split.
    stratify : optional (N,) per-window values (the stratum of a subject is the max over its windows,
        i.e. "has any positive window" for 0/1 labels) or a mapping subject -> stratum. Subjects are then
        split within each stratum; a stratum of at least 3 subjects puts at least one in every split.

    Returns
    -------
    (N,) object array of split names, aligned with ``subject``.
    """
    frac = _check_fractions(fractions)
    subj = np.asarray(subject).astype(str)
    if subj.ndim != 1:
        raise DataError(f"subject must be a 1-D array (one id per window); got shape {subj.shape}")
    subjects = np.unique(subj)
    if len(subjects) < 3:
        raise DataError(
            f"a train/val/test split needs at least 3 subjects; got {len(subjects)}: "
            "add subjects or give the split yourself"
        )
    strata = (
        np.zeros(len(subjects), dtype=object)
        if stratify is None
        else _subject_strata(subjects, subj, stratify)
    )
    rng = np.random.default_rng(seed)
    assigned = np.empty(len(subjects), dtype=object)
    for stratum in sorted(set(strata.tolist()), key=str):
        members = np.flatnonzero(strata == stratum)
        members = members[rng.permutation(len(members))]
        counts = _allocate(len(members), frac)
        bounds = np.cumsum(counts)[:-1]
        for name, part in zip(SPLIT_NAMES, np.split(members, bounds), strict=True):
            assigned[part] = name
    # Many tiny strata can leave a split empty overall: move one subject from the largest split.
    for name in SPLIT_NAMES:
        if not (assigned == name).any():
            sizes = {s: int((assigned == s).sum()) for s in SPLIT_NAMES}
            donor = max(sizes, key=lambda s: sizes[s])
            assigned[np.flatnonzero(assigned == donor)[0]] = name
    lookup = dict(zip(subjects.tolist(), assigned.tolist(), strict=True))
    return np.asarray([lookup[s] for s in subj], dtype=object)


def check_disjoint(subject: Any, split: Any) -> None:
    """Raise :class:`DataError` naming a subject whose windows lie in more than one split."""
    subj = np.asarray(subject).astype(str)
    part = np.asarray(split).astype(str)
    if subj.shape != part.shape:
        raise DataError(
            f"subject has shape {subj.shape} but split has {part.shape}; give one of each per window"
        )
    pairs = pd.DataFrame({"s": subj, "p": part}).drop_duplicates()
    n_splits = pairs.groupby("s")["p"].nunique()
    shared = n_splits[n_splits > 1]
    if len(shared):
        example = str(shared.index[0])
        where = sorted(pairs.loc[pairs["s"] == example, "p"].tolist())
        raise DataError(
            f"subject {example!r} appears in splits {where} ({len(shared)} shared subject(s) in all); "
            "splits must be subject-disjoint: re-split by subject"
        )


def with_pool(
    subject: Any,
    split: Any,
    *,
    fraction: float,
    seed: int = 0,
) -> np.ndarray:
    """Move a ``fraction`` of the *train subjects* (all their windows) into the unlabelled ``"pool"``.

    Used to carve a pre-training pool, or to emulate having labels for only ``1 - fraction`` of the
    training subjects. ``fraction`` in [0, 1); at least one train subject always stays in train.
    Returns a new (N,) split array; val and test are unchanged.
    """
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(
            f"pool fraction must be in [0, 1); got {fraction}: keep some labelled train subjects"
        )
    subj = np.asarray(subject).astype(str)
    out = np.asarray(split).astype(str).astype(object)
    check_disjoint(subj, out)
    train_subjects = np.unique(subj[out == "train"])
    if len(train_subjects) == 0:
        raise DataError("the 'train' split is empty; there are no train subjects to move into the pool")
    rng = np.random.default_rng(seed)
    n_pool = min(round(fraction * len(train_subjects)), len(train_subjects) - 1)
    pooled = rng.choice(train_subjects, size=n_pool, replace=False)
    out[np.isin(subj, pooled) & (out == "train")] = "pool"
    return out


def pick_subjects(subjects: Any, *, fraction: float, seed: int, what: str = "subjects") -> set[Any]:
    """A seeded random ``fraction`` of the unique ``subjects``: at least one, never all.

    The two-way cut the loaders need (e.g. a validation share of the training patients). Unique ids are
    sorted before shuffling, so the result depends only on the set of ids and the seed. ``what`` names
    the population in the error raised when fewer than two subjects are given.
    """
    unique = np.unique(np.asarray(subjects))
    if len(unique) < 2:
        raise DataError(f"only {len(unique)} {what} available to split; the split needs at least two")
    n_pick = min(max(round(fraction * len(unique)), 1), len(unique) - 1)
    rng = np.random.default_rng(seed)
    return set(unique[rng.permutation(len(unique))[:n_pick]].tolist())
