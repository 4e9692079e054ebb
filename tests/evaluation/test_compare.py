"""Across-seed aggregation and paired setup-vs-baseline comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fairssl.errors import ConfigError, DataError
from fairssl.evaluation.compare import adjust_pvalues, aggregate_seeds, compare_to_baseline, t_interval


def _runs(n_seeds: int = 6, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_seeds):
        base = rng.normal(0.22, 0.02)
        for setup, shift in (("supervised", 0.0), ("0", -0.08), ("3", -0.01)):
            rows.append(
                {
                    "setup": setup,
                    "seed": s,
                    "metric": "parity_deviation",
                    "value": base + shift + rng.normal(0, 0.005),
                }
            )
            rows.append(
                {
                    "setup": setup,
                    "seed": s,
                    "metric": "auroc",
                    "value": 0.83 - shift / 10 + rng.normal(0, 0.003),
                }
            )
    return pd.DataFrame(rows)


def test_aggregate_matches_numpy_and_scipy_t_interval() -> None:
    df = _runs()
    out = aggregate_seeds(df, confidence=0.9).set_index(["setup", "metric"]).to_dict("index")
    for (setup, metric), grp in df.groupby(["setup", "metric"]):
        v = grp["value"].to_numpy()
        lo, hi = stats.t.interval(0.9, len(v) - 1, loc=v.mean(), scale=stats.sem(v))
        row = out[(setup, metric)]
        assert row["n_seeds"] == len(v) and row["reason"] == ""
        assert row["mean"] == pytest.approx(v.mean()) and row["std"] == pytest.approx(v.std(ddof=1))
        assert row["ci_low"] == pytest.approx(lo) and row["ci_high"] == pytest.approx(hi)


def test_single_seed_gives_nan_spread_with_reason() -> None:
    out = aggregate_seeds(_runs(n_seeds=1))
    assert (out["reason"] == "single_seed").all() and out["std"].isna().all() and out["ci_low"].isna().all()
    assert out["mean"].notna().all()
    assert np.isnan(t_interval(np.array([0.3]))[0])


def test_compare_pairs_by_seed_whatever_the_row_order() -> None:
    df = _runs(n_seeds=8)
    shuffled = df.sample(frac=1.0, random_state=1)
    out = compare_to_baseline(shuffled, metric="parity_deviation").set_index("setup")
    pd_ = df[df["metric"] == "parity_deviation"].pivot(index="seed", columns="setup", values="value")
    for setup in ("0", "3"):
        diff = pd_[setup] - pd_["supervised"]
        row = out.loc[setup]
        assert row["n_pairs"] == 8
        assert row["mean_difference"] == pytest.approx(diff.mean())
        assert row["p_value"] == pytest.approx(stats.wilcoxon(diff.to_numpy()).pvalue)
        improvement = (pd_["supervised"].mean() - pd_[setup].mean()) / pd_["supervised"].mean()
        assert row["relative_improvement"] == pytest.approx(improvement)
    assert out.to_dict("index")["0"]["relative_improvement"] > 0.3  # PD 0.22 -> 0.14
    assert out.loc["0", "p_value"] == pytest.approx(2 / 2**8)  # exact Wilcoxon: all 8 differences negative


def test_higher_is_better_metric_and_t_test() -> None:
    df = _runs(n_seeds=8)
    out = compare_to_baseline(df, metric="auroc", test="ttest", correction="none").set_index("setup")
    au = df[df["metric"] == "auroc"].pivot(index="seed", columns="setup", values="value")
    diff = (au["0"] - au["supervised"]).to_numpy()
    assert out.loc["0", "p_value"] == pytest.approx(stats.ttest_rel(au["0"], au["supervised"]).pvalue)
    row = out.to_dict("index")["0"]
    assert row["p_adjusted"] == row["p_value"]
    assert out.loc["0", "relative_improvement"] == pytest.approx(diff.mean() / au["supervised"].mean())
    lo, hi = stats.t.interval(0.95, 7, loc=diff.mean(), scale=stats.sem(diff))
    assert out.loc["0", "diff_ci_low"] == pytest.approx(lo) and out.loc["0", "diff_ci_high"] == pytest.approx(
        hi
    )


def test_holm_on_a_hand_example_and_against_a_step_down_loop() -> None:
    # sorted 0.01, 0.03, 0.04 times 3, 2, 1 = 0.03, 0.06, 0.04 -> running max 0.03, 0.06, 0.06
    np.testing.assert_allclose(adjust_pvalues(np.array([0.01, 0.04, 0.03])), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(
        adjust_pvalues(np.array([0.01, np.nan, 0.2]), method="bonferroni"), [0.02, np.nan, 0.4]
    )
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = rng.uniform(0, 0.2, 6)
        adjusted = adjust_pvalues(p)
        for alpha in (0.01, 0.05, 0.1):
            # textbook Holm: reject in sorted order while p_(i) <= alpha / (m - i + 1)
            rejected = np.zeros(6, bool)
            for rank, i in enumerate(np.argsort(p)):
                if p[i] > alpha / (6 - rank):
                    break
                rejected[i] = True
            np.testing.assert_array_equal(adjusted <= alpha, rejected)


def test_one_seed_gives_nan_p_with_reason() -> None:
    out = compare_to_baseline(_runs(n_seeds=1), metric="parity_deviation")
    assert (out["reason"] == "fewer_than_two_pairs").all() and out["p_value"].isna().all()
    assert out["p_adjusted"].isna().all() and out["relative_improvement"].notna().all()


def test_identical_setups_give_reason_not_crash() -> None:
    df = _runs(n_seeds=4)
    same = df[df["setup"] == "supervised"].assign(setup="copy")
    out = compare_to_baseline(pd.concat([df, same]), metric="auroc").set_index("setup")
    row = out.to_dict("index")["copy"]
    assert row["reason"] == "all_differences_zero" and np.isnan(row["p_value"])


def test_missing_seeds_are_not_paired() -> None:
    df = _runs(n_seeds=6)
    df = df[~((df["setup"] == "3") & (df["seed"] >= 4))]
    out = compare_to_baseline(df, metric="auroc").set_index("setup")
    assert out.loc["3", "n_pairs"] == 4 and out.loc["0", "n_pairs"] == 6


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"metric": "parity_deviation", "test": "mannwhitney"},
            ConfigError,
            "test must be one of wilcoxon, ttest",
        ),
        ({"metric": "parity_deviation", "correction": "fdr"}, ConfigError, "correction must be one of"),
        ({"metric": "latency"}, ConfigError, "cannot tell whether lower or higher 'latency' is better"),
        ({"metric": "latency", "lower_is_better": True}, DataError, "no values for metric 'latency'"),
        ({"metric": "auroc", "baseline": "scratch"}, DataError, "baseline 'scratch' has no 'auroc' values"),
    ],
)
def test_option_errors(kwargs, error, match: str) -> None:
    with pytest.raises(error, match=match):
        compare_to_baseline(_runs(), **kwargs)


def test_table_errors() -> None:
    df = _runs()
    with pytest.raises(DataError, match="lacks column"):
        aggregate_seeds(df.drop(columns="seed"))
    with pytest.raises(DataError, match="duplicate \\(setup, seed, metric\\) rows"):
        aggregate_seeds(pd.concat([df, df.iloc[:1]]))
    with pytest.raises(DataError, match="expected a DataFrame"):
        aggregate_seeds(df.to_numpy())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="confidence must lie strictly between 0 and 1"):
        aggregate_seeds(df, confidence=1.0)
    with pytest.raises(DataError, match="only the baseline"):
        compare_to_baseline(df[df["setup"] == "supervised"], metric="auroc")
    with pytest.raises(ConfigError, match="correction must be one of"):
        adjust_pvalues(np.array([0.1]), method="sidak")
