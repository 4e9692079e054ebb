"""Linear CKA: feature-space vs example-space oracle, U-statistic oracle, invariances, streaming, errors."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from fairssl.errors import DataError
from fairssl.similarity.cka import StreamingCKA, cka_gram, cka_matrix, linear_cka

SHAPES = [(20, 5, 7), (50, 100, 30), (8, 3, 12), (200, 10, 10), (30, 64, 64)]


def _pair(rng: np.random.Generator, n: int, p: int, q: int) -> tuple[np.ndarray, np.ndarray]:
    """Related activations with non-zero means: Y depends on part of X plus noise."""
    X = rng.normal(size=(n, p)) + rng.normal(size=p) * 3.0
    Y = X @ rng.normal(size=(p, q)) / np.sqrt(p) + rng.normal(size=(n, q)) + 2.0
    return X, Y


def _orthogonal(rng: np.random.Generator, p: int) -> np.ndarray:
    Q, R = np.linalg.qr(rng.normal(size=(p, p)))
    return Q * np.sign(np.diag(R))


# ---------------------------------------------------------------------------------------------- oracles
@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize(("n", "p", "q"), SHAPES)
def test_feature_space_equals_gram_formula(n: int, p: int, q: int, debiased: bool) -> None:
    X, Y = _pair(np.random.default_rng(n * p + q), n, p, q)
    assert linear_cka(X, Y, debiased=debiased) == pytest.approx(cka_gram(X, Y, debiased=debiased), abs=1e-6)


def test_biased_gram_formula_equals_explicit_centering_matrix() -> None:
    X, Y = _pair(np.random.default_rng(1), 15, 4, 6)
    n = X.shape[0]
    H = np.eye(n) - np.ones((n, n)) / n
    K, L = X @ X.T, Y @ Y.T

    def hsic(A: np.ndarray, B: np.ndarray) -> float:
        return float(np.trace(H @ A @ H @ B))

    expected = hsic(K, L) / np.sqrt(hsic(K, K) * hsic(L, L))
    assert cka_gram(X, Y) == pytest.approx(expected, abs=1e-10)
    assert linear_cka(X, Y) == pytest.approx(expected, abs=1e-10)


def _hsic_u_statistic(K: np.ndarray, L: np.ndarray) -> float:
    """Song et al.'s unbiased HSIC: mean over distinct (i, j, q, r) of k_ij l_ij + k_ij l_qr - 2 k_ij l_iq."""
    n = K.shape[0]
    total = 0.0
    count = 0
    for i, j, q, r in itertools.permutations(range(n), 4):
        total += K[i, j] * L[i, j] + K[i, j] * L[q, r] - 2 * K[i, j] * L[i, q]
        count += 1
    return total / count


def test_debiased_equals_u_statistic_over_quadruples() -> None:
    X, Y = _pair(np.random.default_rng(2), 7, 3, 2)
    K, L = X @ X.T, Y @ Y.T
    expected = _hsic_u_statistic(K, L) / np.sqrt(_hsic_u_statistic(K, K) * _hsic_u_statistic(L, L))
    assert linear_cka(X, Y, debiased=True) == pytest.approx(expected, abs=1e-9)
    assert cka_gram(X, Y, debiased=True) == pytest.approx(expected, abs=1e-9)


# ---------------------------------------------------------------------------------------------- properties
@pytest.mark.parametrize("debiased", [False, True])
def test_identical_inputs_give_one(debiased: bool) -> None:
    X = np.random.default_rng(3).normal(size=(40, 25))
    assert linear_cka(X, X, debiased=debiased) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("debiased", [False, True])
def test_invariant_to_orthogonal_transform_scaling_and_translation(seed: int, debiased: bool) -> None:
    rng = np.random.default_rng(seed)
    X, Y = _pair(rng, 60, 12, 9)
    base = linear_cka(X, Y, debiased=debiased)
    Xt = 7.5 * X @ _orthogonal(rng, 12) + 4.0
    Yt = 0.01 * Y @ _orthogonal(rng, 9) - 3.0
    assert linear_cka(Xt, Y, debiased=debiased) == pytest.approx(base, abs=1e-10)
    assert linear_cka(X, Yt, debiased=debiased) == pytest.approx(base, abs=1e-10)
    assert linear_cka(Xt, Yt, debiased=debiased) == pytest.approx(base, abs=1e-10)


