from __future__ import annotations

import numpy as np
import pytest

from fairssl.config import SimulationConfig, build_config
from fairssl.data.dataset import MISSING
from fairssl.data.simulate import CHANNELS, simulate
from fairssl.errors import ConfigError


def small(**kw: object) -> SimulationConfig:
    base = {"n_subjects": 300, "windows_per_subject": 4}
    base.update(kw)
    return SimulationConfig.model_validate(base)


def test_contract_shapes_splits_and_ids() -> None:
    ds = simulate(small(), seed=1)
    assert ds.X.shape == (1200, len(CHANNELS), 48) and ds.X.dtype == np.float32
    assert set(ds.split) == {"train", "val", "test", "pool"}
    assert (ds.y[ds.split == "pool"] == -1).all()
    assert set(np.unique(ds.y[ds.split != "pool"])) == {0, 1}
    assert list(ds.attributes.columns) == ["sex", "age_group", "race"]
    assert (ds.attributes.index == ds.window_id).all()
    # subject-disjoint
    per_subject = {s: set(ds.split[ds.subject == s]) for s in np.unique(ds.subject)}
    assert all(len(v) == 1 for v in per_subject.values())


def test_deterministic_given_seed_and_different_across_seeds() -> None:
    a, b, c = simulate(small(), seed=3), simulate(small(), seed=3), simulate(small(), seed=4)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)


def test_prevalence_and_group_shares_follow_the_knobs() -> None:
    ds = simulate(
        small(
            n_subjects=2000,
            windows_per_subject=2,
            prevalence=0.3,
            race_shares={"a": 0.8, "b": 0.2},
            missing_share=0.1,
            measurement_bias={"offset": 0.0, "noise": 0.0},
        ),
        seed=0,
    )
    assert abs(ds.y_clean.mean() - 0.3) < 0.01
    race = ds.attributes["race"].astype(str).to_numpy()
    assert abs((race == MISSING).mean() - 0.1) < 0.03
    known = race[race != MISSING]
    assert abs((known == "b").mean() - 0.2) < 0.04


def test_label_bias_under_records_positives_only_in_the_group() -> None:
    ds = simulate(
        small(
            n_subjects=1500,
            label_bias={"attribute": "sex", "group": "female", "rate": 0.5},
            pool_fraction=0.0,
        ),
        seed=0,
    )
    female = ds.attributes["sex"].astype(str).to_numpy() == "female"
    pos = ds.y_clean == 1
    flipped = (ds.y == 0) & pos
    assert abs(flipped[female & pos].mean() - 0.5) < 0.06
    assert flipped[~female].sum() == 0
    assert (ds.y[~pos] == 0).all()  # negatives never become positive


def test_no_bias_knobs_means_clean_labels() -> None:
    ds = simulate(small(label_bias={"rate": 0.0}, pool_fraction=0.0), seed=0)
    np.testing.assert_array_equal(ds.y, ds.y_clean)


def test_measurement_bias_shifts_only_the_groups_channel() -> None:
    off = simulate(small(measurement_bias={"offset": 0.0, "noise": 0.0}), seed=5)
    on = simulate(
        small(
            measurement_bias={
                "attribute": "race",
                "group": "black",
                "channel": "spo2",
                "offset": 3.0,
                "noise": 0.0,
            }
        ),
        seed=5,
    )
    black = on.attributes["race"].astype(str).to_numpy() == "black"
    spo2 = CHANNELS.index("spo2")
    shift = on.X[:, spo2].mean(axis=1) - off.X[:, spo2].mean(axis=1)
    assert shift[black].mean() > 2.5
    assert np.abs(shift[~black]).max() < 1e-5
    np.testing.assert_allclose(np.delete(on.X, spo2, axis=1), np.delete(off.X, spo2, axis=1), atol=1e-5)


def test_spurious_channel_tracks_label_in_the_group() -> None:
    ds = simulate(
        small(
            n_subjects=800,
            spurious={"attribute": "age_group", "group": ">=65", "strength": 2.0},
            pool_fraction=0.0,
        ),
        seed=0,
    )
    old = ds.attributes["age_group"].astype(str).to_numpy() == ">=65"
    flag = ds.X[:, CHANNELS.index("device_flag")].mean(axis=1)
    corr_old = np.corrcoef(flag[old], ds.y[old])[0, 1]
    corr_young = np.corrcoef(flag[~old], ds.y[~old])[0, 1]
    assert corr_old > 0.8 and abs(corr_young) < 0.15


