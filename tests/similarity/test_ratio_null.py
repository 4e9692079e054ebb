"""The dissimilarity ratio's permutation null (issue #15, inference.md): calibration and power by simulation.

On pure-noise, subject-level attributes the ratio D(largest AUROC gap) / D(smallest) is often well above 1
(the attribute with smaller groups has the noisier D); its permutation p-value must nevertheless be
uniform, so "p <= 0.05" happens in about 5% of studies. Where a group truly differs in representation the
p-value must be small.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fairssl.errors import ConfigError, DataError
from fairssl.similarity.conditioned import (
    RatioNull,
    best_worst_difference,
    conditioned_cka,
    dissimilarity_ratio,
    mean_ratio_null,
    permutation_p_value,
    ratio_null,
    summarise_conditioned,
)
from fairssl.similarity.group_sampling import subject_labels

# b has the largest AUROC gap and the smaller groups (noisier D); a the smallest gap
PERF = {"a": {"a0": 0.80, "a1": 0.79}, "b": {"b0": 0.9, "b1": 0.7, "b2": 0.8}}
OPTIONS = {"n_draws": 1, "min_group_size": 12}


def _study(
    rng: np.random.Generator, *, effect: bool = False, n_subjects: int = 40, per: int = 6
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], pd.DataFrame, np.ndarray]:
    """Two unrelated random one-layer models on windows of ``n_subjects`` persons (``per`` similar windows
    each) with two random subject-level attributes; ``effect``: model b copies model a on the windows of
    group b1 (a true difference in representation between b's best and worst groups)."""
    subject = np.repeat(np.arange(n_subjects), per)  # (N,)
    a = rng.choice(["a0", "a1"], n_subjects)[subject]
    b = rng.choice(["b0", "b1", "b2"], n_subjects, p=[0.4, 0.4, 0.2])[subject]
    inputs = rng.normal(size=(n_subjects, 5))[subject] + 0.5 * rng.normal(size=(subject.size, 5))

    def model() -> dict[str, np.ndarray]:
        h = np.tanh(inputs @ rng.normal(size=(5, 6)) / np.sqrt(5))
        return {"l1": h + 0.3 * rng.normal(size=h.shape)}

    acts_a, acts_b = model(), model()
    if effect:
        acts_b["l1"][b == "b1"] = acts_a["l1"][b == "b1"]
    return acts_a, acts_b, pd.DataFrame({"a": a, "b": b}), subject


def _null_of(
    rng: np.random.Generator, *, effect: bool = False, n_subjects: int = 40, per: int = 6
) -> RatioNull:
    """The ratio's null (19 permutations) in one simulated study (:func:`_study`)."""
    acts_a, acts_b, sf, subject = _study(rng, effect=effect, n_subjects=n_subjects, per=per)
    cond = conditioned_cka(
        acts_a, acts_b, sf, n_permutations=0, seed=int(rng.integers(1_000_000)), subjects=subject, **OPTIONS
    )
    ratio = dissimilarity_ratio(best_worst_difference(summarise_conditioned(cond), PERF))
    assert (ratio.largest_gap_attribute, ratio.smallest_gap_attribute) == ("b", "a")
    seed = int(rng.integers(1_000_000))
    return ratio_null(acts_a, acts_b, sf, subject, ratio, n_permutations=19, seed=seed, **OPTIONS)


def test_p_value_is_uniform_on_pure_noise_attributes_while_the_ratio_is_large() -> None:
    rng = np.random.default_rng(2)
    reps = 160
    results = [_null_of(rng) for _ in range(reps)]
    p = np.array([r.p_value for r in results])
    ratios = np.array([r.observed for r in results])
    # m = 19: under the null p is uniform on {1/20, ..., 20/20}: P(p <= 0.05) = 0.05, P(p <= 0.25) = 0.25,
    # mean 0.525 (sd 0.2875). Each check allows three Monte-Carlo standard errors of `reps` studies.
    for level in (0.05, 0.25):
        rate = float((p <= level + 1e-9).mean())
        assert abs(rate - level) <= 3 * np.sqrt(level * (1 - level) / reps), (level, rate)
    assert abs(p.mean() - 0.525) <= 3 * 0.2875 / np.sqrt(reps), p.mean()
    # the ratio alone would read as a pattern: most pure-noise studies give D(largest gap) > D(smallest)
    assert np.median(ratios) > 1.2, np.median(ratios)
    assert np.median([r.null_median for r in results]) > 1.2  # the null knows it


def test_a_true_group_difference_in_representation_gives_a_small_p() -> None:
    rng = np.random.default_rng(5)
    results = [_null_of(rng, effect=True, n_subjects=80, per=4) for _ in range(10)]
    p = np.array([r.p_value for r in results])
    # The ratio's denominator (D of the smallest-gap attribute, |difference| of two random groups) has
    # density near 0, so null ratios have a heavy tail and even a strong effect is not beyond all 19
    # permutations in every study: the ratio test has modest power. Its p-values are nonetheless far below
    # the null's: under the null P(p <= 0.15) = 0.15 (six or more of ten studies: probability 1.4e-3) and
    # the mean p of ten studies is 0.525 +- 0.09.
    assert (p <= 0.15 + 1e-9).sum() >= 6, p
    assert p.mean() < 0.2, p
    assert all(r.n_permutations == 19 and r.null.shape == (19,) for r in results)
    assert all(r.observed > r.null_median for r in results)


def test_permutation_p_value_against_its_formula() -> None:
    null = np.array([0.5, 2.0, 3.0, np.nan, np.inf, 2.0])
    assert permutation_p_value(2.0, null) == pytest.approx((1 + 4) / (1 + 5))  # NaN left out, ties count
    assert permutation_p_value(10.0, null) == pytest.approx(2 / 6)  # only inf >= 10
    assert permutation_p_value(0.1, null) == pytest.approx(1.0)
    assert np.isnan(permutation_p_value(np.nan, null))
    assert np.isnan(permutation_p_value(1.0, np.array([np.nan])))


def test_null_is_reproducible_and_same_seed_shares_permutations_across_models() -> None:
    rng = np.random.default_rng(0)
    acts_a, acts_b, sf, subject = _study(rng)
    cond = conditioned_cka(acts_a, acts_b, sf, n_permutations=0, subjects=subject, **OPTIONS)
    ratio = dissimilarity_ratio(best_worst_difference(summarise_conditioned(cond), PERF))
    one = ratio_null(acts_a, acts_b, sf, subject, ratio, n_permutations=5, seed=3, **OPTIONS)
    two = ratio_null(acts_a, acts_b, sf, subject, ratio, n_permutations=5, seed=3, **OPTIONS)
    other = ratio_null(acts_a, acts_b, sf, subject, ratio, n_permutations=5, seed=4, **OPTIONS)
    np.testing.assert_array_equal(one.null, two.null)
    assert not np.allclose(one.null, other.null)
    # identical models: every CKA is 1, so D = 0 for both attributes and every null ratio is NaN (0 / 0)
    same = ratio_null(acts_a, acts_a, sf, subject, ratio, n_permutations=3, **OPTIONS)
    assert np.isnan(same.null).all() and same.n_permutations == 0 and np.isnan(same.p_value)


def test_null_keeps_each_subjects_windows_together() -> None:
    """With one layer whose activations are a per-subject code, every pseudo-group of a subject-level
    permutation holds whole subjects: the null's labels come from :func:`subject_labels`, one per person."""
    values = np.array(["x", "y", "y", "x", "x", "z"])
    subjects = np.array([7, 7, 7, 3, 3, 3])
    labels = subject_labels(values, subjects)
    assert list(labels.index) == [3, 7] and list(labels) == ["x", "y"]
    tie = subject_labels(np.array(["b", "a"]), np.array([1, 1]))
    assert list(tie) == ["a"]  # ties: the smallest value


def test_mean_ratio_null_averages_each_permutation_over_seeds() -> None:
    observed = np.array([2.0, 4.0])
    nulls = np.array([[1.0, 3.0, np.nan, 5.0], [2.0, 5.0, 6.0, np.inf]])
    out = mean_ratio_null(observed, nulls)
    assert out.observed == pytest.approx(3.0)
    np.testing.assert_allclose(out.null[:3], [1.5, 4.0, 6.0])  # NaN seed left out of column 3
    assert np.isinf(out.null[3])
    assert out.p_value == pytest.approx((1 + 3) / (1 + 4))  # 4.0, 6.0, inf >= 3.0
    assert out.null_median == pytest.approx(4.0) and np.isinf(out.null_q95)
    single = mean_ratio_null(np.array([2.0]), np.array([[1.0, 3.0]]))
    assert single.p_value == pytest.approx(2 / 3)
    with pytest.raises(DataError, match=r"nulls must be \(k, m\) with one row per seed of observed \(2\)"):
        mean_ratio_null(observed, nulls[:1])


def test_ratio_null_errors() -> None:
    rng = np.random.default_rng(1)
    acts_a, acts_b, sf, subject = _study(rng)
    cond = conditioned_cka(acts_a, acts_b, sf, n_permutations=0, subjects=subject, **OPTIONS)
    ratio = dissimilarity_ratio(best_worst_difference(summarise_conditioned(cond), PERF))
    with pytest.raises(
        DataError, match="ratio must be the DissimilarityRatio returned by dissimilarity_ratio"
    ):
        ratio_null(acts_a, acts_b, sf, subject, ratio.table)  # type: ignore[arg-type]
    with pytest.raises(
        DataError, match=r"subjects must hold one subject id per row of sensitive_features \(240\)"
    ):
        ratio_null(acts_a, acts_b, sf, subject[:10], ratio)
    with pytest.raises(
        DataError, match=r"attribute 'b': groups 'b0' and 'b1' of the ratio are not both used"
    ):
        ratio_null(acts_a, acts_b, sf, subject, ratio, min_group_size=10_000)
    with pytest.raises(ConfigError, match="n_permutations must be an integer >= 0, got -1"):
        ratio_null(acts_a, acts_b, sf, subject, ratio, n_permutations=-1)
    with pytest.raises(DataError, match=r"acts_a\['l1'\] has shape"):
        ratio_null({"l1": acts_a["l1"][:5]}, acts_b, sf, subject, ratio, **OPTIONS)
