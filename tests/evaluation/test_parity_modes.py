"""Paper parity, symmetric deviation, equal attribute weights, undefined ratios, minimum sizes, warnings."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from fairssl.errors import ConfigError, DataError
from fairssl.evaluation.bootstrap import bootstrap_ci, multiplicities, resample_indices
from fairssl.evaluation.counts import encode_groups
from fairssl.evaluation.fairness import fairness_table
from fairssl.evaluation.parity import (
    PARITY_RATIOS,
    attribute_parity_deviation,
    attribute_parity_values,
    parity_deviation,
    parity_deviation_values,
    parity_layout,
    parity_mask,
    ratio_deviation,
)
from fairssl.evaluation.plans import plan_comparisons
from fairssl.evaluation.rates import pairwise_metric, pairwise_reason
from fairssl.evaluation.references import ReferenceWarning
from fairssl.evaluation.replicator import ModelReplicator


def _windows(cells: dict[str, tuple[int, int, int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, predictions and group names with the given (tn, fp, fn, tp) per group."""
    y_true, y_pred, group = [], [], []
    for name, counts in cells.items():
        for (t, p), k in zip([(0, 0), (0, 1), (1, 0), (1, 1)], counts, strict=True):
            y_true += [t] * k
            y_pred += [p] * k
            group += [name] * k
    return np.array(y_true), np.array(y_pred), np.array(group, dtype=object)


def _ratios(table: pd.DataFrame, group: str) -> pd.Series:
    rows = table[(table["group"] == group) & table["metric"].isin(PARITY_RATIOS)]
    return rows.set_index("metric")["value"]


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReferenceWarning)
        return fn(*args, **kwargs)


# ------------------------------------------------------------------------------------------ paper parity
# white (privileged): tn=5 fp=1 fn=2 tp=2; the rest pools black (2, 3, 1, 4) and asian (3, 1, 1, 1)
_PAPER_CELLS = {"white": (5, 1, 2, 2), "black": (2, 3, 1, 4), "asian": (3, 1, 1, 1)}
# rest: tn=5 fp=4 fn=2 tp=5 (n=16); white n=10
_PAPER_EXPECTED = {
    "disparate_impact": (9 / 16) / (3 / 10),
    "error_rate_ratio": (6 / 16) / (3 / 10),
    "false_discovery_rate_ratio": (4 / 9) / (1 / 3),
    "false_negative_rate_ratio": (2 / 7) / (2 / 4),
    "false_omission_rate_ratio": (2 / 7) / (2 / 7),
    "false_positive_rate_ratio": (4 / 9) / (1 / 6),
}


def test_paper_parity_compares_the_privileged_group_with_the_pooled_rest_by_hand() -> None:
    y_true, y_pred, race = _windows(_PAPER_CELLS)
    table = fairness_table(
        y_true,
        y_pred,
        pd.DataFrame({"race": race}),
        parity="paper",
        privileged={"race": "white"},
        min_group_size=0,
    )
    pairs = table[~table["group"].isin(["worst", "all"])]
    assert set(pairs["group"]) == {"rest"} and set(pairs["reference_group"]) == {"white"}
    assert (pairs["n_group"] == 16).all() and (pairs["n_reference"] == 10).all()
    assert "worst" not in set(table["group"])  # one comparison per attribute
    got = _ratios(table, "rest")
    for metric, expected in _PAPER_EXPECTED.items():
        assert got[metric] == pytest.approx(expected), metric
    abs_pd = np.mean([abs(1 - r) for r in _PAPER_EXPECTED.values()])
    log_pd = np.mean([abs(np.log(r)) for r in _PAPER_EXPECTED.values()])
    assert parity_deviation(table) == pytest.approx(abs_pd)
    assert parity_deviation(table, deviation="log") == pytest.approx(log_pd)


