"""Oracle tests: our fairness metrics against AIF360's ClassificationMetric and fairlearn.

Hundreds of random small cases, including tiny groups, single-class groups and constant predictions.
Where we return NaN we check, from the raw arrays, that the condition named by the reason code holds;
where AIF360 returns NaN/inf we check that we return NaN with a reason.

Deliberate departures (see the rules in :mod:`fairssl.evaluation.rates`): where AIF360 returns a
finite number resting on no information we return NaN: a ratio whose compared group's rate is 0
(``zero_numerator``; disparate impact ``no_predicted_positives_in_group``), and FDR/FOR/PPV of a side
with one label class only (``no_positives_in_*`` / ``no_negatives_in_*``, where AIF360's value is fixed
at 0 or 1 by the labels). Those rows are checked for their condition like every NaN and counted.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import pytest

from fairssl.evaluation.attribute_metrics import ATTRIBUTE_METRICS
from fairssl.evaluation.counts import confusion_counts
from fairssl.evaluation.fairness import fairness_table
from fairssl.evaluation.rates import PAIRWISE_METRICS, group_rate

logging.getLogger().setLevel(logging.ERROR)  # aif360 logs about optional extras at import

_AIF_EXTRA = {
    "true_positive_rate_ratio": "true_positive_rate",
    "true_negative_rate_ratio": "true_negative_rate",
    "positive_predictive_value_ratio": "positive_predictive_value",
}
# the AIF360 per-group rate behind each ratio (to check "zero_denominator" independently)
_RATIO_RATE = {
    "disparate_impact": "selection_rate",
    "error_rate_ratio": "error_rate",
    "false_discovery_rate_ratio": "false_discovery_rate",
    "false_negative_rate_ratio": "false_negative_rate",
    "false_omission_rate_ratio": "false_omission_rate",
    "false_positive_rate_ratio": "false_positive_rate",
    **_AIF_EXTRA,
}


def _aif_value(metric_obj, name: str) -> float:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if name in _AIF_EXTRA:
            return float(metric_obj.ratio(getattr(metric_obj, _AIF_EXTRA[name])))
        return float(getattr(metric_obj, name)())


def _random_case(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, predictions and group codes (0..G-1, every group present) of a small random case."""
    n_groups = int(rng.integers(2, 5))
    n = int(rng.integers(n_groups, 40))
    probs = rng.dirichlet(np.full(n_groups, 0.7))
    groups = np.concatenate([np.arange(n_groups), rng.choice(n_groups, n - n_groups, p=probs)])
    rng.shuffle(groups)
    y_true = (rng.random(n) < rng.uniform(0.05, 0.95)).astype(int)
    mode = rng.integers(0, 6)
    if mode == 0:
        y_pred = np.ones(n, dtype=int)
    elif mode == 1:
        y_pred = np.zeros(n, dtype=int)
    elif mode == 2:
        y_pred = y_true.copy()
    elif mode == 3:
        y_true = np.ones(n, dtype=int)
        y_pred = (rng.random(n) < 0.5).astype(int)
    else:
        y_pred = (rng.random(n) < rng.uniform(0.05, 0.95)).astype(int)
    return y_true, y_pred, groups


def _condition_holds(reason: str, yt_u, yp_u, yt_p, yp_p, aif_metric, metric: str) -> bool:
    """Check from the raw arrays (or AIF360's own group rates) that the reason is true."""
    if reason == "zero_denominator" or (
        reason == "no_predicted_positives_in_reference" and metric == "disparate_impact"
    ):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return float(getattr(aif_metric, _RATIO_RATE[metric])(privileged=True)) == 0.0
    if reason == "zero_numerator":  # deliberate: AIF360 returns the ratio 0 here
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return float(getattr(aif_metric, _RATIO_RATE[metric])(privileged=False)) == 0.0
    stem, _, where = reason.rpartition("_in_")
    yt, yp = (yt_u, yp_u) if where == "group" else (yt_p, yp_p)
    return {
        "no_positives": (yt == 1).sum() == 0,
        "no_negatives": (yt == 0).sum() == 0,
        "no_predicted_positives": (yp == 1).sum() == 0,
        "no_predicted_negatives": (yp == 0).sum() == 0,
    }[stem]


