"""Each bias mechanism against the unbiased control with the same seed (one knob changed at a time)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from fairssl.config import SimulationConfig
from fairssl.data.simulate import CHANNELS, simulate, true_risk
from fairssl.data.simulation.latent import unit

BASE: dict[str, Any] = {
    "n_subjects": 1200,
    "windows_per_subject": 3,
    "n_steps": 24,
    "race_shares": {"a": 1.0, "b": 1.0},
    "female_share": 0.5,
    "old_share": 0.5,
    "missing_share": 0.0,
    "group_physiology": 0.0,
    "base_rate": {"shift": 0.0},
    "measurement_bias": {"offset": 0.0, "noise": 0.0},
    "label_bias": {"rate": 0.0},
}
GROUP = {"attribute": "race", "group": "b"}


def sim(seed: int = 3, **kw: Any) -> Any:
    return simulate(SimulationConfig.model_validate({**BASE, **kw}), seed=seed)


@pytest.fixture(scope="module")
def ctrl() -> Any:
    return sim()


def in_group(ds: Any) -> np.ndarray:
    return ds.attributes["race"].astype(str).to_numpy() == "b"


def test_base_rate_raises_the_groups_prevalence_with_the_same_mapping(ctrl: Any) -> None:
    ds = sim(base_rate={**GROUP, "shift": 1.0})
    b = in_group(ds)
    assert ds.y_clean[b].mean() > 1.6 * ds.y_clean[~b].mean()  # score +0.6 sd: about 0.27 against 0.13
    state0, state1 = true_risk(ctrl, "state"), true_risk(ds, "state")
    np.testing.assert_allclose(state1[b] - state0[b], 1.0, atol=1e-5)
    np.testing.assert_allclose(state1[~b], state0[~b], atol=1e-5)
    # Same mapping: the true risk is calibrated within the group as well.
    assert abs(ds.y_clean[b].mean() - true_risk(ds)[b].mean()) < 0.04


def test_covariate_shift_moves_signals_not_base_rate(ctrl: Any) -> None:
    ds = sim(covariate_shift={**GROUP, "shift": 2.0})
    b = in_group(ds)
    w = unit(SimulationConfig().outcome_weights)
    d_state = true_risk(ds, "state")[b] - true_risk(ctrl, "state")[b]
    d_events = true_risk(ds, "events")[b] - true_risk(ctrl, "events")[b]
    np.testing.assert_allclose(d_state, -2.0 * w[1], atol=1e-5)
    np.testing.assert_allclose(d_events, 2.0 * w[0], atol=1e-5)
    se = np.sqrt(0.16 / b.sum())
    assert abs(ds.y_clean[b].mean() - ds.y_clean[~b].mean()) < 4 * se + 0.02
    temp = CHANNELS.index("temperature")  # responds to the state, which fell in the group
    assert ds.X[b, temp].mean() < ctrl.X[b, temp].mean() - 0.3


def test_concept_shift_keeps_signals_and_changes_the_groups_outcome(ctrl: Any) -> None:
    ds = sim(concept_shift={**GROUP, "threshold": 1.0})
    b = in_group(ds)
    np.testing.assert_array_equal(ds.X, ctrl.X)
    np.testing.assert_array_equal(ds.y_clean[~b], ctrl.y_clean[~b])
    assert ds.y_clean[b].mean() < 0.5 * ctrl.y_clean[b].mean()
    swapped = sim(concept_shift={**GROUP, "weights": [0.0, 1.0]})
    ev = true_risk(swapped, "events")
    # The group's outcome follows the events only; the others' still follows the state too.
    assert np.corrcoef(ev[b], swapped.y_clean[b])[0, 1] > np.corrcoef(ev[~b], swapped.y_clean[~b])[0, 1] + 0.1


def test_under_diagnosis_misses_mild_positives_of_the_group(ctrl: Any) -> None:
    ds = sim(under_diagnosis={**GROUP, "threshold": 0.6}, pool_fraction=0.0)
    b, bayes = in_group(ds), true_risk(ds)
    pos = ds.y_clean == 1
    assert (ds.y[b & pos & (bayes < 0.6)] == 0).all() and (b & pos & (bayes < 0.6)).sum() > 20
    assert (ds.y[b & pos & (bayes >= 0.6)] == 1).all()
    np.testing.assert_array_equal(ds.y[~b], ds.y_clean[~b])
    np.testing.assert_array_equal(ds.y_clean, ctrl.y_clean)


def test_pool_group_mix_changes_only_the_pool() -> None:
    ds = sim(pool_bias={**GROUP, "share": 0.9}, pool_fraction=0.5)
    per_subject = ds.metadata().drop_duplicates("subject")
    external = np.array(ds.info["truth"]["external_pool"])[:: BASE["windows_per_subject"]]
    race = per_subject["race"].to_numpy()
    assert abs((race[external] == "b").mean() - 0.9) < 0.02
    assert (race[~external] == "b").mean() < 0.2


def test_pool_device_shift_touches_only_the_external_pool(ctrl: Any) -> None:
    ds = sim(pool_bias={"channels": ["spo2", "sbp"], "gain": 2.0, "offset": 1.0})
    ext = np.array(ds.info["truth"]["external_pool"])
    ch = [CHANNELS.index("spo2"), CHANNELS.index("sbp")]
    np.testing.assert_allclose(ds.X[ext][:, ch], 2.0 * ctrl.X[ext][:, ch] + 1.0, atol=1e-4)
    np.testing.assert_array_equal(ds.X[~ext], ctrl.X[~ext])
    np.testing.assert_array_equal(np.delete(ds.X, ch, axis=1), np.delete(ctrl.X, ch, axis=1))
    assert set(ds.split[ext]) == {"pool"}


def test_missingness_depends_on_the_group_and_is_forward_filled(ctrl: Any) -> None:
    ds = sim(
        missingness={**GROUP, "rate": 0.1, "group_rate": 0.4, "channels": ["heart_rate"]}, mask_channels=True
    )
    b, hr = in_group(ds), CHANNELS.index("heart_rate")
    assert ds.X.shape[1] == len(CHANNELS) + 1 and ds.channel_names[-1] == "mask_heart_rate"
    seen = ds.mask[:, hr, :]
    assert abs(1 - seen[b].mean() - 0.5) < 0.02 and abs(1 - seen[~b].mean() - 0.1) < 0.02
    np.testing.assert_array_equal(ds.X[:, -1, :], seen.astype(np.float32))
    np.testing.assert_array_equal(ds.X[:, hr][seen], ctrl.X[:, hr][seen])  # observed values untouched
    # An unobserved step repeats the step before it (or 0 at the start).
    n, t = np.nonzero(~seen[:, 1:])
    np.testing.assert_array_equal(ds.X[n, hr, t + 1], ds.X[n, hr, t])
    assert (ds.X[:, hr, 0][~seen[:, 0]] == 0).all()
    assert ds.mask[:, CHANNELS.index("spo2")].all()


def test_sampling_rate_holds_the_groups_values_between_samples(ctrl: Any) -> None:
    ds = sim(sampling={**GROUP, "every": 4})
    b, hr = in_group(ds), CHANNELS.index("heart_rate")
    assert ds.mask[b][:, hr].mean() == pytest.approx(0.25, abs=0.02)
    assert ds.mask[~b].all() and ds.mask[:, CHANNELS.index("activity")].all()
    np.testing.assert_array_equal(ds.X[~b], ctrl.X[~b])
    held = np.diff(ds.X[b][:, hr, 6:], axis=-1) == 0  # after the first sample: 3 of 4 steps repeat
    assert held.mean() == pytest.approx(0.75, abs=0.02)


def test_switching_one_knob_leaves_other_draws_unchanged(ctrl: Any) -> None:
    ds = sim(label_bias={**GROUP, "rate": 0.5})
    np.testing.assert_array_equal(ds.X, ctrl.X)
    np.testing.assert_array_equal(ds.split, ctrl.split)
    np.testing.assert_array_equal(ds.y_clean, ctrl.y_clean)