def test_paper_parity_matches_aif360_privileged_vs_rest() -> None:
    aif_datasets = pytest.importorskip("aif360.datasets")
    aif_metrics = pytest.importorskip("aif360.metrics")
    rng = np.random.default_rng(11)
    n_checked = 0
    for _ in range(60):
        n_groups = int(rng.integers(2, 5))
        n = int(rng.integers(40, 120))
        codes = np.concatenate([np.arange(n_groups), rng.integers(0, n_groups, n - n_groups)])
        y_true = (rng.random(n) < 0.4).astype(int)
        y_pred = (rng.random(n) < 0.3 + 0.4 * y_true).astype(int)
        names = np.array([f"g{c}" for c in codes], dtype=object)
        priv = int(rng.integers(0, n_groups))
        table = fairness_table(
            y_true,
            y_pred,
            pd.DataFrame({"a": names}),
            parity="paper",
            privileged={"a": f"g{priv}"},
            min_group_size=0,
        )
        frame = pd.DataFrame({"a": codes.astype(float), "y": y_true.astype(float)})
        truth = aif_datasets.BinaryLabelDataset(df=frame, label_names=["y"], protected_attribute_names=["a"])
        pred = truth.copy()
        pred.labels = y_pred.astype(float).reshape(-1, 1)
        metric_obj = aif_metrics.ClassificationMetric(
            truth,
            pred,
            unprivileged_groups=[{"a": c} for c in range(n_groups) if c != priv],
            privileged_groups=[{"a": priv}],
        )
        rows = table[table["group"] == "rest"].set_index("metric")
        for metric in PARITY_RATIOS:
            if rows.loc[metric, "reason"] == "":
                with warnings.catch_warnings(), np.errstate(all="ignore"):
                    warnings.simplefilter("ignore")
                    expected = float(getattr(metric_obj, metric)())
                assert rows.loc[metric, "value"] == pytest.approx(expected, rel=1e-9), metric
                n_checked += 1
    assert n_checked > 250


def test_paper_parity_leaves_out_ineligible_and_missing_groups_from_the_rest() -> None:
    y_true, y_pred, race = _windows(
        {"white": (20, 5, 5, 10), "black": (15, 5, 5, 5), "other": (2, 0, 1, 0), "missing": (6, 2, 1, 1)}
    )
    frame = pd.DataFrame({"race": np.where(race == "missing", None, race)})
    table = fairness_table(
        y_true,
        y_pred,
        frame,
        parity="paper",
        privileged={"race": "white"},
        min_group_size=5,
        include_missing=True,
    )
    rest = table[table["group"] == "rest"]
    assert (rest["n_group"] == 30).all()  # black only: 'other' is too small, missing never joins
    alone = fairness_table(
        y_true[race != "other"],
        y_pred[race != "other"],
        frame[race != "other"],
        reference={"race": "white"},
        min_group_size=5,
    )
    black = alone[(alone["group"] == "black")].set_index("metric")["value"]
    np.testing.assert_allclose(rest.set_index("metric")["value"][black.index], black, equal_nan=True)


def test_paper_parity_without_an_eligible_rest_is_nan_with_reason() -> None:
    y_true, y_pred, g = _windows({"a": (20, 5, 5, 10), "b": (1, 1, 1, 1)})
    table = fairness_table(
        y_true, y_pred, pd.DataFrame({"g": g}), parity="paper", privileged={"g": "a"}, min_group_size=10
    )
    rest = table[table["group"] == "rest"]
    assert set(rest["reason"]) == {"no_eligible_group_in_rest"} and rest["value"].isna().all()


def test_paper_parity_falls_back_to_the_majority_with_a_visible_warning() -> None:
    y_true, y_pred, race = _windows(_PAPER_CELLS)
    sex = np.where(np.arange(len(race)) % 3 == 0, "f", "m")
    frame = pd.DataFrame({"race": race, "sex": sex})
    with pytest.warns(
        ReferenceWarning, match=r"attribute 'sex': parity='paper' without a privileged group.*'m'"
    ):
        table = fairness_table(
            y_true, y_pred, frame, parity="paper", privileged={"race": "white"}, min_group_size=0
        )
    sex_rows = table[(table["attribute"] == "sex") & (table["group"] == "rest")]
    assert set(sex_rows["reference_group"]) == {"m"}
    codes = encode_groups(frame[["sex"]])[0]
    counts = np.zeros((2, 4))
    with pytest.warns(ReferenceWarning):
        plan = plan_comparisons(codes, counts, parity="paper", min_group_size=0)
    assert "majority group 'm' is used" in plan.note


