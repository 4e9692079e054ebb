"""Per-group thresholds fitted on validation: the fit equalises the chosen rate (oracle: a brute-force
search over every achievable rate), the logit shift reproduces the thresholds at the study threshold,
and on held-out data a base-rate difference's disparity shrinks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from fairssl.errors import ConfigError, DataError
from fairssl.evaluation.thresholds import THRESHOLD_COLUMNS, apply_group_thresholds, fit_group_thresholds


def scores(n: int, seed: int, *, shift: float = 1.2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, P(y=1) and groups where group ``b``'s scores are pushed down by ``shift`` logits (a
    model that under-rates group b's risk) and b has a lower base rate."""
    rng = np.random.default_rng(seed)
    g = np.where(rng.random(n) < 0.4, "b", "a")
    y = (rng.random(n) < np.where(g == "a", 0.4, 0.2)).astype(np.int64)
    z = 1.5 * (2 * y - 1) + rng.normal(size=n) - np.where(g == "b", shift, 0.0)
    return y, 1 / (1 + np.exp(-z)), g


def _rate(y: np.ndarray, pred: np.ndarray, rate: str) -> float:
    return float(pred[y == 1].mean()) if rate == "tpr" else float(pred.mean())


@pytest.mark.parametrize("rate", ["tpr", "selection"])
@pytest.mark.parametrize("tau", [0.5, 0.3])
def test_fit_reaches_the_nearest_achievable_rate_of_every_group(rate: str, tau: float) -> None:
    y, p, g = scores(400, 0)
    table = fit_group_thresholds(y, p, g, threshold=tau, rate=rate)
    assert list(table.columns) == list(THRESHOLD_COLUMNS) and table["group"].tolist() == ["a", "b"]
    target = _rate(y, p >= tau, rate)
    adjusted = apply_group_thresholds(p, g, table, threshold=tau)
    for row in table.itertuples():
        rows = g == row.group
        base = p[rows & (y == 1)] if rate == "tpr" else p[rows]
        # oracle: every rate the group can reach (a threshold at each of its scores, or above them all)
        reachable = [float((base >= t).mean()) for t in base] + [0.0]
        best = min(abs(r - target) for r in reachable)
        assert abs(row.rate_after - target) == pytest.approx(best)
        assert row.target == pytest.approx(target) and row.rate_before == pytest.approx((base >= tau).mean())
        # the shifted scores at the study threshold give exactly the fitted rates
        assert _rate(y[rows], adjusted[rows] >= tau, rate) == pytest.approx(row.rate_after)
        assert row.logit_shift == pytest.approx(
            np.log(tau / (1 - tau)) - np.log(row.threshold / (1 - row.threshold))
        )
    before = [_rate(y[g == n], p[g == n] >= tau, rate) for n in ("a", "b")]
    after = [_rate(y[g == n], adjusted[g == n] >= tau, rate) for n in ("a", "b")]
    assert abs(after[0] - after[1]) < abs(before[0] - before[1]) / 4  # the validation gap all but closes


def test_shift_keeps_within_group_ranking_and_thresholds_exactly() -> None:
    y, p, g = scores(300, 1)
    thresholds = {"a": 0.62, "b": 0.31}
    adjusted = apply_group_thresholds(p, g, thresholds, threshold=0.5)
    for name, t in thresholds.items():
        rows = g == name
        assert np.array_equal(adjusted[rows] >= 0.5, p[rows] >= t)
        assert np.array_equal(np.argsort(adjusted[rows], kind="stable"), np.argsort(p[rows], kind="stable"))
        assert roc_auc_score(y[rows], adjusted[rows]) == pytest.approx(roc_auc_score(y[rows], p[rows]))
    assert ((adjusted >= 0) & (adjusted <= 1)).all()
    # a group at the study threshold, or absent from the table, is left bit-identical
    same = apply_group_thresholds(p, g, {"a": 0.5, "zzz": 0.2}, threshold=0.5)
    assert np.array_equal(same, p)
    table = pd.DataFrame({"group": ["a", "b"], "threshold": [0.62, 0.31]})
    assert np.array_equal(apply_group_thresholds(p, g, table, threshold=0.5), adjusted)


def test_a_group_already_at_the_target_keeps_the_study_threshold() -> None:
    # both groups identically distributed and balanced: each already has (nearly) the overall TPR
    y = np.tile([0, 1, 1, 0, 1, 0, 1, 1], 2)
    p = np.tile([0.1, 0.7, 0.4, 0.3, 0.9, 0.6, 0.55, 0.2], 2)
    g = np.repeat(["a", "b"], 8)
    table = fit_group_thresholds(y, p, g, threshold=0.5)
    assert (table["threshold"] == 0.5).all() and (table["logit_shift"] == 0).all()
    assert np.array_equal(apply_group_thresholds(p, g, table, threshold=0.5), p)


@pytest.mark.parametrize("rate", ["tpr", "selection"])
def test_thresholds_fitted_on_validation_shrink_the_test_disparity_of_a_base_rate_gap(rate: str) -> None:
    y_val, p_val, g_val = scores(2000, 2)
    y_te, p_te, g_te = scores(2000, 3)
    table = fit_group_thresholds(y_val, p_val, g_val, threshold=0.5, rate=rate)
    adjusted = apply_group_thresholds(p_te, g_te, table, threshold=0.5)

    def gap(score: np.ndarray) -> float:
        a, b = (_rate(y_te[g_te == n], score[g_te == n] >= 0.5, rate) for n in ("a", "b"))
        return a - b

    assert gap(p_te) > 0.15  # group b is under-selected by the raw scores
    assert abs(gap(adjusted)) < gap(p_te) / 3
    assert table.set_index("group").loc["b", "threshold"] < 0.5  # b's bar is lowered


def test_a_group_without_validation_positives_is_left_unchanged_for_tpr() -> None:
    y = np.array([1, 0, 1, 0, 0, 0])
    p = np.array([0.8, 0.3, 0.4, 0.2, 0.6, 0.1])
    g = np.array(["a", "a", "a", "a", "b", "b"])
    table = fit_group_thresholds(y, p, g, threshold=0.5).set_index("group")
    assert table.loc["b", "threshold"] == 0.5 and table.loc["b", "n_base"] == 0
    assert np.isnan(table.loc["b", "rate_after"])


def test_messages() -> None:
    y, p, g = scores(50, 4)
    with pytest.raises(ConfigError, match="rate must be one of tpr, selection; got 'fpr'"):
        fit_group_thresholds(y, p, g, rate="fpr")
    with pytest.raises(ConfigError, match=r"strictly between 0 and 1; got 1\.0"):
        fit_group_thresholds(y, p, g, threshold=1.0)
    with pytest.raises(DataError, match="groups has 3 entries but there are 50 scores"):
        fit_group_thresholds(y, p, g[:3])
    with pytest.raises(DataError, match="no windows to compute the tpr on"):
        fit_group_thresholds(np.zeros(50, dtype=int), p, g)
    with pytest.raises(DataError, match="probabilities in \\[0, 1\\]"):
        apply_group_thresholds(p + 1, g, {"a": 0.4})
    with pytest.raises(DataError, match="threshold of group 'a' must lie strictly between 0 and 1"):
        apply_group_thresholds(p, g, {"a": 0.0})
