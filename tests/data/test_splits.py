"""Subject-disjoint splits: disjointness, determinism, stratification, the pool, and their errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairssl.data.splits import check_disjoint, subject_split, with_pool
from fairssl.errors import ConfigError, DataError


def _subjects(n_subjects: int, per: int = 3) -> np.ndarray:
    return np.repeat([f"p{i:03d}" for i in range(n_subjects)], per)


def _split_of_subject(subject: np.ndarray, split: np.ndarray) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for s, p in zip(subject, split, strict=True):
        out.setdefault(str(s), set()).add(str(p))
    return out


@settings(max_examples=40, deadline=None)
@given(
    ids=st.lists(st.integers(0, 40), min_size=3, max_size=120),
    seed=st.integers(0, 10_000),
)
def test_every_subject_lands_in_one_split_and_no_split_is_empty(ids: list[int], seed: int) -> None:
    subject = np.array([f"s{i}" for i in ids])
    if len(set(ids)) < 3:
        with pytest.raises(DataError, match="at least 3 subjects"):
            subject_split(subject, seed=seed)
        return
    split = subject_split(subject, seed=seed)
    assert split.shape == subject.shape
    assert all(len(v) == 1 for v in _split_of_subject(subject, split).values())
    assert set(split) == {"train", "val", "test"}
    check_disjoint(subject, split)


def test_same_seed_same_split_and_other_seed_other_split() -> None:
    subject = _subjects(50)
    a = subject_split(subject, seed=1)
    b = subject_split(subject, seed=1)
    c = subject_split(subject, seed=2)
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_fractions_are_shares_of_subjects() -> None:
    subject = _subjects(100, per=2)
    split = subject_split(subject, fractions=(0.6, 0.3, 0.1), seed=0)
    per_subject = {s: next(iter(v)) for s, v in _split_of_subject(subject, split).items()}
    counts = {k: sum(1 for v in per_subject.values() if v == k) for k in ("train", "val", "test")}
    assert counts == {"train": 60, "val": 30, "test": 10}


def test_row_order_does_not_change_a_subjects_split() -> None:
    subject = _subjects(30)
    perm = np.random.default_rng(0).permutation(len(subject))
    a = subject_split(subject, seed=5)
    b = subject_split(subject[perm], seed=5)
    np.testing.assert_array_equal(a[perm], b)


def test_stratified_small_set_keeps_both_classes_in_every_split() -> None:
    # 4 subjects with a positive window, 16 without: unstratified splits often miss positives somewhere.
    subject = _subjects(20, per=5)
    y = np.zeros(len(subject), dtype=int)
    for i in range(4):
        y[np.flatnonzero(subject == f"p{i:03d}")[2]] = 1
    for seed in range(10):
        split = subject_split(subject, seed=seed, stratify=y)
        for name in ("train", "val", "test"):
            assert set(y[split == name]) == {0, 1}, (seed, name)


def test_stratify_by_mapping_of_subject_to_stratum() -> None:
    subject = _subjects(9)
    strata = {f"p{i:03d}": ("a" if i < 3 else "b") for i in range(9)}
    split = subject_split(subject, seed=0, stratify=strata)
    per_subject = {s: next(iter(v)) for s, v in _split_of_subject(subject, split).items()}
    in_a = sorted(per_subject[f"p{i:03d}"] for i in range(3))
    assert in_a == ["test", "train", "val"]


def test_tiny_strata_still_fill_every_split() -> None:
    subject = np.array(["a", "b", "c", "d"])
    split = subject_split(subject, seed=0, stratify=np.array([0, 1, 2, 3]))
    assert set(split) == {"train", "val", "test"}


@pytest.mark.parametrize(
    ("fractions", "pattern"),
    [
        ((0.7, 0.3, 0.0), "three positive numbers"),
        ((0.5, 0.5), "three positive numbers"),
        ((0.7, 0.2, 0.2), "must sum to 1"),
    ],
)
def test_bad_fractions(fractions: tuple[float, ...], pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        subject_split(_subjects(10), fractions=fractions)


def test_stratify_shape_mismatch() -> None:
    with pytest.raises(DataError, match=r"stratify has shape \(5,\), expected \(30,\)"):
        subject_split(_subjects(10), stratify=np.zeros(5))


def test_stratify_mapping_missing_a_subject() -> None:
    with pytest.raises(DataError, match=r"stratify has no value for 1 subject\(s\) \(e\.g\. 'p009'\)"):
        subject_split(_subjects(10), stratify={f"p{i:03d}": 0 for i in range(9)})


def test_check_disjoint_names_the_shared_subject() -> None:
    subject = np.array(["a", "a", "b", "c"])
    split = np.array(["train", "test", "val", "test"])
    with pytest.raises(DataError, match=r"subject 'a' appears in splits \['test', 'train'\]"):
        check_disjoint(subject, split)


def test_check_disjoint_shape_mismatch() -> None:
    with pytest.raises(DataError, match="subject has shape"):
        check_disjoint(np.array(["a", "b"]), np.array(["train"]))


def test_with_pool_moves_whole_train_subjects_only() -> None:
    subject = _subjects(40)
    split = subject_split(subject, seed=0)
    pooled = with_pool(subject, split, fraction=0.5, seed=1)
    train_before = set(subject[split == "train"])
    pool_after = set(subject[pooled == "pool"])
    train_after = set(subject[pooled == "train"])
    assert pool_after <= train_before and pool_after.isdisjoint(train_after)
    assert len(pool_after) == round(0.5 * len(train_before))
    np.testing.assert_array_equal(pooled[split != "train"], split[split != "train"])
    check_disjoint(subject, pooled)


def test_with_pool_keeps_one_train_subject() -> None:
    subject = np.array(["a", "b", "c", "d"])
    split = np.array(["train", "train", "val", "test"])
    pooled = with_pool(subject, split, fraction=0.99)
    assert (pooled == "train").sum() == 1 and (pooled == "pool").sum() == 1


def test_with_pool_zero_fraction_is_identity() -> None:
    subject = _subjects(10)
    split = subject_split(subject)
    np.testing.assert_array_equal(with_pool(subject, split, fraction=0.0), split)


def test_with_pool_errors() -> None:
    subject = np.array(["a", "b"])
    with pytest.raises(ConfigError, match=r"pool fraction must be in \[0, 1\)"):
        with_pool(subject, np.array(["train", "val"]), fraction=1.0)
    with pytest.raises(DataError, match="the 'train' split is empty"):
        with_pool(subject, np.array(["val", "test"]), fraction=0.5)


def test_pick_subjects_takes_a_seeded_share_never_none_or_all() -> None:
    from fairssl.data.splits import pick_subjects

    ids = [f"p{i}" for i in range(20)]
    a = pick_subjects(ids + ids, fraction=0.25, seed=1)  # duplicates count once
    assert len(a) == 5 and a <= set(ids)
    assert a == pick_subjects(list(reversed(ids)), fraction=0.25, seed=1)
    assert len(pick_subjects(ids, fraction=0.0, seed=0)) == 1
    assert len(pick_subjects(ids, fraction=1.0, seed=0)) == 19
    with pytest.raises(DataError, match="only 1 patient"):
        pick_subjects(["p0"], fraction=0.5, seed=0, what="patient(s)")
