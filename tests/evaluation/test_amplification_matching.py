"""Label-bias amplification against hand-computed ratios; accuracy matching of a degraded supervised model."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from fairssl.evaluation.amplification import label_bias_amplification
from fairssl.evaluation.matching import degradation_curve, degrade, match_auroc


def test_amplification_matches_hand_computed_ratios() -> None:
    # group a: 10 windows, clean prevalence 0.5, recorded 0.3; group b (reference): clean 0.5, recorded 0.5
    sens = pd.DataFrame({"sex": ["a"] * 10 + ["b"] * 10})
    y_clean = np.array([1] * 5 + [0] * 5 + [1] * 5 + [0] * 5)
    y_rec = np.array([1] * 3 + [0] * 7 + [1] * 5 + [0] * 5)
    model = pd.DataFrame(
        {
            "setup": ["3", "3"],
            "seed": [0, 1],
            "attribute": ["sex", "sex"],
            "group": ["a", "a"],
            "reference_group": ["b", "b"],
            "value": [0.5, 0.7],  # selection-rate ratios of two seeds
        }
    )
    out = label_bias_amplification(y_rec, y_clean, sens, model).iloc[0]
    assert out["clean"] == pytest.approx(1.0)
    assert out["recorded"] == pytest.approx(0.6)
    assert out["model"] == pytest.approx(0.6)
    assert out["label_bias"] == pytest.approx(abs(np.log(0.6)) - 0.0)
    assert out["amplification"] == pytest.approx(0.0, abs=1e-12)
    assert out["n_seeds"] == 2


def test_amplification_against_the_rest() -> None:
    sens = pd.DataFrame({"race": ["x"] * 4 + ["y"] * 4 + ["z"] * 4})
    y = np.array([1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0])
    model = pd.DataFrame(
        {
            "setup": ["0"],
            "seed": [0],
            "attribute": ["race"],
            "group": ["x"],
            "reference_group": ["rest"],
            "value": [0.2],
        }
    )
    out = label_bias_amplification(y, y, sens, model).iloc[0]
    assert out["recorded"] == pytest.approx(0.25 / (5 / 8))  # x against y and z pooled
    assert out["amplification"] == pytest.approx(abs(np.log(0.2)) - abs(np.log(0.4)))


def test_degrade_is_the_model_at_zero_and_matching_hits_the_target_auroc() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    scores = 1 / (1 + np.exp(-(2.0 * (y - 0.5) + rng.normal(size=2000))))
    noise = rng.standard_normal(2000)
    np.testing.assert_allclose(degrade(scores, 0.0, noise), scores, rtol=1e-9)
    base = roc_auc_score(y, scores)
    matched, lam, achieved = match_auroc(y, scores, base - 0.1, seed=1)
    assert 0 < lam < 1
    assert achieved == pytest.approx(base - 0.1, abs=2e-3)
    assert roc_auc_score(y, matched) == pytest.approx(achieved)
    same, lam0, _ = match_auroc(y, scores, base + 0.05)  # a target above the model's AUROC: no degradation
    assert lam0 == 0.0 and np.array_equal(same, scores)
    curve = degradation_curve(y, scores, steps=5)
    aurocs = [roc_auc_score(y, s) for _, s in curve]
    assert aurocs[0] == pytest.approx(base) and aurocs[-1] < 0.6
    assert all(a >= b - 0.02 for a, b in itertools.pairwise(aurocs))  # falls towards chance