def test_paper_parity_errors_name_the_groups() -> None:
    y_true, y_pred, race = _windows(_PAPER_CELLS)
    frame = pd.DataFrame({"race": race})
    with pytest.raises(DataError, match=r"privileged group 'hispanic' of attribute 'race'.*'asian', 'black'"):
        fairness_table(y_true, y_pred, frame, parity="paper", privileged={"race": "hispanic"})
    with pytest.raises(DataError, match=r"privileged names attribute\(s\) \['sex'\]"):
        fairness_table(y_true, y_pred, frame, parity="paper", privileged={"sex": "male"})
    with pytest.raises(ConfigError, match="parity must be one of pairwise, paper"):
        fairness_table(y_true, y_pred, frame, parity="binary")
    with pytest.raises(ConfigError, match="privileged must be a mapping"):
        fairness_table(y_true, y_pred, frame, parity="paper", privileged="white")  # type: ignore[arg-type]
    # pairwise mode ignores privileged (a grid may vary parity while privileged stays set)
    _quiet(fairness_table, y_true, y_pred, frame, privileged={"sex": "male"}, min_group_size=0)


# ----------------------------------------------------------------------------------- deviation and pooling
def test_log_deviation_is_symmetric_and_abs_is_not() -> None:
    np.testing.assert_allclose(ratio_deviation(np.array([0.5, 2.0, 1.0]), "log"), [np.log(2)] * 2 + [0])
    np.testing.assert_allclose(ratio_deviation(np.array([0.5, 2.0, np.nan]), "abs"), [0.5, 1.0, np.nan])
    with pytest.raises(ConfigError, match="deviation must be one of abs, log"):
        ratio_deviation(np.ones(2), "squared")
    y_true, y_pred, g = _windows({"a": (20, 5, 5, 10), "b": (15, 8, 3, 9)})
    frame = pd.DataFrame({"g": g})
    a_vs_b = fairness_table(y_true, y_pred, frame, reference={"g": "b"}, min_group_size=0)
    b_vs_a = fairness_table(y_true, y_pred, frame, reference={"g": "a"}, min_group_size=0)
    assert parity_deviation(a_vs_b, deviation="log") == pytest.approx(
        parity_deviation(b_vs_a, deviation="log")
    )
    assert parity_deviation(a_vs_b) != pytest.approx(parity_deviation(b_vs_a))


def test_attributes_weigh_equally_when_pooled() -> None:
    rng = np.random.default_rng(5)
    n = 3000
    frame = pd.DataFrame(
        {"race": rng.choice(list("abcde"), n), "sex": rng.choice(["f", "m"], n, p=[0.3, 0.7])}
    )
    y_true = rng.integers(0, 2, n)
    bias = np.where(frame["sex"] == "f", 0.3, 0.0)
    y_pred = (rng.random(n) < 0.2 + 0.4 * y_true + bias).astype(int)
    table = _quiet(fairness_table, y_true, y_pred, frame, reference="majority", min_group_size=0)
    per = attribute_parity_deviation(table)
    assert list(per.index) == ["race", "sex"]
    for attribute in ("race", "sex"):
        rows = table[(table["attribute"] == attribute) & table["metric"].isin(PARITY_RATIOS)]
        rows = rows[rows["group"] != "worst"]
        assert per[attribute] == pytest.approx(np.nanmean(np.abs(1 - rows["value"])))
    assert parity_deviation(table) == pytest.approx((per["race"] + per["sex"]) / 2)
    # the old pooling over rows: four race comparisons outweigh the one sex comparison
    rows = table[parity_mask(table)]
    assert parity_deviation(table) != pytest.approx(np.nanmean(np.abs(1 - rows["value"])))
    # the array forms agree
    values = table["value"].to_numpy()[None, :]
    np.testing.assert_allclose(attribute_parity_values(values, table), per.to_numpy()[None, :])
    index, names = parity_layout(table)
    assert names == ("race", "sex") and (index[~parity_mask(table)] == -1).all()
    pooled = parity_deviation_values(values, parity_mask(table), attributes=table["attribute"].to_numpy())
    assert pooled[0] == pytest.approx(parity_deviation(table))
    legacy = parity_deviation_values(values, parity_mask(table))  # rows weigh equally
    assert legacy[0] == pytest.approx(np.nanmean(np.abs(1 - rows["value"])))