def test_not_invariant_to_general_invertible_linear_map() -> None:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(100, 5))
    A = np.diag([1.0, 10.0, 0.1, 3.0, 0.5]) @ _orthogonal(rng, 5)  # invertible, not a scaled rotation
    assert np.linalg.matrix_rank(A) == 5
    assert linear_cka(X, X @ A) < 0.9
    assert linear_cka(X, X @ A, debiased=True) < 0.9


def test_symmetric_in_its_arguments() -> None:
    X, Y = _pair(np.random.default_rng(5), 30, 6, 4)
    assert linear_cka(X, Y, debiased=True) == pytest.approx(linear_cka(Y, X, debiased=True), abs=1e-12)


def test_debiased_is_near_zero_for_independent_features_where_biased_is_not() -> None:
    rng = np.random.default_rng(6)
    n, p = 50, 100
    biased, debiased = [], []
    for _ in range(20):
        X, Y = rng.normal(size=(n, p)), rng.normal(size=(n, p))
        biased.append(linear_cka(X, Y))
        debiased.append(linear_cka(X, Y, debiased=True))
    assert abs(np.mean(debiased)) < 0.05
    assert np.mean(biased) > 0.5


def test_biased_lies_in_unit_interval() -> None:
    rng = np.random.default_rng(7)
    for _ in range(10):
        X, Y = rng.normal(size=(20, 3)), rng.normal(size=(20, 30))
        assert 0.0 <= linear_cka(X, Y) <= 1.0


def test_constant_input_gives_nan() -> None:
    X = np.ones((10, 3))
    Y = np.random.default_rng(8).normal(size=(10, 2))
    assert np.isnan(linear_cka(X, Y))
    assert np.isnan(cka_gram(X, Y, debiased=True))


def test_higher_dimensional_input_is_flattened_per_example() -> None:
    rng = np.random.default_rng(9)
    X3 = rng.normal(size=(25, 4, 6))
    Y = rng.normal(size=(25, 5))
    assert linear_cka(X3, Y) == pytest.approx(linear_cka(X3.reshape(25, 24), Y), abs=1e-12)


# ---------------------------------------------------------------------------------------------- streaming
@pytest.mark.parametrize("debiased", [False, True])
def test_streaming_equals_full(debiased: bool) -> None:
    rng = np.random.default_rng(10)
    X, Y = _pair(rng, 137, 20, 11)
    X += 50.0  # far from the origin: the shift must keep the sums accurate
    stream = StreamingCKA()
    for lo, hi in [(0, 1), (1, 40), (40, 41), (41, 100), (100, 137)]:
        stream.update(X[lo:hi], Y[lo:hi])
    assert stream.n == 137
    assert stream.result(debiased=debiased) == pytest.approx(linear_cka(X, Y, debiased=debiased), abs=1e-8)


def test_streaming_accepts_float32_batches() -> None:
    rng = np.random.default_rng(11)
    X, Y = _pair(rng, 64, 8, 8)
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
    stream = StreamingCKA()
    for lo in range(0, 64, 16):
        stream.update(X32[lo : lo + 16], Y32[lo : lo + 16])
    assert stream.result(debiased=True) == pytest.approx(linear_cka(X32, Y32, debiased=True), abs=1e-8)


def test_streaming_errors() -> None:
    rng = np.random.default_rng(12)
    with pytest.raises(DataError, match="X_batch has 5 rows but Y_batch has 4"):
        StreamingCKA().update(rng.normal(size=(5, 3)), rng.normal(size=(4, 3)))
    stream = StreamingCKA().update(rng.normal(size=(5, 3)), rng.normal(size=(5, 2)))
    with pytest.raises(DataError, match=r"batch has \(4, 2\) features but earlier batches had \(3, 2\)"):
        stream.update(rng.normal(size=(5, 4)), rng.normal(size=(5, 2)))
    with pytest.raises(DataError, match="debiased CKA needs at least 4 examples, got 0"):
        StreamingCKA().result(debiased=True)


