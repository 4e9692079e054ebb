"""The report's tables and plain-language verdict, on hand-made tables with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fairssl.report import tables

SEEDS5 = [0, 1, 2, 3, 4]


def _summary(spec: dict[str, tuple[list[float], list[float]]], *, boot: float | None = 0.05) -> pd.DataFrame:
    """summary.csv rows from {setup: ([auroc per seed], [PD per seed])}, with the paired columns."""
    rows = []
    for setup, (auroc, pdev) in spec.items():
        for seed, (a, p) in enumerate(zip(auroc, pdev, strict=True)):
            rows.append(
                {
                    "run_id": f"{setup}-{seed}",
                    "setup": setup,
                    "seed": seed,
                    "auroc": a,
                    "auroc_low": a - boot if boot else np.nan,
                    "auroc_high": a + boot if boot else np.nan,
                    "parity_deviation": p,
                    "pd_low": p - boot if boot else np.nan,
                    "pd_high": p + boot if boot else np.nan,
                }
            )
    df = pd.DataFrame(rows)
    if "supervised" in spec:
        sup = df[df["setup"] == "supervised"].set_index("seed")
        for i, r in df.iterrows():
            if r["setup"] == "supervised" or r["seed"] not in sup.index:
                continue
            s = sup.loc[r["seed"]]
            rel = (s["parity_deviation"] - r["parity_deviation"]) / s["parity_deviation"]
            df.loc[i, "improvement"] = rel
            for key, value in (
                ("auroc_difference", r["auroc"] - s["auroc"]),
                ("parity_deviation_difference", r["parity_deviation"] - s["parity_deviation"]),
                ("relative_improvement", rel),
            ):
                df.loc[i, f"{key}_diff"] = value
                df.loc[i, f"{key}_diff_low"] = value - 0.2 if boot else np.nan
                df.loc[i, f"{key}_diff_high"] = value + 0.1 if boot else np.nan
    return df


def _t_ci(values: np.ndarray) -> tuple[float, float]:
    """Independent Student-t 95% interval of the mean (the oracle)."""
    n = len(values)
    m = sum(values) / n
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    return m - half, m + half


SUP_PD = [0.22, 0.23, 0.24, 0.21, 0.225]
SUP_AUC = [0.84, 0.845, 0.835, 0.84, 0.842]


# ------------------------------------------------------------------------------------- setup comparison
def test_setup_comparison_matches_an_independent_t_interval_oracle() -> None:
    ssl_pd = [p * 0.7 + d for p, d in zip(SUP_PD, [0.004, -0.003, 0.002, 0.0, -0.002], strict=True)]
    ssl_auc = [a - 0.009 + d for a, d in zip(SUP_AUC, [0.002, -0.001, 0.0, 0.001, -0.002], strict=True)]
    comp = tables.setup_comparison(
        _summary({"supervised": (SUP_AUC, SUP_PD), "2-first-last": (ssl_auc, ssl_pd)})
    )
    assert list(comp["setup"]) == ["supervised", "2-first-last"]
    row = comp.set_index("setup").loc["2-first-last"]
    lo, hi = _t_ci(np.array(ssl_auc))
    assert row["auroc"] == pytest.approx(np.mean(ssl_auc))
    assert (row["auroc_low"], row["auroc_high"]) == pytest.approx((lo, hi))
    diffs = np.array(ssl_pd) - np.array(SUP_PD)
    mean_sup = np.mean(SUP_PD)
    assert row["improvement"] == pytest.approx((mean_sup - np.mean(ssl_pd)) / mean_sup)
    dlo, dhi = _t_ci(diffs)
    assert (row["improvement_low"], row["improvement_high"]) == pytest.approx(
        (-dhi / mean_sup, -dlo / mean_sup)
    )
    alo, ahi = _t_ci(np.array(ssl_auc) - np.array(SUP_AUC))
    assert (row["auroc_change_low"], row["auroc_change_high"]) == pytest.approx((alo, ahi))
    assert row["verdict"] == "fairer" and row["improvement_ci"] == "seeds" and row["n_pairs"] == 5


def test_setup_comparison_p_values_are_paired_t_tests_holm_adjusted_over_setups() -> None:
    shifts = {"0": 0.02, "1-first": -0.004, "3": 0.0}
    noise = [0.004, -0.003, 0.002, 0.001, -0.002]
    spec = {"supervised": (SUP_AUC, SUP_PD)}
    for setup, shift in shifts.items():
        spec[setup] = (
            [a - shift / 4 + n / 2 for a, n in zip(SUP_AUC, noise, strict=True)],
            [p + shift + n for p, n in zip(SUP_PD, noise[::-1], strict=True)],
        )
    comp = tables.setup_comparison(_summary(spec)).set_index("setup")
    raw = {
        setup: stats.ttest_rel(spec[setup][1], SUP_PD).pvalue for setup in shifts
    }  # the oracle: scipy's paired t-test, then Holm by hand
    order = sorted(raw, key=raw.get)
    holm, running = {}, 0.0
    for i, setup in enumerate(order):
        running = max(running, min(1.0, (len(order) - i) * raw[setup]))
        holm[setup] = running
    for setup in shifts:
        assert comp.loc[setup, "pd_change_p"] == pytest.approx(holm[setup])
    assert comp.loc["0", "pd_change_p"] < 0.05  # a consistent 0.02 shift is detected with 5 seeds
    assert np.isnan(comp.loc["supervised", "pd_change_p"])


def test_setup_comparison_is_invariant_to_row_order() -> None:
    s = _summary(
        {"supervised": (SUP_AUC, SUP_PD), "0": ([a - 0.01 for a in SUP_AUC], [p * 0.9 for p in SUP_PD])}
    )
    a = tables.setup_comparison(s)
    b = tables.setup_comparison(s.sample(frac=1.0, random_state=3).reset_index(drop=True))
    pd.testing.assert_frame_equal(a, b)
    assert tables.headline(s) == tables.headline(s.iloc[::-1])


def test_intervals_are_clipped_to_the_range_of_the_quantity() -> None:
    s = _summary({"supervised": ([0.99, 0.5], [0.05, 1.5]), "3": ([0.2, 0.98], [1.4, 0.01])})
    comp = tables.setup_comparison(s).set_index("setup")
    assert comp["auroc_high"].max() <= 1.0 and comp["pd_low"].min() >= 0.0
    assert comp.loc["3", "improvement_high"] <= 1.0
    assert comp.loc["3", "auroc_change_low"] >= -1.0 and comp.loc["3", "auroc_change_high"] <= 1.0


def test_best_tradeoff_prefers_the_fairest_setup_within_the_auroc_tolerance() -> None:
    comp = pd.DataFrame(
        {
            "setup": ["supervised", "0", "3", "1-first"],
            "improvement": [np.nan, 0.40, 0.25, 0.10],
            "auroc_change": [np.nan, -0.05, -0.005, 0.0],
        }
    )
    assert tables.best_tradeoff(comp) == "3"
    assert tables.best_tradeoff(comp, max_auroc_drop=0.1) == "0"
    # every setup over the tolerance: the fairest of all
    assert tables.best_tradeoff(comp.assign(auroc_change=[np.nan, -0.2, -0.3, -0.4])) == "0"
    assert tables.best_tradeoff(comp.iloc[:1]) is None


# ------------------------------------------------------------------------------------------- headline
def test_headline_fairer_with_five_seeds_states_size_interval_cost_and_seeds() -> None:
    ssl_pd = [p * 0.72 + d for p, d in zip(SUP_PD, [0.004, -0.003, 0.002, 0.0, -0.002], strict=True)]
    ssl_auc = [a - 0.009 for a in SUP_AUC]
    text = tables.headline(_summary({"supervised": (SUP_AUC, SUP_PD), "2-first-last": (ssl_auc, ssl_pd)}))
    mean_sup = np.mean(SUP_PD)
    rel = (mean_sup - np.mean(ssl_pd)) / mean_sup
    assert text.startswith(f"Setup 2-first-last reduced parity deviation by {100 * rel:.0f}% [95% CI ")
    assert "at -0.9 AUROC points" in text and "5 seeds." in text
    assert "not distinguishable" not in text and "one seed" not in text.lower()


def test_headline_says_not_distinguishable_when_the_interval_includes_zero() -> None:
    ssl_pd = [0.15, 0.30, 0.18, 0.28, 0.20]  # mean below supervised, but noisy
    text = tables.headline(_summary({"supervised": (SUP_AUC, SUP_PD), "0": (SUP_AUC, ssl_pd)}))
    assert "not distinguishable from supervised" in text
    assert "No SSL setup was distinguishably fairer." in text


def test_headline_says_ssl_made_things_worse() -> None:
    worse = [p * 1.5 + d for p, d in zip(SUP_PD, [0.01, -0.01, 0.0, 0.005, -0.005], strict=True)]
    text = tables.headline(_summary({"supervised": (SUP_AUC, SUP_PD), "3": (SUP_AUC, worse)}))
    assert text.startswith("No SSL setup was fairer than supervised: the best, 3, increased parity deviation")
    assert "SSL made fairness worse here." in text


def test_headline_with_one_seed_uses_the_bootstrap_interval_and_says_so() -> None:
    text = tables.headline(_summary({"supervised": ([0.84], [0.25]), "0": ([0.835], [0.15])}))
    # improvement 0.4, paired bootstrap interval [0.2, 0.5] from the hand-made columns
    assert "reduced parity deviation by 40% [95% CI 20% to 50%]" in text and "1 seed" in text
    assert "Only one seed was run" in text and "test-set resampling only" in text


def test_headline_with_one_seed_and_no_bootstrap_says_there_is_no_interval() -> None:
    text = tables.headline(_summary({"supervised": ([0.84], [0.25]), "0": ([0.835], [0.15])}, boot=None))
    assert "reduced parity deviation by 40% relative" in text and "[95% CI" not in text
    assert "no confidence interval" in text


def test_headline_names_what_is_missing() -> None:
    no_sup = tables.headline(_summary({"0": (SUP_AUC, SUP_PD), "3": (SUP_AUC, SUP_PD)}))
    assert no_sup.startswith("No supervised baseline in the results (setups: 0, 3)")
    assert "add 'supervised' to finetune.setups" in no_sup
    only_sup = tables.headline(_summary({"supervised": (SUP_AUC, SUP_PD)}))
    assert only_sup.startswith("Only the supervised baseline was run") and "add SSL setups" in only_sup
    assert tables.headline(pd.DataFrame()).startswith("No fine-tuning run has results yet")
    # SSL seeds that the supervised runs do not have
    s = _summary({"supervised": ([0.8], [0.2])})
    other = _summary({"0": ([0.8, 0.8], [0.1, 0.1])}).assign(seed=[5, 6])
    assert "shares a seed" in tables.headline(pd.concat([s, other], ignore_index=True))


def test_headline_notes_an_auroc_cost_beyond_the_tolerance() -> None:
    ssl_pd = [p * 0.7 for p in SUP_PD]
    text = tables.headline(
        _summary({"supervised": (SUP_AUC, SUP_PD), "0": ([a - 0.05 for a in SUP_AUC], ssl_pd)})
    )
    assert "Every SSL setup cost more than 1 AUROC point." in text and "at -5.0 AUROC points" in text


def test_summary_points_cover_verdicts_label_bias_ratio_and_caveats() -> None:
    s = _summary({"supervised": ([0.84], [0.25]), "0": ([0.835], [0.15])})
    bias = pd.DataFrame(
        {
            "attribute": ["age", "age", "sex"],
            "group": [">=65", "<65", "female"],
            "reference": ["<65", "<65", "male"],
            "is_reference": [False, True, False],
            "prevalence": [0.3, 0.2, 0.21],
            "disparate_impact": [1.5, 1.0, 1.05],
        }
    )
    ratios = pd.DataFrame(
        {"setup": ["0"], "ratio": [3.2], "largest_gap_attribute": ["race"], "smallest_gap_attribute": ["sex"]}
    )
    points = tables.summary_points(s, label_bias=bias, ratios=ratios, warnings=["w1", "w2"])
    text = " ".join(points)
    assert "fairer than supervised (interval above 0): 0" in text
    assert "age group '>=65'" in text and "disparate impact 1.50" in text and "outside" in text
    assert "3.2x" in text and "race" in text
    assert "one seed per setup" in text and "2 warning(s)" in text


def test_summary_table_is_compact_text_with_intervals() -> None:
    s = _summary({"supervised": ([0.84, 0.85], [0.25, 0.24]), "0": ([0.83, 0.84], [0.15, 0.16])})
    table = tables.summary_table(s)
    assert list(table.columns) == [
        "setup",
        "seeds",
        "AUROC [95% CI]",
        "parity deviation [95% CI]",
        "PD improvement vs supervised",
    ]
    rows = table.set_index("setup")
    assert rows.loc["supervised", "PD improvement vs supervised"] == "baseline"
    assert rows.loc["0", "PD improvement vs supervised"].startswith("+37% [")
    assert (
        rows.loc["0", "PD improvement vs supervised"].endswith("]")
        and "%," not in rows.loc["0", "PD improvement vs supervised"]
    )
    assert rows.loc["0", "AUROC [95% CI]"].startswith("0.835 [")
    assert rows.loc["0", "seeds"] == 2


# ------------------------------------------------------------------------------------ results tables
def _results(rows: list[tuple]) -> pd.DataFrame:
    cols = ["setup", "seed", "label", "kind", "attribute", "group", "reference_group", "n_group",
            "n_reference", "metric", "estimate", "ci_low", "ci_high", "reason"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def test_metric_table_collapses_seeds_like_an_independent_loop() -> None:
    rng = np.random.default_rng(1)
    rows = []
    for setup in ("supervised", "0"):
        for seed in range(4):
            for g in ("a", "b"):
                est = rng.uniform(0.5, 1.5)
                reason = "zero_denominator" if (g == "b" and seed == 3) else ""
                rows.append((setup, seed, "recorded", "fairness", "sex", g, "c", 10, 20, "disparate_impact",
                             np.nan if reason else est, est - 0.1, est + 0.1, reason))  # fmt: skip
                rows.append((setup, seed, "clean", "fairness", "sex", g, "c", 10, 20, "disparate_impact",
                             99.0, 98.0, 100.0, ""))  # fmt: skip
    res = _results(rows)
    table = tables.metric_table(res)
    assert len(table) == 4 and set(table["ci"]) == {"seeds"}
    for _, r in table.iterrows():
        sub = res[(res.setup == r.setup) & (res.group == r.group) & (res.label == "recorded")]
        vals = sub["estimate"].dropna().to_numpy()
        assert r["n_seeds"] == len(vals) and r["n_runs"] == 4
        assert r["estimate"] == pytest.approx(vals.mean())
        lo, hi = _t_ci(vals)
        assert r["ci_low"] == pytest.approx(max(lo, 0.0)) and r["ci_high"] == pytest.approx(hi)
        assert r["reason"] == ("zero_denominator" if r["group"] == "b" else "")
    assert tables.metric_table(res, label="clean")["estimate"].eq(99.0).all()


def test_metric_table_with_one_seed_keeps_the_bootstrap_interval() -> None:
    res = _results(
        [("0", 0, "recorded", "performance", "overall", "all", "", 100, 20, "auroc", 0.9, 0.85, 1.2, "")]
    )
    row = tables.metric_table(res).iloc[0]
    assert row["ci"] == "bootstrap" and row["ci_low"] == pytest.approx(0.85)
    assert row["ci_high"] == pytest.approx(1.0)  # clipped to the AUROC range


def test_auroc_gap_and_parity_cells_match_hand_computation() -> None:
    rows = []
    for seed, (fa, ma) in enumerate([(0.7, 0.8), (0.72, 0.78), (0.66, 0.8)]):
        base = ("0", seed, "recorded")
        nan = np.nan
        rows += [
            (*base, "performance", "sex", "female", "", 50, 10, "auroc", fa, nan, nan, ""),
            (*base, "performance", "sex", "male", "", 50, 10, "auroc", ma, nan, nan, ""),
            (*base, "performance", "overall", "all", "", 100, 20, "auroc", 0.9, nan, nan, ""),
            (*base, "fairness", "sex", "female", "male", 50, 50, "false_positive_rate_ratio",
             1.0 + 0.1 * (seed + 1), nan, nan, ""),
            (*base, "fairness", "sex", "worst", "best", 50, 50, "disparate_impact", 9.0, 0, 0, ""),
            (*base, "fairness", "sex", "female", "male", 50, 50, "statistical_parity_difference",
             0.3, nan, nan, ""),
        ]  # fmt: skip
    res = _results(rows)
    gap = tables.auroc_gap_table(res).iloc[0]
    gaps = [0.1, 0.06, 0.14]
    assert gap["gap"] == pytest.approx(np.mean(gaps)) and gap["n_seeds"] == 3
    assert (gap["best_group"], gap["worst_group"]) == ("male", "female")
    assert (gap["gap_low"], gap["gap_high"]) == pytest.approx(_t_ci(np.array(gaps)))
    cells = tables.parity_cells(res)
    assert list(cells["metric"]) == ["false_positive_rate_ratio"]  # not the worst row, not differences
    assert cells["deviation"].iloc[0] == pytest.approx(np.mean([0.1, 0.2, 0.3]))


def test_supervision_table_levels_and_frozen_layers() -> None:
    assert math.isnan(tables.frozen_level("supervised"))
    assert tables.frozen_level("0") == 0 and tables.frozen_level("1-middle") == 1
    assert tables.frozen_level("2-first-last") == 2 and tables.frozen_level("freeze:conv1,conv3") == 2
    assert math.isnan(tables.frozen_level("no-such-setup"))
    s = _summary({"supervised": ([0.8], [0.2]), "1-first": ([0.7], [0.1]), "3": ([0.6], [0.1])})
    gaps = pd.DataFrame({"setup": ["supervised", "3"], "attribute": ["sex", "sex"], "gap": [0.1, 0.05]})
    levels = tables.supervision_table(tables.setup_comparison(s), gaps)
    assert list(levels["level"]) == ["supervised", "1", "3"]
    assert list(levels["gap_sex"].fillna(-1)) == [0.1, -1, 0.05]


def test_stage4_tables_average_over_seeds() -> None:
    bw = pd.DataFrame(
        {
            "setup": ["0", "0"],
            "seed": [0, 1],
            "attribute": ["sex", "sex"],
            "best_group": ["m", "m"],
            "worst_group": ["f", "f"],
            "layer_a": ["conv1", "conv1"],
            "layer_b": ["conv2", "conv2"],
            "diff": [0.3, 0.1],
            "perm_diff_bound": [0.15, 0.15],
            "exceeds": [True, False],
        }
    )
    row = tables.best_worst_table(bw).iloc[0]
    assert row["diff"] == pytest.approx(0.2) and bool(row["exceeds"]) and row["exceeds_share"] == 0.5
    ratio = pd.DataFrame(
        {
            "setup": ["0"] * 4,
            "seed": [0, 0, 1, 1],
            "attribute": ["race", "sex", "race", "sex"],
            "best_group": ["w", "m", "w", "m"],
            "worst_group": ["b", "f", "b", "f"],
            "perf_gap": [0.2, 0.05, 0.3, 0.07],
            "dissimilarity": [0.2, 0.1, 0.4, 0.1],
            "n_exceeding": [3, 1, 5, 1],
            "n_layer_pairs": [9] * 4,
            "ratio": [2.0, 2.0, 4.0, 4.0],
            "spearman": [np.nan] * 4,
        }
    )
    d = tables.dissimilarity_table(ratio).set_index("attribute")
    assert d.loc["race", "dissimilarity"] == pytest.approx(0.3) and d.loc["race", "ratio"] == pytest.approx(
        3.0
    )
    assert d.loc["race", "largest_gap_attribute"] == "race" and d.loc["sex", "n_seeds"] == 2
    assert tables.cka_mean(pd.DataFrame()).empty and tables.dissimilarity_table(pd.DataFrame()).empty


def test_audit_tables_keep_the_test_counts_and_recover_split_names() -> None:
    groups = pd.DataFrame(
        {
            "attribute": ["sex"] * 4,
            "group": ["f", "m", "f", "m"],
            "split": ["all", "all", "test", "test"],
            "windows": [40, 60, 10, 12],
            "positives": [10, 12, 3, 4],
            "negatives": [30, 48, 7, 8],
            "prevalence": [0.25, 0.2, 0.3, 0.33],
            "disparate_impact": [1.25, 1.0, 0.9, 1.0],
            "is_reference": [False, True, False, True],
        }
    )
    lb = tables.label_bias_table(groups)
    assert list(lb["reference"]) == ["m", "m"] and list(lb["test_windows"]) == [10, 12]
    legacy = pd.DataFrame({"windows": [100, 40], "subjects": [10, 4]})  # sizes.csv without its split column
    assert list(tables.split_table(legacy, groups)["split"]) == ["all", "test"]
    assert tables.split_table(pd.DataFrame(), groups).empty


def test_grid_variants_are_compared_separately_never_pooled() -> None:
    a = _summary({"supervised": (SUP_AUC, SUP_PD), "0": (SUP_AUC, [p * 0.7 for p in SUP_PD])})
    b = _summary({"supervised": (SUP_AUC, SUP_PD), "0": (SUP_AUC, [p * 1.3 for p in SUP_PD])})
    both = pd.concat([a.assign(variant="lr=0.1"), b.assign(variant="lr=0.01")], ignore_index=True)
    comp = tables.setup_comparison(both)
    assert list(comp.columns[:2]) == ["variant", "setup"] and len(comp) == 4
    alone = tables.setup_comparison(a).set_index("setup")
    mine = comp[comp["variant"] == "lr=0.1"].set_index("setup")
    assert mine.loc["0", "improvement"] == pytest.approx(alone.loc["0", "improvement"])
    text = tables.headline(both)
    assert text.startswith("[lr=0.1] Setup 0 reduced") and "[lr=0.01] No SSL setup was fairer" in text
    assert list(tables.summary_table(both)["variant"]) == ["lr=0.1"] * 2 + ["lr=0.01"] * 2
    points = tables.summary_points(both)
    assert points[0].startswith("[lr=0.1] Parity deviation by setup") and points[1].startswith("[lr=0.01]")
    # one variant (every table of a run folder carries the column): no change
    single = a.assign(variant="base")
    assert tables.headline(single) == tables.headline(a)
    assert list(tables.summary_table(single).columns) == list(tables.summary_table(a).columns)
