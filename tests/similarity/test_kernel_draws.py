"""Batched CKA of draws from precomputed kernels (:mod:`fairssl.similarity.kernel_draws`) and the prepared
subject permutations: equal to the per-pair reference, the Gram-matrix oracle and the earlier draws."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fairssl.errors import DataError
from fairssl.similarity.cka import cka_gram, kernel_cka_matrix, linear_kernels
from fairssl.similarity.conditioned import conditioned_cka
from fairssl.similarity.group_sampling import (
    SubjectDraws,
    coded_group_members,
    draw_cka,
    subject_codes,
    subject_labels,
)
from fairssl.similarity.kernel_draws import LayerKernels, PairKernels, kernel_cka_batch


def _acts(seed: int, n: int = 120) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Two models' rectified activations with shared signal and a large mean (cancellation check)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 5))
    a = {
        f"a{i}": np.maximum(base @ rng.normal(size=(5, p)) + rng.normal(size=(n, p)) + 2, 0)
        for i, p in enumerate([40, 150, 7])
    }
    b = {
        f"b{i}": np.maximum(base @ rng.normal(size=(5, p)) + rng.normal(size=(n, p)), 0)
        for i, p in enumerate([30, 9])
    }
    return a, b


@pytest.mark.parametrize("debiased", [True, False])
@pytest.mark.parametrize("n", [4, 17, 60])
def test_batch_equals_per_pair_reference_and_gram_oracle(debiased: bool, n: int) -> None:
    a, b = _acts(0)
    idx = np.sort(np.random.default_rng(n).choice(120, size=n, replace=False))
    got = kernel_cka_batch(PairKernels.of(LayerKernels.of(a), LayerKernels.of(b)), idx, debiased=debiased)
    ref = kernel_cka_matrix(linear_kernels(a), linear_kernels(b), idx, debiased=debiased).to_numpy()
    oracle = np.array([[cka_gram(x[idx], y[idx], debiased=debiased) for y in b.values()] for x in a.values()])
    assert got.shape == (3, 2)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got, oracle, rtol=0, atol=1e-10)


def test_identical_models_give_exactly_one_and_constant_layer_nan() -> None:
    a, _ = _acts(1)
    a["flat"] = np.ones((120, 4))  # constant: self-HSIC 0
    k = LayerKernels.of(a)
    idx = np.arange(0, 120, 3)
    got = kernel_cka_batch(PairKernels.of(k, k), idx, debiased=True)
    assert (np.diagonal(got)[:3] == 1.0).all()  # bit-exact, as the per-pair reference
    assert np.isnan(got[3]).all() and np.isnan(got[:, 3]).all()


def test_errors_name_the_problem() -> None:
    a, b = _acts(2)
    ka, kb = LayerKernels.of(a), LayerKernels.of(b)
    with pytest.raises(DataError, match="at least 4 examples"):
        kernel_cka_batch(PairKernels.of(ka, kb), np.arange(3), debiased=True)
    with pytest.raises(DataError, match="precomputed kernels of acts_a"):
        draw_cka(b, b, debiased=True, kernel_bytes_limit=0, kernels=(ka, kb))


def test_draw_cka_paths_agree() -> None:
    a, b = _acts(3)
    idx = np.sort(np.random.default_rng(0).choice(120, size=30, replace=False))
    kernels = draw_cka(a, b, debiased=True, kernel_bytes_limit=2**30)(idx)
    shared = draw_cka(
        a, b, debiased=True, kernel_bytes_limit=0, kernels=(LayerKernels.of(a), LayerKernels.of(b))
    )
    features = draw_cka(a, b, debiased=True, kernel_bytes_limit=0)(idx)  # per-draw feature statistics
    np.testing.assert_allclose(kernels, features, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(shared(idx), kernels)


def _reference_draws(
    values: np.ndarray, subjects: np.ndarray, groups: list[str], n: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """The permutation draws as first written: labels per draw, members by np.isin on subject ids."""
    label = subject_labels(values, subjects)
    shuffled = rng.permutation(label.to_numpy())
    ids = label.index.to_numpy()
    out = []
    for group in groups:
        members = np.flatnonzero(np.isin(subjects, ids[shuffled == group]))
        members = members if members.size >= n else np.arange(len(subjects))
        out.append(np.sort(rng.choice(members, size=n, replace=False)))
    return out


def test_prepared_subject_draws_equal_the_reference_stream() -> None:
    rng = np.random.default_rng(5)
    subjects = np.repeat([f"s{i:02d}" for i in rng.permutation(30)], 4)
    values = np.repeat(rng.choice(["x", "y", "z"], size=30, p=[0.6, 0.3, 0.1]), 4)
    prepared = SubjectDraws.of(values, subjects)
    r1, r2 = np.random.default_rng(9), np.random.default_rng(9)
    for _ in range(5):  # n = 30 > the z pseudo-group: that one draws from all windows
        for got, want in zip(
            prepared.draws(["x", "y", "z"], 30, r1),
            _reference_draws(values, subjects, ["x", "y", "z"], 30, r2),
            strict=True,
        ):
            np.testing.assert_array_equal(got, want)
    codes = subject_codes(np.append(subjects, "stranger"), np.unique(subjects))
    assert codes[-1] == -1  # an unlisted subject never carries a label
    shuffled = np.where(np.unique(subjects) == "s03", "g", "h").astype(object)
    assert coded_group_members(codes, shuffled, "g", 1).tolist() == list(np.flatnonzero(subjects == "s03"))


def test_conditioned_cka_with_shared_kernels_equals_its_own() -> None:
    a, b = _acts(4)
    rng = np.random.default_rng(4)
    subjects = np.repeat(np.arange(30), 4)
    frame = pd.DataFrame({"sex": np.repeat(rng.choice(["f", "m"], size=30), 4)})
    options = {"n_draws": 2, "n_permutations": 3, "min_group_size": 10, "subjects": subjects}
    own = conditioned_cka(a, b, frame, **options)
    shared = conditioned_cka(a, b, frame, kernels=(LayerKernels.of(a), LayerKernels.of(b)), **options)
    pd.testing.assert_frame_equal(own, shared)
    assert len(own) == (2 * 2 + 3 * 2) * 3 * 2  # (groups x draws + perms x groups) x layers_a x layers_b
