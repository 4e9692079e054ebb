from __future__ import annotations

import numpy as np
import pytest

from fairssl.config import SimulationConfig, build_config
from fairssl.data.dataset import MISSING
from fairssl.data.pool import parse_pool_spec, pool_shares, select_pool
from fairssl.data.simulate import simulate
from fairssl.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def ds():
    return simulate(SimulationConfig(n_subjects=300, windows_per_subject=3, missing_share=0.05), seed=0)


def race(ds, idx):
    return ds.attributes["race"].astype(str).to_numpy()[idx]


def test_full_is_pool_plus_train(ds) -> None:
    idx = select_pool(ds, "full")
    assert set(ds.split[idx]) == {"pool", "train"}
    assert len(idx) == ((ds.split == "pool") | (ds.split == "train")).sum()


def test_balanced_gives_equal_known_groups_and_drops_missing(ds) -> None:
    idx = select_pool(ds, "balanced:race", seed=3)
    groups, counts = np.unique(race(ds, idx), return_counts=True)
    assert MISSING not in groups and len(set(counts)) == 1
    full = race(ds, select_pool(ds, "full"))
    assert counts[0] == min((full == g).sum() for g in set(full) - {MISSING})
    np.testing.assert_array_equal(idx, select_pool(ds, "balanced:race", seed=3))  # seeded
    assert not np.array_equal(idx, select_pool(ds, "balanced:race", seed=4))


def test_group_and_exclude_partition_the_full_pool(ds) -> None:
    only = select_pool(ds, "group:race=black")
    rest = select_pool(ds, "exclude:race=black")
    assert set(race(ds, only)) == {"black"} and "black" not in set(race(ds, rest))
    np.testing.assert_array_equal(np.sort(np.concatenate([only, rest])), select_pool(ds, "full"))


def test_shares_sum_to_one_per_attribute(ds) -> None:
    shares = pool_shares(ds, select_pool(ds, "exclude:sex=female"))
    np.testing.assert_allclose(shares.groupby("attribute")["share"].sum(), 1.0)
    sex = shares[shares.attribute == "sex"].set_index("group")["share"]
    assert sex.to_dict() == {"male": 1.0}


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("half", r"unknown pre-training pool 'half'; use full, balanced"),
        ("balanced:race=black", r"balanced takes an attribute only"),
        ("group:race", r"needs an attribute and a group, e.g. group:race=black"),
        ("exclude:=x", r"needs an attribute and a group"),
    ],
)
def test_bad_specs_are_config_errors(spec: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_pool_spec(spec)
    with pytest.raises(ConfigError, match=r"config key .pretrain\.pool."):
        build_config({"pretrain": {"pool": spec}})


def test_unknown_attribute_or_group_is_a_data_error(ds) -> None:
    with pytest.raises(DataError, match=r"no attribute 'religion'; it has \['sex', 'age_group', 'race'\]"):
        select_pool(ds, "balanced:religion")
    with pytest.raises(DataError, match=r"group 'martian' of 'race' has no pre-training windows"):
        select_pool(ds, "group:race=martian")


def test_pool_is_a_grid_axis_sharing_nothing_across_pools() -> None:
    from fairssl.experiments.grid import expand, unique_runs

    cfg = build_config({"grid": {"pretrain.pool": ["full", "balanced:race"]}})
    runs = unique_runs(expand(cfg))
    pre = [r for r in runs if r.kind == "pretrain"]
    assert len(pre) == 2  # one pre-training per pool
    sup = [r for r in runs if r.setup == "supervised"]
    assert len(sup) == 1  # the supervised baseline does not depend on the pool: shared by both variants
