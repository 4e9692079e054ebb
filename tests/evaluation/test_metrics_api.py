"""fairssl.metrics: the notebook API over the pipeline's metric code.

Oracles: a confusion table computed by hand on a ten-window example; fairlearn's MetricFrame for the
per-group rates; AIF360's ClassificationMetric for the comparisons; scikit-learn for AUROC. Behaviour:
the API's tables equal the pipeline's functions (one code path), intervals bracket the estimate and
repeat with the seed, the accumulator equals the batch call, every error message.
"""

from __future__ import annotations

import doctest
import itertools
import logging
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from fairssl.errors import ConfigError, DataError
from fairssl.evaluation import rates
from fairssl.evaluation.bootstrap import bootstrap_ci
from fairssl.evaluation.components import components
from fairssl.evaluation.fairness import fairness_table
from fairssl.evaluation.inference import component_row
from fairssl.evaluation.parity import attribute_parity_deviation, parity_deviation
from fairssl.evaluation.resampling import resample_models
from fairssl.metrics import (
    GroupMetrics,
    GroupMetricsAccumulator,
    WindowResamplingWarning,
    from_counts,
    group_metrics,
)

logging.getLogger().setLevel(logging.ERROR)  # aif360 logs about optional extras at import

# ten windows, hand-counted: female (4) tp 1, fn 1, fp 1, tn 1; male (6) tp 2, fn 1, fp 1, tn 2
Y_TRUE = [1, 1, 0, 0, 1, 1, 1, 0, 0, 0]
Y_PRED = [1, 0, 1, 0, 1, 1, 0, 1, 0, 0]
SEX = ["f"] * 4 + ["m"] * 6


def _data(seed: int, n_subjects: int = 60, per_subject: int = 5):
    """Windows nested in subjects with two attributes and a score that favours one sex."""
    rng = np.random.default_rng(seed)
    subject = np.repeat(np.arange(n_subjects), per_subject)
    sex = rng.choice(["f", "m"], n_subjects, p=[0.4, 0.6])[subject]
    age = rng.choice(["young", "mid", "old"], n_subjects, p=[0.45, 0.35, 0.2])[subject]
    effect = rng.normal(0, 1, n_subjects)[subject]
    y = (rng.random(len(subject)) < 1 / (1 + np.exp(-effect))).astype(np.int64)
    logit = effect + (2 * y - 1) + rng.normal(0, 1, len(y)) + 0.6 * (sex == "m")
    score = 1 / (1 + np.exp(-logit))
    return y, score, pd.DataFrame({"sex": sex, "age": age}), subject


# ------------------------------------------------------------------------------------------ hand oracle
def test_tiny_example_matches_the_hand_computed_confusion_tables() -> None:
    gm = group_metrics(Y_TRUE, Y_PRED, sensitive_features=pd.DataFrame({"sex": SEX}), min_group_size=0)
    wide = gm.by_group_wide
    expected = {
        # metric: (female, male), from tp/fn/fp/tn = 1/1/1/1 and 2/1/1/2
        "selection_rate": (2 / 4, 3 / 6),
        "true_positive_rate": (1 / 2, 2 / 3),
        "false_positive_rate": (1 / 2, 1 / 3),
        "false_negative_rate": (1 / 2, 1 / 3),
        "true_negative_rate": (1 / 2, 2 / 3),
        "positive_predictive_value": (1 / 2, 2 / 3),
        "false_discovery_rate": (1 / 2, 1 / 3),
        "false_omission_rate": (1 / 2, 1 / 3),
        "error_rate": (2 / 4, 2 / 6),
        "accuracy": (2 / 4, 4 / 6),
        "balanced_accuracy": (1 / 2, (2 / 3 + 2 / 3) / 2),
        "f1": (2 / 4, 4 / 6),
    }
    for metric, (female, male) in expected.items():
        assert wide.loc[("sex", "f"), metric] == pytest.approx(female), metric
        assert wide.loc[("sex", "m"), metric] == pytest.approx(male), metric
    assert wide[["n", "positives"]].to_numpy().tolist() == [[4, 2], [6, 3]]
    # overall: tp 3, fn 2, fp 2, tn 3
    assert gm.overall.loc["selection_rate", "value"] == pytest.approx(0.5)
    assert gm.overall.loc["true_positive_rate", "value"] == pytest.approx(3 / 5)
    assert gm.overall.loc["false_positive_rate", "value"] == pytest.approx(2 / 5)
    assert int(gm.overall.loc["accuracy", "n"]) == 10
    # female against the majority (male)
    pair = gm.pairwise.set_index("metric")
    assert set(pair["reference_group"]) == {"m"} and set(pair["group"]) == {"f"}
    assert pair.loc["disparate_impact", "value"] == pytest.approx(1.0)
    assert pair.loc["statistical_parity_difference", "value"] == pytest.approx(0.0)
    assert pair.loc["equal_opportunity_difference", "value"] == pytest.approx(1 / 2 - 2 / 3)
    assert pair.loc["average_odds_difference", "value"] == pytest.approx(
        ((1 / 2 - 1 / 3) + (1 / 2 - 2 / 3)) / 2
    )
    for ratio in ("error_rate_ratio", "false_discovery_rate_ratio", "false_negative_rate_ratio"):
        assert pair.loc[ratio, "value"] == pytest.approx(1.5)
    # parity deviation: mean |1 - r| over DI (1) and five ratios of 1.5
    assert gm.parity_deviation["attribute"].tolist() == ["all", "sex"]
    assert gm.parity_deviation["value"].tolist() == pytest.approx([2.5 / 6, 2.5 / 6])
    between = gm.between_groups.set_index("metric")
    assert between.loc["demographic_parity_difference", "value"] == pytest.approx(0.0)
    assert between.loc["equalized_odds_difference", "value"] == pytest.approx(1 / 6)