def test_an_attribute_without_a_defined_ratio_is_left_out_of_the_pool() -> None:
    y_true, y_pred, g = _windows({"a": (20, 5, 5, 10), "b": (15, 8, 3, 9)})
    frame = pd.DataFrame({"g": g, "site": ["s1"] * len(g)})  # one group: no comparison
    table = fairness_table(y_true, y_pred, frame, reference={"g": "a"}, min_group_size=0)
    per = attribute_parity_deviation(table)
    assert np.isnan(per["site"])
    assert parity_deviation(table) == pytest.approx(per["g"])


# --------------------------------------------------------------------------------------- undefined ratios
@pytest.mark.parametrize(
    ("group", "reference", "expected"),
    [
        # group without positives: FOR would be 0 (deviation 1) and FDR 1/FDR_ref in AIF360
        (
            (6, 4, 0, 0),
            (5, 2, 3, 4),
            {
                "disparate_impact": "",
                "error_rate_ratio": "",
                "false_discovery_rate_ratio": "no_positives_in_group",
                "false_negative_rate_ratio": "no_positives_in_group",
                "false_omission_rate_ratio": "no_positives_in_group",
                "false_positive_rate_ratio": "",
            },
        ),
        # group without negatives: FDR would be 0 and FOR 1/FOR_ref
        (
            (0, 0, 3, 5),
            (5, 2, 3, 4),
            {
                "disparate_impact": "",
                "error_rate_ratio": "",
                "false_discovery_rate_ratio": "no_negatives_in_group",
                "false_negative_rate_ratio": "",
                "false_omission_rate_ratio": "no_negatives_in_group",
                "false_positive_rate_ratio": "no_negatives_in_group",
            },
        ),
        # reference without positives: its FDR is 1 and its FOR 0
        (
            (5, 2, 3, 4),
            (6, 4, 0, 0),
            {
                "disparate_impact": "",
                "error_rate_ratio": "",
                "false_discovery_rate_ratio": "no_positives_in_reference",
                "false_negative_rate_ratio": "no_positives_in_reference",
                "false_omission_rate_ratio": "no_positives_in_reference",
                "false_positive_rate_ratio": "",
            },
        ),
        # zero events: the group misses no positive and raises no false alarm; the reference selects nobody
        (
            (5, 0, 0, 4),
            (5, 2, 3, 4),
            {
                "disparate_impact": "",
                "error_rate_ratio": "zero_numerator",
                "false_discovery_rate_ratio": "zero_numerator",
                "false_negative_rate_ratio": "zero_numerator",
                "false_omission_rate_ratio": "zero_numerator",
                "false_positive_rate_ratio": "zero_numerator",
            },
        ),
        (
            (5, 2, 3, 4),
            (5, 0, 3, 0),
            {
                "disparate_impact": "no_predicted_positives_in_reference",
                "error_rate_ratio": "",
                "false_discovery_rate_ratio": "no_predicted_positives_in_reference",
                "false_negative_rate_ratio": "",
                "false_omission_rate_ratio": "",
                "false_positive_rate_ratio": "zero_denominator",
            },
        ),
        (
            (5, 0, 3, 0),
            (5, 2, 3, 4),
            {
                "disparate_impact": "no_predicted_positives_in_group",
                "error_rate_ratio": "",
                "false_discovery_rate_ratio": "no_predicted_positives_in_group",
                "false_negative_rate_ratio": "",
                "false_omission_rate_ratio": "",
                "false_positive_rate_ratio": "zero_numerator",
            },
        ),
    ],
)
def test_ratios_resting_on_zero_events_are_nan_with_a_reason(group, reference, expected) -> None:
    u, p = np.array(group, dtype=float), np.array(reference, dtype=float)
    for metric, reason in expected.items():
        value = float(pairwise_metric(metric, u, p))
        assert str(pairwise_reason(metric, u, p)) == reason, metric
        assert np.isnan(value) == (reason != ""), metric
        if reason == "":
            assert np.isfinite(value) and value > 0, metric  # never 0 or inf