def test_labelled_fraction_moves_train_subjects_to_the_pool() -> None:
    full = simulate(small(), seed=0)
    half = simulate(small(labelled_fraction=0.5), seed=0)
    assert (half.split == "train").sum() < 0.6 * (full.split == "train").sum()
    assert (half.split == "pool").sum() > (full.split == "pool").sum()


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        (
            {"label_bias": {"attribute": "religion", "rate": 0.1}},
            r"label_bias.attribute 'religion' does not exist",
        ),
        (
            {"label_bias": {"attribute": "sex", "group": "Female", "rate": 0.1}},
            r"label_bias.group 'Female' of 'sex' does not exist; allowed: female, male",
        ),
        (
            {"measurement_bias": {"channel": "lactate", "offset": 1.0}},
            r"measurement_bias.channel 'lactate' unknown",
        ),
        (
            {"base_rate": {"attribute": "race", "group": "martian", "shift": 1.0}},
            r"base_rate.group 'martian'",
        ),
        ({"covariate_shift": {"attribute": "age", "shift": 1.0}}, r"covariate_shift.attribute 'age'"),
        ({"concept_shift": {"weights": [1.0]}}, r"concept_shift.weights must be two non-negative weights"),
        ({"outcome_weights": [0.0, 0.0]}, r"outcome_weights must be two non-negative weights"),
        ({"under_diagnosis": {"group": "x", "threshold": 0.3}}, r"under_diagnosis.group 'x' of 'sex'"),
        ({"under_diagnosis": {"threshold": 1.0}}, r"under_diagnosis.threshold: Input should be less than 1"),
        ({"pool_bias": {"channels": ["ecg"]}}, r"pool_bias.channels \['ecg'\] must be a non-empty list"),
        ({"pool_bias": {"gain": 0.0}}, r"pool_bias.gain: Input should be greater than 0"),
        ({"pool_bias": {"share": 0.5, "group": "nobody"}}, r"pool_bias.group 'nobody' of 'race'"),
        (
            {"missingness": {"rate": 0.5, "group_rate": 0.5}},
            r"missingness.rate \+ missingness.group_rate is 1",
        ),
        ({"missingness": {"channels": []}}, r"missingness.channels \[\] must be a non-empty list"),
        ({"sampling": {"every": 48}}, r"sampling.every 48 must be below n_steps 48"),
        ({"spurious": {"group": "old", "strength": 1.0}}, r"spurious.group 'old' of 'age_group'"),
        ({"group_physiology": -1.0}, r"group_physiology: Input should be greater than or equal to 0"),
    ],
)
def test_bad_knobs_are_one_line_errors(kw: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as err:
        simulate(seed=0, n_subjects=300, windows_per_subject=4, **kw)
    assert "\n" not in str(err.value) and str(err.value).startswith("simulate: invalid option ")


def test_bad_knobs_are_rejected_by_the_study_config() -> None:
    with pytest.raises(ConfigError, match=r"data.simulate.*sampling.every 60 must be below n_steps 48"):
        build_config({"data": {"simulate": {"n_steps": 48, "sampling": {"every": 60}}}})


def test_inactive_knobs_may_name_absent_groups() -> None:
    ds = simulate(
        seed=0,
        n_subjects=100,
        windows_per_subject=2,
        race_shares={"a": 1.0},
        measurement_bias={"offset": 0.0},
    )
    assert set(ds.attributes["race"].astype(str)) <= {"a", MISSING}


def test_empty_split_is_a_one_line_error() -> None:
    with pytest.raises(ConfigError, match=r"empty train/val/test split"):
        simulate(small(n_subjects=20, pool_fraction=0.95), seed=0)


def test_overrides_are_validated() -> None:
    with pytest.raises(ConfigError, match="simulate: invalid option n_subjects: Input should be greater"):
        simulate(seed=0, n_subjects=-5)


def test_split_shares_the_non_pool_subjects_and_the_default_is_the_old_split() -> None:
    def counts(ds) -> dict[str, int]:
        return {k: len(np.unique(ds.subject[ds.split == k])) for k in ("train", "val", "test", "pool")}

    default = simulate(small(), seed=2)
    explicit = simulate(small(split=[0.7, 0.15, 0.15]), seed=2)
    np.testing.assert_array_equal(default.split, explicit.split)  # the default draws the same subjects
    assert counts(default) == {"train": 105, "val": 22, "test": 23, "pool": 150}  # 150 non-pool: 70/15/15
    big_test = simulate(small(split=[0.2, 0.1, 0.7]), seed=2)
    assert counts(big_test) == {"train": 30, "val": 15, "test": 105, "pool": 150}
    with pytest.raises(ValueError, match=r"three positive shares \(train, val, test\) summing to 1"):
        small(split=[0.5, 0.5, 0.5])


def test_the_split_setting_leaves_run_ids_alone_at_its_default() -> None:
    from fairssl.experiments.grid import dataset_key

    base = build_config(overrides={"data": {"simulate": {"n_subjects": 300}}})
    same = build_config(overrides={"data": {"simulate": {"n_subjects": 300, "split": [0.7, 0.15, 0.15]}}})
    other = build_config(overrides={"data": {"simulate": {"n_subjects": 300, "split": [0.2, 0.1, 0.7]}}})
    assert "split" not in dataset_key(base)["simulate"] and dataset_key(base) == dataset_key(same)
    assert dataset_key(other)["simulate"]["split"] == [0.2, 0.1, 0.7]
