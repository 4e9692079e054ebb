"""Fairness table behaviour: references, tiny groups, missing values, worst rows, invariances, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fairssl.data.dataset import MISSING
from fairssl.errors import ConfigError, DataError
from fairssl.evaluation.attribute_metrics import ATTRIBUTE_METRICS
from fairssl.evaluation.fairness import fairness_table, fairness_table_per_class, intersect
from fairssl.evaluation.parity import PARITY_RATIOS, improvement, parity_deviation
from fairssl.evaluation.rates import (
    PAIRWISE_METRICS,
    disparate_impact,
    error_rate_ratio,
    pairwise_reason,
    statistical_parity_difference,
)


def _data(seed: int = 0, n: int = 600):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "sex": rng.choice(["female", "male"], n, p=[0.4, 0.6]),
            "race": rng.choice(["asian", "black", "white", "other"], n, p=[0.15, 0.2, 0.6, 0.05]),
        }
    )
    y_true = rng.integers(0, 2, n)
    bias = np.where(frame["race"] == "black", 0.25, 0.0)
    y_pred = (rng.random(n) < 0.35 + 0.3 * y_true - bias).astype(int)
    return y_true, y_pred, frame


def _pairs(table: pd.DataFrame) -> pd.DataFrame:
    return table[~table["group"].isin(["worst", "all"])]


def test_metric_functions_on_hand_counts() -> None:
    # u: tn=2 fp=3 fn=1 tp=4 -> SR 7/10, ERR 4/10; p: tn=5 fp=1 fn=2 tp=2 -> SR 3/10, ERR 3/10
    u, p = np.array([2.0, 3, 1, 4]), np.array([5.0, 1, 2, 2])
    assert float(disparate_impact(u, p)) == pytest.approx(7 / 3)
    assert float(statistical_parity_difference(u, p)) == pytest.approx(0.4)
    assert float(error_rate_ratio(u, p)) == pytest.approx(4 / 3)


def test_value_is_nan_exactly_where_a_reason_is_given() -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        n = int(rng.integers(5, 60))
        frame = pd.DataFrame({"a": rng.choice(["x", "y", "z"], n), "b": rng.choice(["p", "q"], n)})
        table = fairness_table(rng.integers(0, 2, n), rng.integers(0, 2, n), frame, min_group_size=5)
        assert (table["value"].isna() == (table["reason"] != "")).all()


def test_reference_majority_and_row_layout() -> None:
    y_true, y_pred, frame = _data()
    table = fairness_table(y_true, y_pred, frame, min_group_size=10)
    sex = table[table["attribute"] == "sex"]
    assert set(_pairs(sex)["group"]) == {"female"} and set(_pairs(sex)["reference_group"]) == {"male"}
    assert "worst" not in set(sex["group"])  # one comparison: no worst-case rows
    race = table[table["attribute"] == "race"]
    assert set(_pairs(race)["group"]) == {"asian", "black", "other"}
    assert (race[race["group"] == "worst"]["metric"].tolist()) == list(PAIRWISE_METRICS)
    assert race[race["group"] == "all"]["metric"].tolist() == list(ATTRIBUTE_METRICS)
    assert (_pairs(race)["n_reference"] == (frame["race"] == "white").sum()).all()


def test_worst_row_is_the_valid_value_farthest_from_ideal() -> None:
    y_true, y_pred, frame = _data(2)
    table = fairness_table(y_true, y_pred, frame, min_group_size=10)
    race = table[table["attribute"] == "race"]
    for metric in PAIRWISE_METRICS:
        values = _pairs(race)[_pairs(race)["metric"] == metric]["value"].dropna().to_numpy()
        worst = race[(race["group"] == "worst") & (race["metric"] == metric)]["value"].item()
        distance = (
            np.abs(np.log(values))
            if metric.endswith("_ratio") or metric == "disparate_impact"
            else np.abs(values)
        )
        assert worst == values[np.argmax(distance)]


def test_rest_reference_pools_all_other_groups() -> None:
    y_true, y_pred, frame = _data(3)
    table = fairness_table(y_true, y_pred, frame, reference="rest", min_group_size=0)
    race = _pairs(table[table["attribute"] == "race"])
    black = race[(race["group"] == "black") & (race["metric"] == "statistical_parity_difference")]
    is_black = (frame["race"] == "black").to_numpy()
    expected = y_pred[is_black].mean() - y_pred[~is_black].mean()
    assert black["value"].item() == pytest.approx(expected)
    assert black["reference_group"].item() == "rest" and black["n_reference"].item() == (~is_black).sum()
    sex = _pairs(table[table["attribute"] == "sex"])
    assert set(sex["group"]) == {"female"}  # two groups: only the smaller one, the other would mirror it


def test_best_reference_is_the_most_accurate_group() -> None:
    y_true, y_pred, frame = _data(4)
    table = fairness_table(y_true, y_pred, frame, reference="best", min_group_size=10)
    accuracy = pd.Series(y_true == y_pred).groupby(frame["race"].to_numpy()).mean()
    race = _pairs(table[table["attribute"] == "race"])
    assert set(race["reference_group"]) == {accuracy.idxmax()}


def test_named_reference_and_unnamed_attributes_fall_back_to_majority() -> None:
    y_true, y_pred, frame = _data(5)
    table = fairness_table(y_true, y_pred, frame, reference={"race": "black"}, min_group_size=0)
    race = _pairs(table[table["attribute"] == "race"])
    assert set(race["reference_group"]) == {"black"}
    assert set(_pairs(table[table["attribute"] == "sex"])["reference_group"]) == {"male"}


def test_tiny_groups_get_nan_with_reason() -> None:
    y_true, y_pred, frame = _data(6)
    table = fairness_table(y_true, y_pred, frame, min_group_size=50)
    other = _pairs(table)[_pairs(table)["group"] == "other"]
    assert (other["reason"] == "group_below_min_size").all() and other["value"].isna().all()
    table_ref = fairness_table(y_true, y_pred, frame, reference={"race": "other"}, min_group_size=50)
    race = _pairs(table_ref[table_ref["attribute"] == "race"])
    assert set(race["reason"]) == {"reference_below_min_size"}
    attr = table[(table["attribute"] == "race") & (table["group"] == "all")]
    assert (attr["n_group"] == (frame["race"] != "other").sum()).all()  # tiny groups leave fairlearn rows


def test_constant_predictions_give_reasons_not_numbers() -> None:
    y_true, _, frame = _data(7)
    ones = fairness_table(y_true, np.ones(len(y_true), int), frame, min_group_size=0).set_index(
        ["group", "metric"]
    )
    assert ones.loc[("female", "disparate_impact"), "value"] == 1.0
    assert ones.loc[("female", "false_omission_rate_ratio"), "reason"] == "no_predicted_negatives_in_group"
    zeros = fairness_table(y_true, np.zeros(len(y_true), int), frame, min_group_size=0).set_index(
        ["group", "metric"]
    )
    assert zeros.loc[("female", "disparate_impact"), "reason"] == "no_predicted_positives_in_reference"
    assert zeros.loc[("female", "false_discovery_rate_ratio"), "reason"] == "no_predicted_positives_in_group"
    perfect = fairness_table(y_true, y_true, frame, min_group_size=0).set_index(["group", "metric"])
    assert perfect.loc[("female", "error_rate_ratio"), "reason"] == "zero_denominator"
    assert perfect.loc[("female", "error_rate_difference"), "value"] == 0.0


def test_single_group_attribute_reports_fewer_than_two_groups() -> None:
    frame = pd.DataFrame({"site": ["A"] * 40})
    table = fairness_table(np.tile([0, 1], 20), np.tile([1, 1, 0, 0], 10), frame, min_group_size=0)
    assert table["group"].unique().tolist() == ["all"]
    assert set(table["reason"]) == {"fewer_than_two_groups"}


def test_missing_values_are_excluded_unless_asked() -> None:
    y_true, y_pred, frame = _data(8)
    frame = frame.copy()
    frame.loc[:40, "sex"] = None
    table = fairness_table(y_true, y_pred, frame, min_group_size=0)
    assert MISSING not in set(table["group"])
    kept = frame["sex"].notna().to_numpy()
    expected = fairness_table(y_true[kept], y_pred[kept], frame[kept][["sex"]], min_group_size=0)
    sex = table[table["attribute"] == "sex"].reset_index(drop=True)
    pd.testing.assert_frame_equal(sex, expected)
    with_missing = fairness_table(y_true, y_pred, frame, min_group_size=0, include_missing=True)
    assert MISSING in set(with_missing["group"])
    assert MISSING not in set(with_missing["reference_group"])


def test_relabelling_groups_permutes_but_does_not_change_metrics() -> None:
    y_true, y_pred, frame = _data(9)
    rename = {"asian": "zeta", "black": "alpha", "white": "mid", "other": "beta"}
    renamed = frame.assign(race=frame["race"].map(rename))
    for reference in ("majority", "rest"):
        a = _pairs(fairness_table(y_true, y_pred, frame, reference=reference, min_group_size=0))
        b = _pairs(fairness_table(y_true, y_pred, renamed, reference=reference, min_group_size=0))
        a = a.assign(group=a["group"].map(lambda g: rename.get(g, g)))
        key = ["attribute", "group", "metric"]
        merged = a.merge(b, on=key, suffixes=("_a", "_b"))
        assert len(merged) == len(a) == len(b)
        np.testing.assert_allclose(merged["value_a"], merged["value_b"], equal_nan=True)


def test_shuffling_windows_does_not_change_the_table() -> None:
    y_true, y_pred, frame = _data(10)
    perm = np.random.default_rng(0).permutation(len(y_true))
    a = fairness_table(y_true, y_pred, frame, min_group_size=20)
    b = fairness_table(y_true[perm], y_pred[perm], frame.iloc[perm], min_group_size=20)
    pd.testing.assert_frame_equal(a, b)


def test_parity_deviation_pools_the_six_ratios() -> None:
    y_true, y_pred, frame = _data(11)
    table = fairness_table(y_true, y_pred, frame, min_group_size=10)
    rows = table[table["metric"].isin(PARITY_RATIOS) & ~table["group"].isin(["worst", "all"])]
    # attributes weigh equally: the mean over attributes of each attribute's mean |1 - ratio|
    per_attribute = rows.groupby("attribute")["value"].agg(lambda v: np.nanmean(np.abs(1 - v.to_numpy())))
    assert parity_deviation(table) == pytest.approx(per_attribute.mean())
    assert parity_deviation(table.iloc[:0]) != parity_deviation(table.iloc[:0])  # NaN without ratios
    assert improvement(0.15, 0.2) == pytest.approx(0.25)
    assert np.isnan(improvement(0.1, 0.0))
    np.testing.assert_allclose(improvement(np.array([0.1, 0.3]), np.array([0.2, 0.2])), [0.5, -0.5])


def test_parity_deviation_of_unbiased_predictions_is_zero() -> None:
    frame = pd.DataFrame({"g": ["a"] * 40 + ["b"] * 40})
    y_true = np.tile([0, 0, 1, 1, 0], 16)
    y_pred = np.tile([0, 1, 1, 0, 0], 16)  # both groups receive identical confusion counts
    assert parity_deviation(fairness_table(y_true, y_pred, frame, min_group_size=0)) == 0.0


def test_per_class_helper_is_one_vs_rest() -> None:
    rng = np.random.default_rng(12)
    y_true, y_pred = rng.integers(0, 3, 300), rng.integers(0, 3, 300)
    frame = pd.DataFrame({"g": rng.choice(["a", "b"], 300)})
    per_class = fairness_table_per_class(y_true, y_pred, frame, min_group_size=0)
    assert sorted(per_class["pos_label"].unique()) == [0, 1, 2]
    for k in range(3):
        direct = fairness_table((y_true == k).astype(int), (y_pred == k).astype(int), frame, min_group_size=0)
        got = per_class[per_class["pos_label"] == k].drop(columns="pos_label").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, direct)


def test_intersect_joins_values_and_propagates_missing() -> None:
    frame = pd.DataFrame(
        {"sex": ["f", "m", None, "m"], "age": ["old", "young", "old", ""]}, index=[5, 6, 7, 8]
    )
    joined = intersect(frame, ["sex", "age"])
    assert joined.tolist() == ["f & old", "m & young", MISSING, MISSING]
    assert joined.name == "sex & age" and joined.index.tolist() == [5, 6, 7, 8]
    assert intersect(frame, ["sex", "age"], sep="|", name="cell").tolist()[0] == "f|old"
    with pytest.raises(DataError, match="are not columns of sensitive_features"):
        intersect(frame, ["sex", "race"])


def test_pairwise_reason_is_vectorised() -> None:
    u = np.array([[3.0, 0, 0, 2], [1.0, 1, 0, 0]])  # second row: no positives in the group
    p = np.array([[1.0, 1, 1, 1], [1.0, 1, 1, 1]])
    assert pairwise_reason("equal_opportunity_difference", u, p).tolist() == ["", "no_positives_in_group"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"reference": "largest"}, ConfigError, "reference must be one of majority, rest, best"),
        ({"reference": 3}, ConfigError, "reference must be a string or a mapping"),
        ({"reference": {"ethnicity": "white"}}, ConfigError, "not columns of sensitive_features"),
        ({"reference": {"race": "purple"}}, DataError, "reference group 'purple' of attribute 'race'"),
        ({"min_group_size": -1}, ConfigError, "min_group_size must be a non-negative integer"),
    ],
)
def test_option_errors(kwargs, error, match: str) -> None:
    y_true, y_pred, frame = _data(13, n=50)
    with pytest.raises(error, match=match):
        fairness_table(y_true, y_pred, frame, **kwargs)


def test_input_errors() -> None:
    y_true, y_pred, frame = _data(14, n=50)
    with pytest.raises(DataError, match="give one prediction per window"):
        fairness_table(y_true, y_pred[:-1], frame)
    with pytest.raises(DataError, match="y_true is empty"):
        fairness_table(np.array([], int), np.array([], int), frame.iloc[:0])
    with pytest.raises(DataError, match="has 50 rows but there are 49 predictions"):
        fairness_table(y_true[:-1], y_pred[:-1], frame)
    with pytest.raises(DataError, match="needs a fairness_table with columns"):
        parity_deviation(pd.DataFrame({"x": [1]}))