def test_scores_are_thresholded_and_add_auroc_matching_scikit_learn() -> None:
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    y, s, frame, _ = _data(1)
    gm = group_metrics(y, y_score=s, sensitive_features=frame, threshold=0.4, min_group_size=0)
    hard = group_metrics(y, (s >= 0.4).astype(int), sensitive_features=frame, min_group_size=0)
    counted = gm.by_group[~gm.by_group["metric"].isin(["auroc", "auprc"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(counted, hard.by_group)
    for (attribute, group), block in gm.by_group.groupby(["attribute", "group"]):
        rows = (frame[attribute] == group).to_numpy()
        auroc = block.set_index("metric").loc["auroc", "value"]
        assert auroc == pytest.approx(sklearn_metrics.roc_auc_score(y[rows], s[rows]))
    assert gm.overall.loc["auroc", "value"] == pytest.approx(sklearn_metrics.roc_auc_score(y, s))
    assert "auroc" not in hard.overall.index


# ------------------------------------------------------------------------------------- library oracles
def test_group_rates_match_fairlearn_metricframe() -> None:
    fl = pytest.importorskip("fairlearn.metrics")
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(7)
    for _ in range(5):
        n = int(rng.integers(30, 120))
        y = rng.integers(0, 2, n)
        pred = np.where(rng.random(n) < 0.7, y, 1 - y)
        frame = pd.DataFrame({"grp": rng.choice(["a", "b", "c"], n), "site": rng.choice(["x", "y"], n)})
        gm = group_metrics(y, pred, sensitive_features=frame, min_group_size=0).by_group_wide
        ours = {
            "selection_rate": fl.selection_rate,
            "true_positive_rate": fl.true_positive_rate,
            "false_positive_rate": fl.false_positive_rate,
            "positive_predictive_value": lambda t, p: skm.precision_score(t, p, zero_division=np.nan),
            "accuracy": skm.accuracy_score,
            "balanced_accuracy": skm.balanced_accuracy_score,
        }
        for attribute in frame.columns:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mf = fl.MetricFrame(metrics=ours, y_true=y, y_pred=pred, sensitive_features=frame[attribute])
            for group, row in mf.by_group.iterrows():
                for metric, value in row.items():
                    assert gm.loc[(attribute, str(group)), metric] == pytest.approx(value, nan_ok=True), (
                        attribute,
                        group,
                        metric,
                    )


def test_comparisons_match_aif360_classification_metric() -> None:
    aif_datasets = pytest.importorskip("aif360.datasets")
    aif_metrics = pytest.importorskip("aif360.metrics")
    y, s, frame, _ = _data(3)
    pred = (s >= 0.5).astype(int)
    gm = group_metrics(y, pred, sensitive_features=frame[["sex"]], reference={"sex": "m"}, min_group_size=0)
    df = pd.DataFrame({"sex": (frame["sex"] == "m").astype(float), "y": y.astype(float)})
    truth = aif_datasets.BinaryLabelDataset(df=df, label_names=["y"], protected_attribute_names=["sex"])
    predicted = truth.copy()
    predicted.labels = pred.astype(float).reshape(-1, 1)
    aif = aif_metrics.ClassificationMetric(
        truth, predicted, unprivileged_groups=[{"sex": 0.0}], privileged_groups=[{"sex": 1.0}]
    )
    pair = gm.pairwise.set_index("metric")["value"]
    for metric in (
        "statistical_parity_difference",
        "disparate_impact",
        "equal_opportunity_difference",
        "average_odds_difference",
        "average_abs_odds_difference",
        "error_rate_ratio",
        "false_positive_rate_ratio",
        "false_negative_rate_ratio",
        "false_discovery_rate_ratio",
        "false_omission_rate_ratio",
    ):
        assert pair[metric] == pytest.approx(float(getattr(aif, metric)())), metric


# ---------------------------------------------------------------------------------------- one code path
@pytest.mark.parametrize(
    "options",
    [
        {"reference": "rest"},
        {"reference": {"age": "old"}, "deviation": "log"},
        {"parity": "paper", "privileged": {"sex": "m", "age": "young"}},
    ],
)
def test_tables_equal_the_pipeline_functions(options: dict) -> None:
    y, s, frame, _ = _data(2)
    frame.loc[[0, 5, 9], "sex"] = None
    pred = (s >= 0.5).astype(int)
    gm = group_metrics(y, pred, sensitive_features=frame, min_group_size=20, **options)
    deviation = options.pop("deviation", "abs")
    table = fairness_table(y, pred, frame, min_group_size=20, **options)
    pd.testing.assert_frame_equal(gm.fairness, table)
    assert len(gm.pairwise) + len(gm.between_groups) == len(table)
    per = attribute_parity_deviation(table, deviation=deviation)
    assert gm.parity_deviation["value"].tolist() == pytest.approx(
        [parity_deviation(table, deviation=deviation), *per.to_numpy()], nan_ok=True
    )
    assert gm.parity_deviation["attribute"].tolist() == ["all", *per.index]


def test_small_groups_are_nan_with_a_reason_and_missing_values_stay_out() -> None:
    sex = np.array(["f"] * 5 + ["m"] * 40 + [None] * 3, dtype=object)
    y = np.tile([0, 1], 24)
    pred = np.tile([1, 1, 0], 16)
    gm = group_metrics(y, pred, sensitive_features={"sex": sex}, min_group_size=10)
    female = gm.by_group[gm.by_group["group"] == "f"]
    assert female["value"].isna().all() and set(female["reason"]) == {"group_below_min_size"}
    assert set(gm.by_group["group"]) == {"f", "m"}
    assert set(gm.pairwise["reason"]) == {"group_below_min_size"}
    with_missing = group_metrics(
        y, pred, sensitive_features={"sex": sex}, min_group_size=0, include_missing=True
    )
    assert set(with_missing.by_group["group"]) == {"f", "m", "missing"}
    assert int(gm.overall.loc["accuracy", "n"]) == 48  # overall keeps every window


def test_undefined_rates_carry_the_reason_of_their_empty_base() -> None:
    # group "a" has no positives: its TPR is undefined, its FPR is not
    gm = group_metrics(
        [0, 0, 0, 1, 0], [0, 1, 0, 1, 1], sensitive_features=["a", "a", "a", "b", "b"], min_group_size=0
    )
    a = gm.by_group[gm.by_group["group"] == "a"].set_index("metric")
    assert np.isnan(a.loc["true_positive_rate", "value"])
    assert a.loc["true_positive_rate", "reason"] == "no_positives_in_group"
    assert a.loc["false_positive_rate", "value"] == pytest.approx(1 / 3)
    assert a.loc["balanced_accuracy", "reason"] == "single_class_in_group"
    assert (gm.by_group["value"].isna() == (gm.by_group["reason"] != "")).all()


def test_input_forms_give_the_same_tables() -> None:
    y, s, frame, _ = _data(4)
    pred = (s >= 0.5).astype(int)
    base = group_metrics(y, pred, sensitive_features=frame[["sex"]], min_group_size=0)
    forms = [
        frame["sex"],
        {"sex": frame["sex"].tolist()},
        pd.DataFrame({"sex": frame["sex"].to_numpy()}, index=np.arange(len(y))[::-1]),  # rows by position
    ]
    for form in forms:
        other = group_metrics(list(y), pd.Series(pred), sensitive_features=form, min_group_size=0)
        pd.testing.assert_frame_equal(other.by_group, base.by_group)
        pd.testing.assert_frame_equal(other.fairness, base.fairness)
    unnamed = group_metrics(
        y, pred.astype(bool), sensitive_features=frame["sex"].to_numpy(), min_group_size=0
    )
    assert set(unnamed.by_group["attribute"]) == {"sensitive_feature_0"}
    assert unnamed.by_group["value"].tolist() == pytest.approx(base.by_group["value"].tolist(), nan_ok=True)


# ------------------------------------------------------------------------------------------- intervals
def test_intervals_bracket_the_estimate_and_repeat_with_the_seed() -> None:
    y, s, frame, subject = _data(5)
    kwargs = {"sensitive_features": frame, "clusters": subject, "n_boot": 150, "min_group_size": 10}
    gm = group_metrics(y, y_score=s, seed=3, **kwargs)
    again = group_metrics(y, y_score=s, seed=3, **kwargs)
    other = group_metrics(y, y_score=s, seed=4, **kwargs)
    point = group_metrics(y, y_score=s, sensitive_features=frame, min_group_size=10)
    for name in ("by_group", "fairness", "parity_deviation", "overall"):
        table = getattr(gm, name)
        pd.testing.assert_frame_equal(table, getattr(again, name))
        assert not table["ci_high"].equals(getattr(other, name)["ci_high"])
        np.testing.assert_array_equal(table["value"], getattr(point, name)["value"])  # estimates unchanged
        has = table["ci_low"].notna()
        assert has.mean() > 0.8, name
        assert table.loc[table["value"].isna(), "ci_low"].isna().all()
        # percentile intervals bracket the estimate; the parity deviation's bias-aware interval brackets
        # its bias-corrected centre (clipped at 0, as PD >= 0)
        centre = table["estimate_bc"].clip(lower=0) if name == "parity_deviation" else table["value"]
        low, mid, high = (x[has].to_numpy(dtype=float) for x in (table["ci_low"], centre, table["ci_high"]))
        assert (low <= mid + 1e-12).all() and (mid <= high + 1e-12).all(), name
    pdev = gm.parity_deviation
    assert (pdev["bias"] > 0).all()  # a mean of |1 - r|: resampled values sit above the estimate
    np.testing.assert_allclose(pdev["estimate_bc"], pdev["value"] - pdev["bias"])
    assert gm.clustered and "150 resamples of clusters" in repr(gm)


def test_intervals_are_the_pipeline_bootstrap_on_shared_resamples() -> None:
    y, s, frame, subject = _data(6)
    gm = group_metrics(
        y, y_score=s, sensitive_features=frame, clusters=subject, n_boot=80, seed=9, min_group_size=10
    )
    boot = bootstrap_ci(y, s, frame, clusters=subject, n_boot=80, seed=9, min_group_size=10)
    fair = boot[boot["kind"] == "fairness"].reset_index(drop=True)
    np.testing.assert_array_equal(gm.fairness["ci_low"], fair["ci_low"])
    np.testing.assert_array_equal(gm.fairness["n_valid"], fair["n_valid"])
    # count metrics (our count path) and AUROC equal the bootstrap's performance rows: same resamples
    perf = boot[(boot["kind"] == "performance") & (boot["attribute"] != "overall")]
    perf = perf.set_index(["attribute", "group", "metric"])
    ours = gm.by_group.set_index(["attribute", "group", "metric"])
    for metric in ("accuracy", "balanced_accuracy", "f1", "auroc"):
        keys = [k for k in ours.index if k[2] == metric]
        np.testing.assert_allclose(ours.loc[keys, "ci_low"], perf.loc[keys, "ci_low"], rtol=1e-12)
    # the parity deviation: the study's interval (components of one model's draws)
    draws = resample_models(y, [s], frame, subject, n_boot=80, seed=9, min_group_size=10)
    for row, quantity in zip(gm.parity_deviation.itertuples(), draws.quantities[1:], strict=True):
        q = draws.column(quantity)
        comp = components(draws.values[0, q : q + 1], draws.draws[:, 0, q : q + 1])
        want = component_row(comp, 0.95, "parity_deviation", change=False)
        assert (row.value, row.ci_low, row.ci_high) == pytest.approx(
            (want["estimate"], want["ci_low"], want["ci_high"])
        )


def test_window_intervals_with_hard_predictions_say_so() -> None:
    y, s, frame, subject = _data(7)
    pred = (s >= 0.5).astype(int)
    with pytest.warns(WindowResamplingWarning, match="pass clusters=<subject id per window>"):
        by_window = group_metrics(y, pred, sensitive_features=frame, n_boot=60, min_group_size=10)
    by_subject = group_metrics(
        y, pred, sensitive_features=frame, clusters=subject, n_boot=60, min_group_size=10
    )
    assert not by_window.clustered and "auroc" not in set(by_window.by_group["metric"])
    assert not np.array_equal(by_window.overall["ci_low"], by_subject.overall["ci_low"])
    assert (by_window.overall["n_valid"] == 60).all()
    assert "60 resamples of windows" in repr(by_window)


# ----------------------------------------------------------------------------------------- accumulator
@pytest.mark.parametrize("auroc", [False, True])
def test_accumulator_equals_the_batch_call(auroc: bool) -> None:
    y, s, frame, _ = _data(8)
    frame.loc[[3, 17], "age"] = None  # missing values stay out, as in the batch call
    cuts = [0, 7, 7, 60, 61, 150, len(y)]  # an empty batch and a one-window batch
    acc = GroupMetricsAccumulator(
        ["sex", "age"], threshold=0.45, auroc=auroc, min_group_size=15, reference="best"
    )
    for lo, hi in itertools.pairwise(cuts):
        acc.update(y[lo:hi], s[lo:hi], frame.iloc[lo:hi])
    assert acc.n_seen == len(y)
    got = acc.compute()
    if auroc:
        want = group_metrics(
            y, y_score=s, sensitive_features=frame, threshold=0.45, min_group_size=15, reference="best"
        )
    else:
        pred = (s >= 0.45).astype(int)
        want = group_metrics(y, pred, sensitive_features=frame, min_group_size=15, reference="best")
    for name in ("by_group", "fairness", "parity_deviation", "overall"):
        pd.testing.assert_frame_equal(getattr(got, name), getattr(want, name))
    acc.reset()
    with pytest.raises(DataError, match="holds no windows"):
        acc.compute()


def test_accumulator_takes_dicts_series_and_tensors() -> None:
    torch = pytest.importorskip("torch")
    y, s, frame, _ = _data(9)
    acc = GroupMetricsAccumulator("sex", min_group_size=0)
    logits = torch.tensor(s[:100, None], requires_grad=True)  # (n, 1) model output with a graph
    acc.update(torch.tensor(y[:100, None]).float(), logits * 1.0, frame["sex"].iloc[:100])
    acc.update(y[100:], s[100:], {"sex": frame["sex"].to_numpy()[100:]})
    want = group_metrics(y, y_score=s, sensitive_features=frame[["sex"]], min_group_size=0)
    got = acc.compute().by_group
    pd.testing.assert_frame_equal(
        got, want.by_group[~want.by_group["metric"].isin(["auroc", "auprc"])].reset_index(drop=True)
    )
    with pytest.raises(DataError, match=r"lacks attribute\(s\) \['sex'\]"):
        acc.update(y[:5], s[:5], {"age": frame["age"].to_numpy()[:5]})
    with pytest.raises(ConfigError, match="distinct attributes"):
        GroupMetricsAccumulator(["sex", "sex"])


# ------------------------------------------------------------------------------------------ from_counts
def test_from_counts_equals_the_window_level_call_and_reexports() -> None:
    y, s, frame, _ = _data(10)
    pred = (s >= 0.5).astype(int)
    gm = group_metrics(y, pred, sensitive_features=frame, min_group_size=10)
    counts: dict[str, dict[str, np.ndarray]] = {}
    for attribute in frame.columns:
        counts[attribute] = {}
        for group in sorted(frame[attribute].unique(), reverse=True):  # any order
            rows = (frame[attribute] == group).to_numpy()
            counts[attribute][group] = from_counts.confusion_counts(
                y[rows], pred[rows], np.zeros(rows.sum(), int), n_groups=1
            )[0]
    overall = np.bincount(2 * y + pred, minlength=4)
    got = from_counts.group_metrics(counts, overall=overall, min_group_size=10)
    for name in ("by_group", "fairness", "parity_deviation", "overall"):
        pd.testing.assert_frame_equal(getattr(got, name), getattr(gm, name))
    assert from_counts.group_metrics(counts, min_group_size=10).overall.empty
    assert from_counts.disparate_impact is rates.disparate_impact  # a namespace, not a copy
    assert set(from_counts.PAIRWISE_METRICS) <= set(from_counts.__all__)
    with pytest.raises(DataError, match="4 non-negative numbers"):
        from_counts.group_metrics({"sex": {"f": [1, 2, 3]}})


# ------------------------------------------------------------------------------------- errors and repr
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"y_pred": [0.2, 0.9, 0.4, 0.7]},
            DataError,
            r"y_pred holds scores .*pass them as y_score= \(they are",
        ),
        ({"y_pred": [0, 1, 2, 1]}, DataError, r"y_pred must hold 0/1 predictions; got values \[0, 1, 2\]"),
        ({"y_pred": [0, 1, 1]}, DataError, "y_pred has 3 values but y_true has 4"),
        ({"y_score": [0.1, 0.2, 0.3]}, DataError, "y_score has 3 values but y_true has 4"),
        ({"y_pred": [0, 1, np.nan, 1]}, DataError, r"y_pred holds 1 NaN/Inf value\(s\)"),
        ({"y_score": [0.1, np.nan, 0.3, 0.2]}, DataError, r"y_score holds 1 NaN/Inf"),
        ({}, DataError, "give either y_pred .* or y_score .*; got neither"),
        ({"y_pred": [0, 1, 1, 0], "y_score": [0.1, 0.2, 0.3, 0.4]}, DataError, "got both"),
        ({"y_pred": [0, 1, 1, 0], "n_boot": -1}, ConfigError, "n_boot must be a non-negative integer"),
        ({"y_score": [0.1, 0.2, 0.3, 0.4], "threshold": "high"}, ConfigError, "threshold must be a number"),
        (
            {"y_pred": [0, 1, 1, 0], "clusters": [1, 2]},
            DataError,
            r"clusters has shape \(2,\), expected \(4,\)",
        ),
        ({"y_pred": [0, 1, 1, 0], "reference": "largest"}, ConfigError, "reference must be one of"),
    ],
)
def test_error_messages(kwargs: dict, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        group_metrics([0, 1, 1, 0], sensitive_features=["a", "a", "b", "b"], min_group_size=0, **kwargs)


def test_label_errors_are_one_line_value_errors() -> None:
    sf = ["a", "b", "a"]
    cases = [
        (
            ([1, 1, 1],),
            {"y_score": [0.2, 0.5, 0.9]},
            "AUROC needs both classes in y_true, but every label is 1",
        ),
        (([0, 1, 2],), {"y_pred": [0, 1, 1]}, r"y_true must hold 0/1 labels; got values \[0, 1, 2\]"),
        (([0, np.nan, 1],), {"y_pred": [0, 1, 1]}, r"y_true holds 1 NaN/Inf"),
        (
            ([0, 1, 1],),
            {"y_pred": [0, 1, 1], "sensitive_features": ["a", "b"]},
            "sensitive_features has 2 rows",
        ),
    ]
    for args, kwargs, match in cases:
        kwargs = {"sensitive_features": sf, **kwargs}
        with pytest.raises(ValueError, match=match) as info:
            group_metrics(*args, **kwargs)
        assert isinstance(info.value, DataError) and "\n" not in str(info.value)


def test_repr_and_html_summarise_the_result() -> None:
    y, s, frame, _ = _data(11)
    gm = group_metrics(y, y_score=s, sensitive_features=frame.assign(site="<b>"), min_group_size=10)
    assert isinstance(gm, GroupMetrics)
    text = repr(gm)
    assert text.startswith(f"GroupMetrics: {len(y)} windows; sex: 2 groups, age: 3 groups, site: 1 group")
    assert f"parity deviation {gm.parity_deviation['value'].iloc[0]:.3g}" in text
    assert len(text.splitlines()) <= 5
    page = gm._repr_html_()
    assert "&lt;b&gt;" in page and "<b>" not in page  # attribute values are escaped
    assert "selection_rate" in page


def test_module_examples_run() -> None:
    import fairssl.metrics
    import fairssl.metrics.from_counts

    for module in (fairssl.metrics, fairssl.metrics.from_counts):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted > 0 and result.failed == 0, module.__name__


def test_importing_the_metrics_api_does_not_load_torch() -> None:
    code = "import sys, fairssl.metrics; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
