"""The unbiased control: identical groups, a calibrated Bayes score with parity deviation 0."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fairssl.config import SimulationConfig
from fairssl.data.dataset import WindowDataset
from fairssl.data.simulate import simulate, true_risk
from fairssl.evaluation.fairness import fairness_table
from fairssl.evaluation.parity import parity_deviation

CONTROL = {
    "race_shares": {"a": 1.0, "b": 1.0, "c": 1.0},
    "female_share": 0.5,
    "old_share": 0.5,
    "missing_share": 0.0,
    "group_physiology": 0.0,
    "base_rate": {"shift": 0.0},
    "measurement_bias": {"offset": 0.0, "noise": 0.0},
    "label_bias": {"rate": 0.0},
    "pool_fraction": 0.0,
}

REFERENCE = {"sex": "male", "age_group": "<65", "race": "a"}


def control(**kw: object) -> SimulationConfig:
    return SimulationConfig.model_validate({**CONTROL, **kw})


@pytest.fixture(scope="module")
def large() -> WindowDataset:
    return simulate(control(n_subjects=6000, windows_per_subject=2, n_steps=8), seed=11)


def _bayes_pd(ds: WindowDataset, attrs: pd.DataFrame) -> float:
    bayes = true_risk(ds)
    reference = {k: v for k, v in REFERENCE.items() if k in attrs.columns}  # balanced: name it
    table = fairness_table(
        np.asarray(ds.y_clean), (bayes >= 0.5).astype(int), attrs, reference=reference, min_group_size=30
    )
    return parity_deviation(table)


def test_bayes_scorer_parity_deviation_is_zero_within_sampling_error(large: WindowDataset) -> None:
    attrs = large.attributes
    observed = _bayes_pd(large, attrs)
    # Null distribution: the same scores with the attributes of whole subjects permuted (groups exchangeable).
    rng = np.random.default_rng(0)
    subjects = pd.unique(large.subject)
    codes = pd.Series(np.arange(len(subjects)), index=subjects)[large.subject].to_numpy()
    first = attrs.iloc[np.unique(codes, return_index=True)[1]].reset_index(drop=True)
    null = [_bayes_pd(large, first.iloc[rng.permutation(len(first))[codes]]) for _ in range(19)]
    assert observed <= max(null)  # not larger than the permutation null (a 5% test)
    assert observed < 0.08


def test_groups_share_base_rates_and_true_risk(large: WindowDataset) -> None:
    y = np.asarray(large.y_clean)
    bayes = true_risk(large)
    se = np.sqrt(0.2 * 0.8 / 2000)  # about 2000 windows per race group, 6000 per sex/age group
    for col in ("sex", "age_group", "race"):
        values = large.attributes[col].astype(str).to_numpy()
        for g in np.unique(values):
            assert abs(y[values == g].mean() - 0.2) < 4 * se, (col, g)
            assert abs(bayes[values == g].mean() - 0.2) < 4 * se, (col, g)


def test_bayes_score_is_the_true_probability(large: WindowDataset) -> None:
    """Calibration: within bins of the score, the share of true positives matches the mean score."""
    bayes = true_risk(large)
    y = np.asarray(large.y_clean)
    bins = np.digitize(bayes, [0.1, 0.3, 0.5, 0.7, 0.9])
    for b in np.unique(bins):
        sel = bins == b
        se = np.sqrt(max(bayes[sel].mean() * (1 - bayes[sel].mean()), 0.01) / sel.sum())
        assert abs(y[sel].mean() - bayes[sel].mean()) < 4 * se + 0.01


def test_the_old_default_no_bias_is_biased_but_the_control_is_not() -> None:
    """The default mix (base rate +0.35 sd for the old) gives the Bayes scorer a visible age disparity."""
    biased = simulate(
        SimulationConfig(n_subjects=3000, windows_per_subject=2, n_steps=8, pool_fraction=0.0), seed=1
    )
    age = biased.attributes[["age_group"]]
    assert _bayes_pd(biased, age) > 0.15


def test_true_risk_follows_window_ids_through_subsets(large: WindowDataset) -> None:
    idx = np.arange(0, 200)[::-1]
    sub = large.subset(idx)
    np.testing.assert_array_equal(true_risk(sub), true_risk(large)[idx])


def test_true_risk_of_a_dataset_without_simulator_truth_is_a_one_line_error(large: WindowDataset) -> None:
    from dataclasses import replace

    from fairssl.errors import DataError

    with pytest.raises(DataError, match=r"has no simulator truth 'bayes_score'; simulate it with fairssl"):
        true_risk(replace(large, info={}))