# ---------------------------------------------------------------------------------------------- matrix
def test_cka_matrix_matches_gram_oracle_per_entry() -> None:
    rng = np.random.default_rng(13)
    n = 40
    acts_a = {"conv1": rng.normal(size=(n, 12)), "conv2": rng.normal(size=(n, 3, 4)) + 1.0}
    base = acts_a["conv1"]
    acts_b = {
        "conv1": base @ rng.normal(size=(12, 7)) + 0.5 * rng.normal(size=(n, 7)),
        "conv2": rng.normal(size=(n, 9)),
        "conv3": base[:, :2],
    }
    for debiased in (False, True):
        matrix = cka_matrix(acts_a, acts_b, debiased=debiased)
        assert isinstance(matrix, pd.DataFrame)
        assert list(matrix.index) == ["conv1", "conv2"]
        assert list(matrix.columns) == ["conv1", "conv2", "conv3"]
        assert matrix.index.name == "layer_a"
        assert matrix.columns.name == "layer_b"
        for la, xa in acts_a.items():
            for lb, xb in acts_b.items():
                assert matrix.loc[la, lb] == pytest.approx(cka_gram(xa, xb, debiased=debiased), abs=1e-6)


def test_wide_layers_on_few_examples_use_the_kernel_path_and_match_the_gram_oracle() -> None:
    # conditioned CKA on a small group of wide conv layers: n = 25 examples, up to 300 features; the
    # layers mix wide (p > n: n x n kernels) and narrow (p < n: feature-space products) in one matrix
    rng = np.random.default_rng(21)
    n = 25
    shared = rng.normal(size=(n, 6))
    acts_a = {"wide": shared @ rng.normal(size=(6, 300)) + rng.normal(size=(n, 300)), "narrow": shared[:, :4]}
    acts_b = {
        "wide": shared @ rng.normal(size=(6, 120)) + 0.3 * rng.normal(size=(n, 120)),
        "narrow": rng.normal(size=(n, 5)),
    }
    for debiased in (False, True):
        matrix = cka_matrix(acts_a, acts_b, debiased=debiased)
        for la, xa in acts_a.items():
            for lb, xb in acts_b.items():
                assert matrix.loc[la, lb] == pytest.approx(cka_gram(xa, xb, debiased=debiased), abs=1e-9)
        assert matrix.loc["wide", "wide"] > 0.5 > abs(matrix.loc["narrow", "narrow"])


def test_cka_matrix_errors() -> None:
    rng = np.random.default_rng(14)
    good = {"l": rng.normal(size=(10, 3))}
    with pytest.raises(DataError, match="acts_a must be a non-empty mapping"):
        cka_matrix({}, good)
    with pytest.raises(DataError, match="all layers must hold activations of the same examples"):
        cka_matrix(good, {"m": rng.normal(size=(9, 3))})
    with pytest.raises(DataError, match=r"acts_b\['m'\] contains NaN or infinite values"):
        cka_matrix(good, {"m": np.full((10, 3), np.nan)})


# ---------------------------------------------------------------------------------------------- errors
def test_input_errors() -> None:
    rng = np.random.default_rng(15)
    with pytest.raises(
        DataError, match=r"X must be an array of shape \(n_examples, n_features\).*got shape \(5,\)"
    ):
        linear_cka(np.ones(5), np.ones((5, 2)))
    with pytest.raises(DataError, match="X has 6 examples but Y has 5"):
        linear_cka(rng.normal(size=(6, 2)), rng.normal(size=(5, 2)))
    with pytest.raises(DataError, match="debiased CKA needs at least 4 examples, got 3"):
        linear_cka(rng.normal(size=(3, 2)), rng.normal(size=(3, 2)), debiased=True)
    with pytest.raises(DataError, match="biased CKA needs at least 2 examples, got 1"):
        cka_gram(rng.normal(size=(1, 2)), rng.normal(size=(1, 2)))
    with pytest.raises(DataError, match="Y contains NaN or infinite values"):
        linear_cka(rng.normal(size=(5, 2)), np.array([[1.0, np.inf]] * 5))
    with pytest.raises(DataError, match="X must be real numbers, got dtype <U1"):
        linear_cka(np.array([["a", "b"]] * 5), rng.normal(size=(5, 2)))
    with pytest.raises(DataError, match="Y must be real numbers, got dtype complex128"):
        linear_cka(rng.normal(size=(5, 2)), np.ones((5, 2), dtype=complex))
