"""binary_auroc: bit-identical to scikit-learn's roc_auc_score, Mann-Whitney oracle, error messages."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score

from fairssl.errors import DataError
from fairssl.evaluation.auroc import binary_auroc


def _labels(rng: np.random.Generator, n: int, p: float) -> np.ndarray:
    """0/1 labels (n,) holding both classes."""
    y = (rng.random(n) < p).astype(np.int64)
    y[0], y[-1] = 0, 1
    return rng.permutation(y)


def _cases(seed: int, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Random (labels, scores): sizes 2..5000, balanced to 1 positive, ties, float32/64, int/bool labels."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(count):
        n = int(rng.choice([2, 3, 7, 50, 333, 1000, 5000]))
        y = _labels(rng, n, float(rng.choice([0.02, 0.3, 0.5, 0.9])))
        s = rng.standard_normal(n) + float(rng.uniform(-1, 3)) * y
        style = k % 6
        if style == 1:  # heavy ties: few distinct values
            s = np.round(s, int(rng.integers(0, 2)))
        elif style == 2:
            s = s.astype(np.float32)
        elif style == 3:  # ties in float32
            s = np.round(1 / (1 + np.exp(-s)), 2).astype(np.float32)
        elif style == 4:  # probabilities that differ in the last bits
            s = 0.5 + 1e-12 * np.round(s * 3)
        elif style == 5:
            y = y.astype(bool)
        out.append((y, s))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bit_identical_to_sklearn_on_random_cases(seed: int) -> None:
    for y, s in _cases(seed, 60):
        expected = roc_auc_score(y, s)
        got = binary_auroc(y, s)
        assert got == expected, (len(y), s.dtype, got, expected)
        assert type(got) is float


def test_bit_identical_on_edge_cases() -> None:
    rng = np.random.default_rng(5)
    y = _labels(rng, 400, 0.4)
    one_pos = np.zeros(300, dtype=np.int64)
    one_pos[137] = 1
    signed_zeros = rng.choice([-0.0, 0.0, 1.0, -1.0], 400)
    cases = [
        (y, np.full(400, 0.25)),  # all scores equal: 0.5
        (y, np.full(400, 0.25, dtype=np.float32)),
        (y, y * 2.0 - 1),  # perfect separation: 1.0
        (y, 1.0 - y),  # reversed: 0.0
        (one_pos, rng.random(300)),  # one positive
        (1 - one_pos, rng.random(300)),  # one negative
        (y, signed_zeros),  # -0.0 and 0.0 are one tie group
        (y, np.where(signed_zeros == 0, -0.0, signed_zeros)),
        (np.array([0, 1]), np.array([0.3, 0.7])),
        (np.array([1, 0]), np.array([0.3, 0.7])),
        (np.array([True, False, True]), np.array([0.5, 0.5, 0.2], dtype=np.float32)),
        (y.astype(np.float64), rng.random(400)),  # float 0/1 labels
        (y, rng.integers(0, 5, 400)),  # integer scores
        (y, rng.random(400) * 1e-300),  # tiny differences
        (y, rng.random((400, 2)).astype(np.float32)[:, 1]),  # a strided column, as prob_metrics passes
    ]
    for y_true, score in cases:
        assert binary_auroc(y_true, score) == roc_auc_score(y_true, score), (y_true[:5], score[:5])
    assert binary_auroc(y, np.full(400, 0.25)) == 0.5
    assert binary_auroc(y, y * 2.0 - 1) == 1.0
    assert binary_auroc(y, 1.0 - y) == 0.0


def test_other_label_pairs_follow_sklearn_larger_label_is_positive() -> None:
    rng = np.random.default_rng(7)
    s = rng.random(200)
    base = _labels(rng, 200, 0.5)
    for low, high in [(1, 2), (-1, 1), (0, 3)]:
        y = np.where(base == 1, high, low)
        assert binary_auroc(y, s) == roc_auc_score(y, s)
        assert binary_auroc(y, s) == binary_auroc(base, s)


def test_sequences_are_accepted() -> None:
    assert binary_auroc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75


def test_agrees_with_mann_whitney_u_with_mid_ranks() -> None:
    """AUROC = (R_pos - n_pos (n_pos + 1) / 2) / (n_pos n_neg), R_pos the positives' mid-rank sum."""
    rng = np.random.default_rng(11)
    for n, decimals in [(30, 1), (500, 2), (2000, 6)]:
        y = _labels(rng, n, 0.35)
        s = np.round(rng.standard_normal(n) + 0.8 * y, decimals)
        ranks = rankdata(s)  # ties get their mean rank
        n_pos = int(y.sum())
        u = ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2
        expected = u / (n_pos * (n - n_pos))
        assert np.isclose(binary_auroc(y, s), expected, rtol=0, atol=1e-12)


def test_invariant_to_order_and_monotone_transform() -> None:
    rng = np.random.default_rng(3)
    y = _labels(rng, 300, 0.5)
    s = np.round(rng.standard_normal(300) + y, 1)
    perm = rng.permutation(300)
    auc = binary_auroc(y, s)
    assert binary_auroc(y[perm], s[perm]) == pytest.approx(auc, abs=1e-15)
    assert binary_auroc(y, np.exp(s)) == pytest.approx(auc, abs=1e-15)
    assert binary_auroc(1 - y, s) == pytest.approx(1 - auc, abs=1e-12)


@pytest.mark.parametrize(
    "y", [np.zeros(5, dtype=int), np.ones(5, dtype=int), np.full(5, True), np.full(5, 2)]
)
def test_single_class_is_a_value_error(y: np.ndarray) -> None:
    with pytest.raises(ValueError, match="AUROC needs both classes; y_true has"):
        binary_auroc(y, np.linspace(0, 1, 5))


def test_empty_input_is_a_value_error() -> None:
    with pytest.raises(DataError, match="needs both classes"):
        binary_auroc(np.array([], dtype=int), np.array([]))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_finite_scores_are_a_value_error_as_in_sklearn(bad: float, dtype: type) -> None:
    y = np.array([0, 1, 0, 1])
    s = np.array([0.1, bad, 0.3, 0.4], dtype=dtype)
    with pytest.raises(ValueError):
        roc_auc_score(y, s)
    with pytest.raises(DataError, match=r"y_score contains NaN or infinity \(1 of 4 values\)"):
        binary_auroc(y, s)


def test_shape_errors() -> None:
    with pytest.raises(DataError, match=r"1-D labels and scores of one length; got y_true \(3,\)"):
        binary_auroc(np.array([0, 1, 0]), np.array([0.1, 0.2]))
    with pytest.raises(DataError, match=r"y_score \(2, 2\)"):
        binary_auroc(np.array([0, 1]), np.array([[0.1, 0.9], [0.8, 0.2]]))


def test_label_and_score_type_errors() -> None:
    with pytest.raises(DataError, match=r"two integer class labels \(0 and 1\); got \[0, 1, 2\]"):
        binary_auroc(np.array([0, 1, 2, 1]), np.linspace(0, 1, 4))
    with pytest.raises(DataError, match=r"got \[0.0, 0.5\]"):
        binary_auroc(np.array([0.0, 0.5, 0.5]), np.linspace(0, 1, 3))
    with pytest.raises(DataError, match="y_true must be 0/1 labels; got dtype <U1"):
        binary_auroc(np.array(["a", "b"]), np.array([0.1, 0.2]))
    with pytest.raises(DataError, match="y_score must be real numbers; got dtype <U1"):
        binary_auroc(np.array([0, 1]), np.array(["a", "b"]))