def test_rule_two_applies_to_differences_and_undefined_rows_leave_the_parity_deviation() -> None:
    # group 'b' has no positives: FOR_b = 0 and FDR_b = 1 are fixed by its labels
    y_true, y_pred, g = _windows({"a": (20, 5, 5, 10), "b": (12, 8, 0, 0)})
    table = fairness_table(y_true, y_pred, pd.DataFrame({"g": g}), reference={"g": "a"}, min_group_size=0)
    b = table[table["group"] == "b"].set_index("metric")
    for metric in (
        "false_omission_rate_difference",
        "false_discovery_rate_difference",
        "false_omission_rate_ratio",
    ):
        assert b.loc[metric, "reason"] == "no_positives_in_group" and np.isnan(b.loc[metric, "value"])
    assert b.loc["false_negative_rate_difference", "reason"] == "no_positives_in_group"
    defined = [m for m in PARITY_RATIOS if b.loc[m, "reason"] == ""]
    assert defined == ["disparate_impact", "error_rate_ratio", "false_positive_rate_ratio"]
    expected = np.mean(np.abs(1 - b.loc[defined, "value"].to_numpy()))
    assert parity_deviation(table) == pytest.approx(expected)
    # a difference with a zero rate stays defined: FNR_u = 0 with positives present
    u, p = np.array([5.0, 0, 0, 4]), np.array([5.0, 2, 3, 4])
    assert float(pairwise_metric("false_negative_rate_difference", u, p)) == pytest.approx(-3 / 7)


# ----------------------------------------------------------------------------------------- minimum sizes
def _subject_data():
    # group 'x': 60 windows from 3 subjects; 'y': 60 windows from 12 subjects with 4 positives;
    # 'z': 120 windows from 24 subjects
    group = np.array(["x"] * 60 + ["y"] * 60 + ["z"] * 120, dtype=object)
    subject = np.concatenate(
        [np.repeat(np.arange(3), 20), 100 + np.repeat(np.arange(12), 5), 200 + np.repeat(np.arange(24), 5)]
    )
    y_true = np.zeros(240, dtype=int)
    y_true[:20] = 1
    y_true[60:64] = 1
    y_true[120:160] = 1
    y_pred = np.zeros(240, dtype=int)
    y_pred[::3] = 1
    return y_true, y_pred, pd.DataFrame({"g": group}), subject


def test_min_subjects_and_min_positives_give_reasons() -> None:
    y_true, y_pred, frame, subject = _subject_data()
    table = fairness_table(
        y_true, y_pred, frame, min_group_size=30, min_subjects=5, min_positives=5, subjects=subject
    )
    pairs = table[~table["group"].isin(["worst", "all"])]
    assert set(pairs["reference_group"]) == {"z"}
    reasons = pairs.groupby("group")["reason"].agg(set).to_dict()
    assert reasons["x"] == {"group_below_min_subjects"}
    assert reasons["y"] == {"group_below_min_positives"}
    assert pairs[pairs["group"] != "z"]["value"].isna().all()
    # ineligible groups leave the attribute-level (fairlearn) rows
    assert (table[table["group"] == "all"]["reason"] == "fewer_than_two_groups").all()
    # without subject ids each window counts as a subject
    no_ids = fairness_table(y_true, y_pred, frame, min_group_size=30, min_subjects=5)
    assert set(no_ids[no_ids["group"] == "x"]["reason"]) != {"group_below_min_subjects"}
    # a named reference below the minimum
    named = fairness_table(
        y_true, y_pred, frame, reference={"g": "x"}, min_group_size=0, min_subjects=5, subjects=subject
    )
    assert set(named[named["group"] == "z"]["reason"]) == {"reference_below_min_subjects"}
    named = fairness_table(y_true, y_pred, frame, reference={"g": "y"}, min_group_size=0, min_positives=5)
    assert set(named[named["group"] == "z"]["reason"]) == {"reference_below_min_positives"}
    # defaults check nothing: the same table as before these options existed
    pd.testing.assert_frame_equal(
        fairness_table(y_true, y_pred, frame, min_group_size=30),
        fairness_table(
            y_true, y_pred, frame, min_group_size=30, min_subjects=0, min_positives=0, subjects=subject
        ),
    )
    with pytest.raises(ConfigError, match="min_subjects must be a non-negative integer"):
        fairness_table(y_true, y_pred, frame, min_subjects=-1)
    with pytest.raises(DataError, match="subjects has shape"):
        fairness_table(y_true, y_pred, frame, subjects=subject[:-1])


