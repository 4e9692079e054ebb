"""Calibration of conditioned CKA's permutation baseline by simulation (issue #15, inference.md).

Windows of one person are alike, and protected attributes belong to persons. Under a random subject-level
attribute (labels mean nothing), the share of layer pairs whose best-vs-worst difference "exceeds" the
baseline must stay near the nominal 5% when labels are permuted between subjects. Permuting windows
ignores the clustering and exceeds far more often (the defect this baseline replaced).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fairssl.similarity.conditioned import best_worst_difference, conditioned_cka, summarise_conditioned


def _null_study(rng: np.random.Generator, *, by_subject: bool) -> float:
    """Share of the 3 x 3 layer pairs exceeding the bound for two unrelated random models and a random
    subject-level attribute (60 subjects x 10 similar windows)."""
    n_subjects, per = 60, 10
    subject = np.repeat(np.arange(n_subjects), per)
    inputs = rng.normal(size=(n_subjects, 6))[subject] + 0.5 * rng.normal(size=(n_subjects * per, 6))

    def model() -> dict[str, np.ndarray]:
        acts, h = {}, inputs
        for k in range(3):
            h = np.tanh(h @ rng.normal(size=(h.shape[1], 8)) / np.sqrt(h.shape[1]))
            acts[f"conv{k + 1}"] = h + 0.3 * rng.normal(size=h.shape)
        return acts

    label = np.where(rng.random(n_subjects) < 0.5, "g1", "g2")[subject]
    cond = conditioned_cka(
        model(),
        model(),
        pd.DataFrame({"attr": label}),
        n_draws=3,
        n_permutations=19,
        min_group_size=30,
        seed=int(rng.integers(1_000_000)),
        subjects=subject if by_subject else None,
    )
    perf = pd.DataFrame({"attribute": ["attr", "attr"], "group": ["g1", "g2"], "performance": [0.8, 0.7]})
    return float(best_worst_difference(summarise_conditioned(cond), perf)["exceeds"].mean())


def test_subject_permutation_baseline_exceeds_at_about_the_nominal_rate() -> None:
    rng = np.random.default_rng(1)
    by_subject = np.mean([_null_study(rng, by_subject=True) for _ in range(25)])
    rng = np.random.default_rng(1)
    by_window = np.mean([_null_study(rng, by_subject=False) for _ in range(25)])
    # Nominal 5% per layer pair; the 9 pairs of one study are strongly correlated, so 25 studies give a
    # Monte-Carlo standard error of about 0.03: 0.12 is more than two of them above 5%.
    assert by_subject <= 0.12, by_subject
    # The window-level baseline it replaced exceeded several times more often (about 45% in 80 studies).
    assert by_window >= 0.2, by_window
    assert by_window > 2 * by_subject


def test_fewer_than_19_subject_permutations_can_never_exceed() -> None:
    rng = np.random.default_rng(0)
    subject = np.repeat(np.arange(40), 5)
    acts = {"conv1": rng.normal(size=(200, 4))}
    label = np.where(np.arange(40) < 20, "a", "b")[subject]
    cond = conditioned_cka(
        acts,
        acts,
        pd.DataFrame({"attr": label}),
        n_draws=2,
        n_permutations=10,
        min_group_size=30,
        subjects=subject,
    )
    summary = summarise_conditioned(cond)
    assert np.isinf(summary["perm_diff_bound"]).all()


def test_subject_bound_is_the_permutation_tests_critical_value_of_within_permutation_spreads() -> None:
    from fairssl.similarity.conditioned import PERMUTATION

    rows = []
    spreads = np.arange(1, 20) / 100  # 19 permutations, pseudo-group spreads 0.01 .. 0.19
    for d, spread in enumerate(spreads):
        for k, cka in enumerate((0.5, 0.5 + spread, 0.5 + spread / 2)):  # three pseudo-groups
            rows.append(("x", PERMUTATION, 50, 3 * d + k, "l1", "m1", cka, d))
    rows.append(("x", "A", 50, 0, "l1", "m1", 0.6, -1))
    long = pd.DataFrame(
        rows, columns=["attribute", "group", "n", "draw", "layer_a", "layer_b", "cka", "perm_draw"]
    )
    summary = summarise_conditioned(long, confidence=0.95).set_index("group")
    # k = ceil(0.95 * 20) = 19: the largest of the 19 within-permutation ranges (max - min)
    assert summary.loc["A", "perm_diff_bound"] == pytest.approx(0.19)
