"""The testing policy's small pieces against textbook oracles: the t interval and Holm's step-down loop.

(Corrected levels, critical values and power are tested with the study-level inference in
``test_inference.py``.)
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from fairssl.errors import ConfigError
from fairssl.evaluation.testing import adjust_pvalues, t_interval


def test_t_interval_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    for n in (2, 3, 6, 20):
        v = rng.normal(0.2, 0.05, n)
        for confidence in (0.9, 0.95):
            lo, hi = stats.t.interval(confidence, n - 1, loc=v.mean(), scale=stats.sem(v))
            assert t_interval(v, confidence=confidence) == pytest.approx((lo, hi))


def test_t_interval_leaves_out_nan_and_needs_two_values() -> None:
    v = np.array([0.1, np.nan, 0.3, 0.25])
    assert t_interval(v) == pytest.approx(t_interval(v[~np.isnan(v)]))
    assert np.isnan(t_interval(np.array([0.3]))).all()
    assert np.isnan(t_interval(np.array([0.3, np.nan]))).all()


def test_holm_on_a_hand_example_and_against_a_step_down_loop() -> None:
    # sorted 0.01, 0.03, 0.04 times 3, 2, 1 = 0.03, 0.06, 0.04 -> running max 0.03, 0.06, 0.06
    np.testing.assert_allclose(adjust_pvalues(np.array([0.01, 0.04, 0.03])), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(
        adjust_pvalues(np.array([0.01, np.nan, 0.2]), method="bonferroni"), [0.02, np.nan, 0.4]
    )
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = rng.uniform(0, 0.2, 6)
        adjusted = adjust_pvalues(p)
        for alpha in (0.01, 0.05, 0.1):
            # textbook Holm: reject in sorted order while p_(i) <= alpha / (m - i + 1)
            rejected = np.zeros(6, bool)
            for rank, i in enumerate(np.argsort(p)):
                if p[i] > alpha / (6 - rank):
                    break
                rejected[i] = True
            np.testing.assert_array_equal(adjusted <= alpha, rejected)


def test_unknown_correction_message() -> None:
    with pytest.raises(ConfigError, match="correction must be one of holm, bonferroni, none; got 'sidak'"):
        adjust_pvalues(np.array([0.1]), method="sidak")