def test_min_subjects_counts_a_subject_in_two_pooled_groups_once_and_steers_the_majority() -> None:
    # 'big' has the most windows but 2 subjects: the majority reference is the largest eligible group
    group = np.array(["big"] * 50 + ["mid"] * 40 + ["low"] * 10, dtype=object)
    subject = np.concatenate([np.repeat([0, 1], 25), 10 + np.arange(40), 60 + np.arange(10)])
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 2, 100), rng.integers(0, 2, 100)
    table = fairness_table(
        y_true, y_pred, pd.DataFrame({"g": group}), min_group_size=0, min_subjects=5, subjects=subject
    )
    assert set(table[~table["group"].isin(["worst", "all"])]["reference_group"]) == {"mid"}
    # paper mode: the rest pools only eligible groups
    paper = fairness_table(
        y_true,
        y_pred,
        pd.DataFrame({"g": group}),
        parity="paper",
        privileged={"g": "mid"},
        min_group_size=0,
        min_subjects=5,
        subjects=subject,
    )
    assert set(paper[paper["group"] == "rest"]["n_group"]) == {10}


# ------------------------------------------------------------------------------------------- warnings
@pytest.mark.parametrize(("other", "warns"), [(95, True), (91, True), (90, False), (60, False)])
def test_majority_reference_warns_when_sizes_are_within_ten_percent(other: int, warns: bool) -> None:
    sex = np.array(["male"] * 100 + ["female"] * other, dtype=object)
    y = np.tile([0, 1], len(sex))[: len(sex)]
    frame = pd.DataFrame({"sex": sex})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fairness_table(y, y[::-1], frame, min_group_size=0)
    found = [w for w in caught if issubclass(w.category, ReferenceWarning)]
    assert bool(found) == warns
    if warns:
        text = str(found[0].message)
        assert "attribute 'sex'" in text and "'male' (100 windows)" in text and f"'female' ({other})" in text
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReferenceWarning)  # a named reference never warns
        fairness_table(y, y[::-1], frame, reference={"sex": "male"}, min_group_size=0)


# ------------------------------------------------------------------------------------------- bootstrap
def _clustered(seed: int, n_subjects: int = 60, per_subject: int = 6):
    rng = np.random.default_rng(seed)
    subject = np.repeat(np.arange(n_subjects), per_subject)
    sex = rng.choice(["f", "m"], n_subjects, p=[0.35, 0.65])[subject]
    race = rng.choice(["a", "b", "c", "d"], n_subjects, p=[0.5, 0.25, 0.15, 0.1])[subject]
    effect = rng.normal(0, 1.0, n_subjects)[subject]
    y = (rng.random(len(subject)) < 1 / (1 + np.exp(-effect))).astype(int)
    score = 1 / (1 + np.exp(-(effect + (2 * y - 1) + rng.normal(0, 1, len(subject)))))
    return y, score, pd.DataFrame({"sex": sex, "race": race}), subject


