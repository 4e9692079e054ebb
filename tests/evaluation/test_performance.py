"""Performance metrics against scikit-learn, weighted AUROC/AUPRC, thresholds, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from fairssl.errors import ConfigError, DataError
from fairssl.evaluation.performance import (
    PERFORMANCE_METRICS,
    choose_threshold,
    performance_table,
    weighted_auroc,
    weighted_average_precision,
)


def _data(seed: int = 0, n: int = 500, ties: bool = False):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"sex": rng.choice(["f", "m"], n), "site": rng.choice(["a", "b", "c"], n, p=[0.5, 0.45, 0.05])}
    )
    y = rng.integers(0, 2, n)
    s = 1 / (1 + np.exp(-(1.2 * y - 0.6 + rng.normal(0, 1, n))))
    if ties:
        s = np.round(s, 1)
    return y, s, frame


@pytest.mark.parametrize("ties", [False, True])
def test_table_matches_sklearn_overall_and_per_group(ties: bool) -> None:
    y, s, frame = _data(1, ties=ties)
    table = performance_table(y, s, frame, threshold=0.5, min_group_size=0).set_index(
        ["attribute", "group", "metric"]
    )
    pred = (s >= 0.5).astype(int)
    sets = [("overall", "all", np.ones(len(y), bool))] + [
        (col, g, (frame[col] == g).to_numpy()) for col in frame.columns for g in sorted(frame[col].unique())
    ]
    for attribute, group, mask in sets:
        expected = {
            "auroc": skm.roc_auc_score(y[mask], s[mask]),
            "auprc": skm.average_precision_score(y[mask], s[mask]),
            "accuracy": skm.accuracy_score(y[mask], pred[mask]),
            "balanced_accuracy": skm.balanced_accuracy_score(y[mask], pred[mask]),
            "f1": skm.f1_score(y[mask], pred[mask]),
        }
        for metric in PERFORMANCE_METRICS:
            assert table.loc[(attribute, group, metric), "value"] == pytest.approx(
                expected[metric], abs=1e-12
            )
        assert table.loc[(attribute, group, "auroc"), "n"] == mask.sum()
        assert table.loc[(attribute, group, "auroc"), "n_pos"] == y[mask].sum()


def test_weighted_auroc_and_ap_match_sklearn_sample_weight_and_repetition() -> None:
    y, s, _ = _data(2, n=300, ties=True)
    w = np.random.default_rng(0).integers(0, 4, (3, len(y))).astype(float)
    auroc = weighted_auroc(y, s, w)
    ap = weighted_average_precision(y, s, w)
    for b in range(3):
        assert auroc[b] == pytest.approx(skm.roc_auc_score(y, s, sample_weight=w[b]), abs=1e-12)
        rep = w[b].astype(int)
        assert auroc[b] == pytest.approx(skm.roc_auc_score(np.repeat(y, rep), np.repeat(s, rep)), abs=1e-12)
        assert ap[b] == pytest.approx(
            skm.average_precision_score(np.repeat(y, rep), np.repeat(s, rep)), abs=1e-12
        )


def test_ranking_metrics_are_invariant_to_monotone_transforms() -> None:
    y, s, frame = _data(3)
    a = performance_table(y, s, frame, min_group_size=0)
    b = performance_table(y, np.exp(3 * s) - 7, frame, threshold=np.exp(1.5) - 7, min_group_size=0)
    np.testing.assert_allclose(a["value"], b["value"], rtol=1e-12)


def test_single_class_and_tiny_groups_give_reasons() -> None:
    y, s, frame = _data(4, n=200)
    y = y.copy()
    y[(frame["sex"] == "f").to_numpy()] = 0
    table = performance_table(y, s, frame, min_group_size=30).set_index(["attribute", "group", "metric"])
    assert table.loc[("sex", "f", "auroc"), "reason"] == "single_class_in_group"
    assert table.loc[("sex", "f", "auprc"), "reason"] == "no_positives_in_group"
    assert table.loc[("sex", "f", "balanced_accuracy"), "reason"] == "single_class_in_group"
    assert np.isnan(table.to_dict("index")[("sex", "f", "auroc")]["value"])
    assert table.loc[("sex", "f", "accuracy"), "reason"] == ""
    assert table.loc[("site", "c", "auroc"), "reason"] == "group_below_min_size"
    assert (table["value"].isna() == (table["reason"] != "")).all()


def test_multiclass_scores_use_macro_one_vs_rest() -> None:
    rng = np.random.default_rng(5)
    n, k = 400, 3
    y = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k)) + 1.5 * np.eye(k)[y]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    frame = pd.DataFrame({"g": rng.choice(["a", "b"], n)})
    table = performance_table(y, p, frame, min_group_size=0).set_index(["attribute", "group", "metric"])
    pred = p.argmax(axis=1)
    onehot = np.eye(k)[y]
    expected = {
        "auroc": skm.roc_auc_score(y, p, multi_class="ovr", average="macro"),
        "auprc": skm.average_precision_score(onehot, p, average="macro"),
        "accuracy": skm.accuracy_score(y, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "f1": skm.f1_score(y, pred, average="macro"),
    }
    for metric, value in expected.items():
        assert table.loc[("overall", "all", metric), "value"] == pytest.approx(value, abs=1e-12)


def test_two_column_scores_are_probability_of_class_one() -> None:
    y, s, frame = _data(6)
    a = performance_table(y, s, frame)
    b = performance_table(y, np.column_stack([1 - s, s]), frame)
    pd.testing.assert_frame_equal(a, b)


def _brute_threshold(y: np.ndarray, s: np.ndarray, criterion: str) -> float:
    best, best_t = -np.inf, np.nan
    for t in sorted(np.unique(s), reverse=True):
        pred = (s >= t).astype(int)
        if criterion == "youden":
            value = skm.recall_score(y, pred) - (pred[y == 0].mean())
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = skm.f1_score(y, pred)
        if value > best + 1e-15:
            best, best_t = value, t
    return float(best_t)


@pytest.mark.parametrize("criterion", ["youden", "f1"])
@pytest.mark.parametrize("seed", range(3))
def test_choose_threshold_matches_brute_force(criterion: str, seed: int) -> None:
    y, s, _ = _data(seed, n=150, ties=seed == 2)
    assert choose_threshold(y, s, criterion=criterion) == pytest.approx(_brute_threshold(y, s, criterion))


def test_errors() -> None:
    y, s, frame = _data(7, n=50)
    with pytest.raises(DataError, match="NaN/Inf values"):
        performance_table(y, np.where(np.arange(50) == 3, np.nan, s), frame)
    with pytest.raises(DataError, match="y_score has shape"):
        performance_table(y, s[:-1], frame)
    with pytest.raises(DataError, match="binary scores \\(N,\\) need labels 0/1"):
        performance_table(y + 1, s, frame)
    with pytest.raises(DataError, match=r"labels must lie in 0\.\.2"):
        performance_table(np.full(50, 3), np.full((50, 3), 1 / 3), frame)
    with pytest.raises(DataError, match="must be a non-empty 1-D array"):
        performance_table(np.zeros((50, 1)), s, frame)
    with pytest.raises(DataError, match="must hold integer class labels"):
        performance_table(y + 0.5, s, frame)
    with pytest.raises(ConfigError, match="min_group_size must be a non-negative integer"):
        performance_table(y, s, frame, min_group_size=-2)
    with pytest.raises(ConfigError, match="criterion must be one of youden, f1"):
        choose_threshold(y, s, criterion="accuracy")
    with pytest.raises(DataError, match="needs both classes"):
        choose_threshold(np.ones(50, int), s)
    with pytest.raises(DataError, match="needs binary scores of shape"):
        choose_threshold(np.tile([0, 1, 2], 10), np.full((30, 3), 1 / 3))
