"""Per-group confusion counts: loop oracle, weights as multiplicities, cluster tables, group encoding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fairssl.data.dataset import MISSING
from fairssl.errors import DataError
from fairssl.evaluation.counts import (
    CELLS,
    binarise,
    cell_table,
    confusion_counts,
    counts_from_table,
    encode_groups,
    encode_subjects,
    group_subjects,
    subjects_in,
)


def _loop_counts(y_true, y_pred, groups, n_groups, weights=None) -> np.ndarray:
    """Independent oracle: walk the windows one by one."""
    out = np.zeros((n_groups, 4))
    names = {(0, 0): "tn", (0, 1): "fp", (1, 0): "fn", (1, 1): "tp"}
    for i, (t, p, g) in enumerate(zip(y_true, y_pred, groups, strict=True)):
        if g < 0:
            continue
        out[g, CELLS.index(names[(int(t), int(p))])] += 1.0 if weights is None else weights[i]
    return out


def _case(seed: int, n: int = 60, n_groups: int = 3):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2, n), rng.integers(0, 2, n), rng.integers(-1, n_groups, n)


@pytest.mark.parametrize("seed", range(5))
def test_counts_match_loop_oracle(seed: int) -> None:
    y_true, y_pred, groups = _case(seed)
    np.testing.assert_array_equal(
        confusion_counts(y_true, y_pred, groups, n_groups=3), _loop_counts(y_true, y_pred, groups, 3)
    )


def test_weights_equal_repeating_windows() -> None:
    y_true, y_pred, groups = _case(11)
    rng = np.random.default_rng(0)
    mult = rng.integers(0, 4, len(y_true))
    expected = confusion_counts(
        np.repeat(y_true, mult), np.repeat(y_pred, mult), np.repeat(groups, mult), n_groups=3
    )
    np.testing.assert_array_equal(
        confusion_counts(y_true, y_pred, groups, n_groups=3, weights=mult), expected
    )
    np.testing.assert_allclose(
        confusion_counts(y_true, y_pred, groups, n_groups=3, weights=mult * 0.5),
        _loop_counts(y_true, y_pred, groups, 3, weights=mult * 0.5),
    )


def test_two_dimensional_weights_give_one_count_set_per_row() -> None:
    y_true, y_pred, groups = _case(12)
    w = np.random.default_rng(1).integers(0, 3, (5, len(y_true)))
    batched = confusion_counts(y_true, y_pred, groups, n_groups=3, weights=w)
    assert batched.shape == (5, 3, 4)
    for b in range(5):
        np.testing.assert_array_equal(batched[b], _loop_counts(y_true, y_pred, groups, 3, weights=w[b]))


def test_cluster_table_counts_equal_explicitly_resampled_clusters() -> None:
    rng = np.random.default_rng(5)
    n, n_clusters = 80, 12
    y_true, y_pred, groups = rng.integers(0, 2, n), rng.integers(0, 2, n), rng.integers(0, 3, n)
    clusters = rng.integers(0, n_clusters, n)
    table = cell_table(2 * y_true + y_pred, groups, n_groups=3, clusters=clusters, n_clusters=n_clusters)
    draws = rng.integers(0, n_clusters, (4, n_clusters))  # 4 resamples of clusters
    mult = np.stack([np.bincount(d, minlength=n_clusters) for d in draws])
    vectorised = counts_from_table(table, mult)
    for b in range(4):
        rows = np.concatenate([np.flatnonzero(clusters == c) for c in draws[b]])  # the resampled windows
        np.testing.assert_array_equal(
            vectorised[b], _loop_counts(y_true[rows], y_pred[rows], groups[rows], 3)
        )


@settings(max_examples=40, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.integers(0, 1), st.integers(0, 1), st.integers(-1, 3)), min_size=1, max_size=40
    )
)
def test_counts_partition_the_kept_windows(data: list[tuple[int, int, int]]) -> None:
    y_true, y_pred, groups = (np.array(col) for col in zip(*data, strict=True))
    counts = confusion_counts(y_true, y_pred, groups, n_groups=4)
    assert counts.sum() == (groups >= 0).sum()
    np.testing.assert_array_equal(counts.sum(axis=1), np.bincount(groups[groups >= 0], minlength=4))
    kept = groups >= 0
    assert counts[:, 3].sum() == ((y_true == 1) & (y_pred == 1) & kept).sum()


def test_encode_groups_sorts_and_excludes_missing() -> None:
    frame = pd.DataFrame(
        {"sex": ["m", "f", None, "f", "", "m", "m"], "age": ["<65", "65+", "<65", "<65", "65+", "65+", "<65"]}
    )
    sex, age = encode_groups(frame)
    assert sex.groups == ("f", "m") and sex.codes.tolist() == [1, 0, -1, 0, -1, 1, 1]
    assert sex.sizes.tolist() == [2, 3]
    assert age.groups == ("65+", "<65") and age.sizes.tolist() == [3, 4]
    (with_missing, _) = encode_groups(frame, include_missing=True)
    assert with_missing.groups == ("f", "m", MISSING) and with_missing.sizes.tolist() == [2, 3, 2]


@pytest.mark.parametrize(
    ("features", "match"),
    [
        (np.zeros((3, 1)), "must be a pandas DataFrame"),
        (pd.DataFrame({"a": ["x", "y"]}), "has 2 rows but there are 3 predictions"),
        (pd.DataFrame(index=range(3)), "has no columns"),
        (pd.DataFrame([["a", "b"]] * 3, columns=["s", "s"]), "duplicate column names"),
    ],
)
def test_sensitive_feature_errors(features, match: str) -> None:
    from fairssl.evaluation.counts import as_sensitive_frame

    with pytest.raises(DataError, match=match):
        as_sensitive_frame(features, 3)


def test_binarise_is_one_vs_rest_and_rejects_bad_labels() -> None:
    assert binarise(np.array([0, 2, 1, 2]), pos_label=2).tolist() == [0, 1, 0, 1]
    with pytest.raises(DataError, match="must be 1-D"):
        binarise(np.zeros((2, 2)))
    with pytest.raises(DataError, match="holds NaN/Inf"):
        binarise(np.array([0.0, np.nan]))
    with pytest.raises(DataError, match="must hold integer class labels"):
        binarise(np.array(["a", "b"]))


def test_subject_counts_count_distinct_subjects_of_pooled_groups() -> None:
    groups = np.array([0, 0, 1, 1, 2, -1, 1])
    subjects = encode_subjects(np.array(["s1", "s1", "s1", "s2", "s3", "s4", "s5"]), 7)
    assert subjects.tolist() == [0, 0, 0, 1, 2, 3, 4]
    assert group_subjects(groups, subjects, 3).tolist() == [1, 3, 1]
    assert subjects_in(groups, subjects, np.array([True, True, False])) == 3  # s1 in both groups: once
    assert subjects_in(groups, subjects, np.array([False, False, False])) == 0
    assert encode_subjects(None, 4).tolist() == [0, 1, 2, 3]  # each window its own subject
    with pytest.raises(DataError, match="subjects has shape"):
        encode_subjects(np.arange(3), 4)
    with pytest.raises(DataError, match="subjects holds missing ids"):
        encode_subjects(np.array([1, None, 2], dtype=object), 3)