@pytest.mark.parametrize("deviation", ["abs", "log"])
def test_replicator_paper_mode_equals_tables_on_explicit_resamples(deviation: str) -> None:
    y, s, frame, subject = _clustered(1)
    options = {
        "parity": "paper",
        "privileged": {"sex": "m", "race": "a"},
        "min_subjects": 4,
        "min_positives": 3,
    }
    n_units = subject.max() + 1
    model = ModelReplicator(
        y,
        s,
        frame,
        subject,
        n_units,
        threshold=0.5,
        reference="majority",
        min_group_size=5,
        include_missing=False,
        deviation=deviation,
        **options,
    )
    assert model.attribute_names == ("sex", "race")
    idx = resample_indices(n_units, n_boot=3, seed=2)
    fair, pdev, _ = model.replicate(multiplicities(idx, n_units))
    attr = model.attribute_parity(fair)
    assert attr.shape == (3, 2)
    np.testing.assert_allclose(pdev, np.nanmean(attr, axis=1))
    full = fairness_table(y, (s >= 0.5).astype(int), frame, min_group_size=5, subjects=subject, **options)
    rest = full[full["group"] == "rest"].groupby("attribute")["n_group"].first()
    # race 'd' (3 subjects) misses min_subjects: the rest pools b and c only
    assert rest["sex"] == (frame["sex"] != "m").sum()
    assert rest["race"] == frame["race"].isin(["b", "c"]).sum()
    np.testing.assert_allclose(
        model.attribute_parity_estimate, attribute_parity_deviation(full, deviation=deviation).to_numpy()
    )
    assert model.parity_estimate == pytest.approx(parity_deviation(full, deviation=deviation))
    for b in range(3):
        rows = np.concatenate([np.flatnonzero(subject == u) for u in idx[b]])
        # the plan is fixed on the full data: race 'd' stays out of the rest in every resample, as
        # when its race is unknown
        explicit = frame.iloc[rows].reset_index(drop=True)
        explicit.loc[explicit["race"] == "d", "race"] = None
        table = fairness_table(
            y[rows],
            (s[rows] >= 0.5).astype(int),
            explicit,
            parity="paper",
            privileged=options["privileged"],
            min_group_size=0,
        )
        np.testing.assert_allclose(fair[b], table["value"].to_numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(attr[b], attribute_parity_deviation(table, deviation=deviation).to_numpy())


def test_bootstrap_reports_per_attribute_parity_after_the_pooled_row() -> None:
    y, s, frame, subject = _clustered(2, n_subjects=80)
    out = bootstrap_ci(
        y,
        s,
        frame,
        clusters=subject,
        n_boot=60,
        min_group_size=5,
        parity="paper",
        privileged={"sex": "m", "race": "a"},
        deviation="log",
        min_subjects=3,
    )
    summary = out[out["kind"] == "summary"]
    assert summary["attribute"].tolist() == ["all", "sex", "race"]
    assert set(summary["reference_group"]) == {"privileged"}
    fair = fairness_table(
        y,
        (s >= 0.5).astype(int),
        frame,
        min_group_size=5,
        parity="paper",
        privileged={"sex": "m", "race": "a"},
        min_subjects=3,
        subjects=subject,
    )
    per = attribute_parity_deviation(fair, deviation="log")
    np.testing.assert_allclose(summary["estimate"].iloc[1:], per.to_numpy())
    assert summary["estimate"].iloc[0] == pytest.approx(per.mean())
    assert (summary["ci_low"] <= summary["ci_high"]).all() and summary["ci_low"].notna().all()
    # what experiments/analyse.py's _metric reads: the first parity_deviation row is the pooled one
    assert out[out["metric"] == "parity_deviation"].iloc[0]["attribute"] == "all"


def test_bootstrap_defaults_are_the_pairwise_table() -> None:
    y, s, frame, subject = _clustered(3)
    base = _quiet(bootstrap_ci, y, s, frame, clusters=subject, n_boot=20, min_group_size=5)
    explicit = _quiet(
        bootstrap_ci,
        y,
        s,
        frame,
        clusters=subject,
        n_boot=20,
        min_group_size=5,
        parity="pairwise",
        deviation="abs",
        min_subjects=0,
        min_positives=0,
        privileged=None,
    )
    pd.testing.assert_frame_equal(base, explicit)
    with pytest.raises(ConfigError, match="deviation must be one of abs, log"):
        bootstrap_ci(y, s, frame, deviation="sq")
    common = {"threshold": 0.5, "reference": "majority", "min_group_size": 5, "include_missing": False}
    with pytest.raises(ConfigError, match="parity must be one of pairwise, paper"):
        ModelReplicator(y, s, frame, subject, subject.max() + 1, parity="binary", **common)
    with pytest.raises(ConfigError, match="min_positives must be a non-negative integer"):
        ModelReplicator(y, s, frame, subject, subject.max() + 1, min_positives=-1, **common)


def test_bootstrap_counts_subjects_apart_from_the_resampling_unit() -> None:
    y, s, frame, subject = _clustered(4, n_subjects=40)
    by_window = bootstrap_ci(y, s, frame, n_boot=10, min_group_size=5, min_subjects=8, subjects=subject)
    table = fairness_table(
        y, (s >= 0.5).astype(int), frame, min_group_size=5, min_subjects=8, subjects=subject
    )
    fair = by_window[by_window["kind"] == "fairness"]
    assert fair["reason"].tolist() == table["reason"].tolist()
    assert "group_below_min_subjects" in set(table["reason"])
    # without subject ids (and window resampling) each window is a subject: nothing is below 8
    no_ids = bootstrap_ci(y, s, frame, n_boot=10, min_group_size=5, min_subjects=8)
    assert "group_below_min_subjects" not in set(no_ids["reason"])