def test_pairwise_metrics_match_aif360_on_random_cases() -> None:
    aif_datasets = pytest.importorskip("aif360.datasets")
    aif_metrics = pytest.importorskip("aif360.metrics")
    rng = np.random.default_rng(20240602)
    n_checked = n_nan = n_deliberate = 0
    for case in range(200):
        y_true, y_pred, codes = _random_case(rng)
        names = np.array([f"g{c}" for c in codes], dtype=object)
        strategies: list[str | dict[str, str]] = ["rest", "majority", {"a": "g0"}]
        strategy = strategies[case % 3]
        table = fairness_table(
            y_true, y_pred, pd.DataFrame({"a": names}), reference=strategy, min_group_size=0
        )
        frame = pd.DataFrame({"a": codes.astype(float), "y": y_true.astype(float)})
        truth = aif_datasets.BinaryLabelDataset(df=frame, label_names=["y"], protected_attribute_names=["a"])
        pred = truth.copy()
        pred.labels = y_pred.astype(float).reshape(-1, 1)
        rows = table[~table["group"].isin(["worst", "all"])]
        for (group, ref), block in rows.groupby(["group", "reference_group"]):
            u = int(str(group)[1:])
            p_codes = [c for c in range(codes.max() + 1) if c != u] if ref == "rest" else [int(str(ref)[1:])]
            metric_obj = aif_metrics.ClassificationMetric(
                truth, pred, unprivileged_groups=[{"a": u}], privileged_groups=[{"a": c} for c in p_codes]
            )
            in_u, in_p = codes == u, np.isin(codes, p_codes)
            assert block["n_group"].iloc[0] == in_u.sum() and block["n_reference"].iloc[0] == in_p.sum()
            for row in block.to_dict("records"):
                metric, value, reason = str(row["metric"]), float(row["value"]), str(row["reason"])
                expected = _aif_value(metric_obj, metric)
                if reason == "":
                    assert np.isfinite(expected), (case, metric)
                    assert value == pytest.approx(expected, abs=1e-9, rel=1e-9), (case, metric)
                    n_checked += 1
                else:
                    assert np.isnan(value)
                    assert _condition_holds(
                        reason,
                        y_true[in_u],
                        y_pred[in_u],
                        y_true[in_p],
                        y_pred[in_p],
                        metric_obj,
                        metric,
                    ), (case, metric, reason)
                    n_nan += 1
                    n_deliberate += bool(np.isfinite(expected))  # AIF360 gives a number, we NaN
    assert n_checked > 2000 and n_nan > 200  # both branches exercised substantially
    assert n_deliberate > 500  # the deliberate departures are exercised too


def test_every_pairwise_metric_is_checked_against_aif360_names() -> None:
    aif_metrics = pytest.importorskip("aif360.metrics")
    for name in PAIRWISE_METRICS:
        assert name in _AIF_EXTRA or hasattr(aif_metrics.ClassificationMetric, name)


def test_attribute_metrics_match_fairlearn_on_random_cases() -> None:
    flm = pytest.importorskip("fairlearn.metrics")
    functions = {name: getattr(flm, name) for name in ATTRIBUTE_METRICS}
    rng = np.random.default_rng(7)
    n_checked = n_nan = 0
    for case in range(50):
        y_true, y_pred, codes = _random_case(rng)
        names = np.array([f"g{c}" for c in codes], dtype=object)
        table = fairness_table(y_true, y_pred, pd.DataFrame({"a": names}), min_group_size=0)
        rows = table[table["group"] == "all"].set_index("metric").to_dict("index")
        for name, fn in functions.items():
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                expected = float(fn(y_true, y_pred, sensitive_features=names))
            value, reason = rows[name]["value"], rows[name]["reason"]
            if reason == "":
                assert value == pytest.approx(expected, abs=1e-9), (case, name)
                n_checked += 1
                continue
            assert np.isnan(value)
            n_nan += 1
            has_pos = pd.Series(y_true == 1).groupby(codes).sum()
            has_neg = pd.Series(y_true == 0).groupby(codes).sum()
            if reason == "no_positives_in_a_group":
                assert (has_pos == 0).any()
            elif reason == "no_negatives_in_a_group":
                assert (has_neg == 0).any()
            else:  # a ratio min/max whose largest group rate is 0
                assert reason == "zero_denominator" and name.endswith("_ratio")
                frame = pd.DataFrame({"g": codes, "t": y_true, "p": y_pred})
                selection = frame.groupby("g")["p"].mean()
                tpr = frame[frame["t"] == 1].groupby("g")["p"].mean()
                fpr = frame[frame["t"] == 0].groupby("g")["p"].mean()
                rates = [selection] if name.startswith("demographic") else [tpr, fpr]
                assert any(r.max() == 0 for r in rates)
    assert n_checked > 80 and n_nan > 10


def test_group_rates_match_fairlearn_metricframe() -> None:
    flm = pytest.importorskip("fairlearn.metrics")
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 2, 300)
    y_pred = rng.integers(0, 2, 300)
    codes = rng.integers(0, 4, 300)
    frame = flm.MetricFrame(
        metrics={
            "selection_rate": flm.selection_rate,
            "true_positive_rate": flm.true_positive_rate,
            "false_positive_rate": flm.false_positive_rate,
            "false_negative_rate": flm.false_negative_rate,
            "true_negative_rate": flm.true_negative_rate,
        },
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=codes,
    )
    counts = confusion_counts(y_true, y_pred, codes, n_groups=4)
    for rate in frame.by_group.columns:
        np.testing.assert_allclose(group_rate(counts, rate), frame.by_group[rate].to_numpy(), atol=1e-12)
