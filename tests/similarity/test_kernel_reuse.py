"""Reusing kernels across a comparison (issue 23): the flat gather of a draw, one PairKernels shared by
the overall CKA, conditioned CKA and the ratio null, and its array reused across comparisons all give
what a direct per-pair computation gives (the Gram-matrix oracle, ``cka_matrix`` on the features)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fairssl.errors import DataError
from fairssl.experiments.stage_similarity import _kernels, _overall_cka
from fairssl.similarity.cka import cka_gram, cka_matrix
from fairssl.similarity.conditioned import conditioned_cka
from fairssl.similarity.group_sampling import draw_cka
from fairssl.similarity.kernel_draws import LayerKernels, PairKernels, _gather, kernel_cka_batch


def _acts(seed: int, n: int = 90) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Two models' rectified activations (float32, as stored) with a shared signal."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 4))
    a = {f"a{i}": np.maximum(base @ rng.normal(size=(4, p)) + 1, 0) for i, p in enumerate([20, 130])}
    b = {
        f"b{i}": np.maximum(base @ rng.normal(size=(4, p)) + rng.normal(size=(n, p)), 0)
        for i, p in enumerate([6, 25, 40])
    }
    return {k: v.astype(np.float32) for k, v in a.items()}, {k: v.astype(np.float32) for k, v in b.items()}


def test_flat_gather_equals_fancy_indexing_and_full_index_is_no_copy() -> None:
    G = np.random.default_rng(0).normal(size=(30, 30, 4))
    idx = np.array([1, 4, 5, 17, 29])
    np.testing.assert_array_equal(_gather(G, idx), G[np.ix_(idx, idx)])  # (5, 5, 4), bit for bit
    np.testing.assert_array_equal(_gather(G, idx.astype(np.int32)), G[np.ix_(idx, idx)])
    assert _gather(G, np.arange(30)) is G
    np.testing.assert_array_equal(_gather(G, np.arange(30)[::-1]), G[::-1, ::-1])  # not in order: gathered


@pytest.mark.parametrize("debiased", [True, False])
def test_draw_from_a_reused_pair_buffer_equals_the_direct_per_pair_oracle(debiased: bool) -> None:
    a, b = _acts(1)
    ka, kb = LayerKernels.of(a), LayerKernels.of(b)
    stale = PairKernels.of(LayerKernels.of(b), LayerKernels.of(a)).G  # same shape, other values
    stale = np.ascontiguousarray(stale)
    pair = PairKernels.of(ka, kb, out=stale)
    assert pair.G is stale  # written in place
    np.testing.assert_array_equal(pair.G, np.concatenate([ka.G, kb.G], axis=2))
    idx = np.sort(np.random.default_rng(2).choice(90, size=33, replace=False))
    got = kernel_cka_batch(pair, idx, debiased=debiased)  # (2, 3)
    oracle = np.array([[cka_gram(x[idx], y[idx], debiased=debiased) for y in b.values()] for x in a.values()])
    np.testing.assert_allclose(got, oracle, rtol=0, atol=1e-10)
    wrong_shape = np.empty((90, 90, 4))
    assert PairKernels.of(ka, kb, out=wrong_shape).G is not wrong_shape  # not fitting: a new array


def test_overall_cka_from_kernels_equals_features_and_oracle() -> None:
    a, b = _acts(3)
    buffer: list[np.ndarray] = []
    pair = _kernels({}, "sup", a, b, buffer)
    assert pair is not None and buffer == [pair.G]
    got = _overall_cka(a, b, pair, debiased=True)
    want = cka_matrix(a, b, debiased=True)
    pd.testing.assert_index_equal(got.index, want.index)
    pd.testing.assert_index_equal(got.columns, want.columns)
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=0, atol=1e-10)
    oracle = np.array([[cka_gram(x, y, debiased=True) for y in b.values()] for x in a.values()])
    np.testing.assert_allclose(got.to_numpy(), oracle, rtol=0, atol=1e-10)
    pd.testing.assert_frame_equal(_overall_cka(a, b, None, debiased=True), want)  # no kernels: features
    # the next comparison (another model) is written into the same array and is right for its model
    _, c = _acts(4)
    cache = {"sup": LayerKernels.of(a)}
    again = _kernels(cache, "sup", a, c, buffer)
    assert again is not None and again.G is pair.G
    np.testing.assert_allclose(
        _overall_cka(a, c, again, debiased=True).to_numpy(),
        cka_matrix(a, c, debiased=True).to_numpy(),
        rtol=0,
        atol=1e-10,
    )


def test_shared_pair_gives_the_same_draws_as_separate_kernels() -> None:
    a, b = _acts(5)
    ka, kb = LayerKernels.of(a), LayerKernels.of(b)
    pair = PairKernels.of(ka, kb)
    idx = np.arange(3, 80, 2)
    np.testing.assert_array_equal(
        draw_cka(a, b, debiased=True, kernel_bytes_limit=0, kernels=pair)(idx),
        draw_cka(a, b, debiased=True, kernel_bytes_limit=0, kernels=(ka, kb))(idx),
    )
    subjects = np.repeat(np.arange(30), 3)
    frame = pd.DataFrame({"sex": np.repeat(np.random.default_rng(5).choice(["f", "m"], size=30), 3)})
    options = {"n_draws": 2, "n_permutations": 3, "min_group_size": 10, "subjects": subjects}
    pd.testing.assert_frame_equal(
        conditioned_cka(a, b, frame, kernels=pair, **options), conditioned_cka(a, b, frame, **options)
    )
    with pytest.raises(DataError, match="precomputed kernels of acts_b"):
        draw_cka(a, a, debiased=True, kernel_bytes_limit=0, kernels=pair)
