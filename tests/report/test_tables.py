"""The report's tables and plain-language verdict, on hand-made tables with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fairssl.report import tables


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
def test_setup_comparison_orders_setups_marks_the_baseline_and_keeps_each_rows_numbers(
    make_comparison,
) -> None:
    stored = make_comparison(
        {
            "3": (SUP_AUC, [p * 1.2 for p in SUP_PD]),
            "supervised": (SUP_AUC, SUP_PD),
            "custom": (SUP_AUC, [p * 0.9 for p in SUP_PD]),
            "0": ([a - 0.01 for a in SUP_AUC], [p * 0.7 for p in SUP_PD]),
        }
    )
    shuffled = stored.sample(frac=1.0, random_state=3).reset_index(drop=True)
    comp = tables.setup_comparison(shuffled)
    assert list(comp["setup"]) == ["supervised", "0", "3", "custom"]  # level of supervision, unknown last
    assert list(comp.columns) == tables.COMPARISON_COLUMNS
    assert comp["verdict"].iloc[0] == "baseline" and list(comp["kind"]) == ["baseline", "ssl", "ssl", "ssl"]
    # each row keeps its own numbers and verdict (only the order changes)
    mine = stored.set_index("setup")
    for r in comp.to_dict("records"):
        assert r["improvement"] == pytest.approx(mine.loc[r["setup"], "improvement"], nan_ok=True)
        assert r["parity_deviation"] == pytest.approx(mine.loc[r["setup"], "parity_deviation"])
        if r["setup"] != "supervised":
            assert r["verdict"] == mine.loc[r["setup"], "verdict"]
    pd.testing.assert_frame_equal(comp, tables.setup_comparison(stored))


def test_setup_comparison_without_a_baseline_says_so_and_reads_nothing_else() -> None:
    comp = tables.setup_comparison(pd.DataFrame({"setup": ["3", "0"], "parity_deviation": [0.2, 0.1]}))
    assert list(comp["setup"]) == ["0", "3"] and set(comp["verdict"]) == {"no_baseline"}
    assert tables.setup_comparison(pd.DataFrame()).empty
    assert list(tables.setup_comparison(pd.DataFrame()).columns) == tables.COMPARISON_COLUMNS


def test_setup_comparison_keeps_a_grids_variant_column_first(make_comparison) -> None:
    a = make_comparison({"supervised": (SUP_AUC, SUP_PD), "0": (SUP_AUC, [p * 0.7 for p in SUP_PD])})
    b = make_comparison({"0": (SUP_AUC, [p * 1.3 for p in SUP_PD]), "supervised": (SUP_AUC, SUP_PD)}, seed=1)
    both = pd.concat([a.assign(variant="lr=0.1"), b.assign(variant="lr=0.01")], ignore_index=True)
    comp = tables.setup_comparison(both)
    assert list(comp.columns) == ["variant", *tables.COMPARISON_COLUMNS]
    assert list(zip(comp["variant"], comp["setup"], comp["verdict"], strict=True))[::2] == [
        ("lr=0.1", "supervised", "baseline"),
        ("lr=0.01", "supervised", "baseline"),
    ]
    for name, own in (("lr=0.1", a), ("lr=0.01", b)):  # never pooled: each variant's rows are its own
        got = comp[comp["variant"] == name].drop(columns="variant").reset_index(drop=True)
        pd.testing.assert_frame_equal(got, tables.setup_comparison(own))


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
    # a random-init control is never the headline's setup, however much it lowers PD
    with_control = pd.concat(
        [
            comp.assign(kind=["baseline", "ssl", "ssl", "ssl"]),
            pd.DataFrame(
                {"setup": ["random:3"], "kind": ["control"], "improvement": [0.9], "auroc_change": [0.0]}
            ),
        ],
        ignore_index=True,
    )
    assert tables.best_tradeoff(with_control) == "3"


# ------------------------------------------------------------------------ headline on the evaluation's table
# The exact sentences of every verdict are pinned in test_verdict_sentences.py; here the headline reads the
# per-setup table of a real study_inference over hand-made per-seed values.
def _pct(v: float) -> str:
    return f"{abs(round(100 * v))}%"


def test_headline_fairer_with_five_seeds_quotes_the_evaluations_numbers(make_comparison) -> None:
    ssl_pd = [p * 0.72 + d for p, d in zip(SUP_PD, [0.004, -0.003, 0.002, 0.0, -0.002], strict=True)]
    ssl_auc = [a - 0.009 + d for a, d in zip(SUP_AUC, [0.002, -0.001, 0.0, 0.001, -0.002], strict=True)]
    comp = make_comparison({"supervised": (SUP_AUC, SUP_PD), "2-first-last": (ssl_auc, ssl_pd)})
    row, sup = comp.iloc[1], comp.iloc[0]
    assert row["verdict"] == "fairer" and row["n_pairs"] == 5 and row["family_size"] == 2
    text = tables.headline(comp)
    assert text.startswith(
        f"Setup 2-first-last was fairer than supervised: parity deviation {row['parity_deviation']:.3f} vs "
        f"{sup['parity_deviation']:.3f}, {_pct(row['improvement'])} lower "
        f"[{round(100 * row['pd_change_level'], 2):g}% CI {_pct(row['improvement_low'])} to "
        f"{_pct(row['improvement_high'])} lower], "
    )
    assert row["pd_change_p"] < 0.001
    assert text.endswith("; 5 seeds; Holm correction over 2 tests at alpha 0.05, adjusted p < 0.001.")
    assert ("at a cost of" in text) == (row["auroc_verdict"] == "less_accurate")


def test_headline_says_not_distinguishable_when_the_corrected_interval_includes_zero(make_comparison) -> None:
    ssl_pd = [0.15, 0.30, 0.18, 0.28, 0.20]  # mean below supervised, but noisy
    comp = make_comparison({"supervised": (SUP_AUC, SUP_PD), "0": (SUP_AUC, ssl_pd)})
    row = comp.iloc[1]
    assert row["verdict"] == "not_distinguishable"
    assert row["improvement_low"] < 0 < row["improvement_high"]
    text = tables.headline(comp)
    assert text.startswith("Setup 0 was not distinguishable from supervised in parity deviation: ")
    assert f"this study could detect a parity-deviation change of {_pct(row['mde_relative'])} or more" in text
    assert text.endswith(" No SSL setup was distinguishably fairer or less fair.")


def test_headline_says_ssl_made_things_worse(make_comparison) -> None:
    worse = [p * 1.5 + d for p, d in zip(SUP_PD, [0.01, -0.01, 0.0, 0.005, -0.005], strict=True)]
    comp = make_comparison({"supervised": (SUP_AUC, SUP_PD), "3": (SUP_AUC, worse)})
    assert comp.iloc[1]["verdict"] == "less_fair"
    text = tables.headline(comp)
    assert text.startswith(
        f"Setup 3 was less fair than supervised: parity deviation {comp.iloc[1]['parity_deviation']:.3f} vs "
        f"{comp.iloc[0]['parity_deviation']:.3f}, {_pct(comp.iloc[1]['improvement'])} higher ["
    )


def test_headline_with_one_seed_gives_no_verdict(make_comparison) -> None:
    comp = make_comparison({"supervised": ([0.84], [0.25]), "0": ([0.835], [0.15])})
    assert comp.iloc[1]["verdict"] == "one_seed"
    text = tables.headline(comp)
    # the interval covers test sampling only, at 1 - alpha: no family, no correction
    assert text.startswith("Setup 0: parity deviation 0.150 vs 0.250, 40% lower [95% CI ")
    assert "; 1 seed. No verdict: with one seed per setup the interval covers test-set sampling only" in text


def test_headline_without_resamples_has_no_interval_even_with_several_seeds(make_comparison) -> None:
    for n in (1, 3):
        comp = make_comparison(
            {"supervised": ([0.84] * n, [0.25, 0.24, 0.26][:n]), "0": ([0.835] * n, [0.15, 0.16, 0.14][:n])},
            n_boot=0,
        )
        assert comp.iloc[1]["verdict"] == "no_interval"
        assert tables.headline(comp) == (
            f"Setup 0: parity deviation 0.150 vs 0.250, 40% lower, with an AUROC change of -0.5 points; "
            f"{n} seed{'s' if n > 1 else ''}. No verdict: the change has no interval (evaluation.n_boot = 0, "
            "or too few resamples of test subjects had a defined value)."
        )


def test_headline_names_what_is_missing(make_comparison) -> None:
    no_sup = tables.headline(make_comparison({"0": (SUP_AUC, SUP_PD), "3": (SUP_AUC, SUP_PD)}))
    assert no_sup.startswith("No supervised baseline in the results (setups: 0, 3)")
    assert "add 'supervised' to finetune.setups" in no_sup
    only_sup = tables.headline(make_comparison({"supervised": (SUP_AUC, SUP_PD)}))
    assert only_sup.startswith("Only the supervised baseline was run") and "add SSL setups" in only_sup
    assert tables.headline(pd.DataFrame()).startswith("No fine-tuning run has results yet")
    # SSL seeds that the supervised runs do not have
    unpaired = make_comparison(
        {"supervised": ([0.8], [0.2]), "0": ([0.8, 0.8], [0.1, 0.1])}, seeds={"0": [5, 6]}
    )
    assert "shares a seed" in tables.headline(unpaired)


def test_summary_points_cover_verdicts_label_bias_ratio_and_caveats(make_comparison) -> None:
    comp = make_comparison({"supervised": ([0.84], [0.25]), "0": ([0.835], [0.15])})
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
    points = tables.summary_points(comp, label_bias=bias, ratios=ratios, warnings=["w1", "w2"])
    text = " ".join(points)
    assert (
        points[0]
        == "Parity deviation by setup — no verdict, one seed (intervals cover test sampling only): 0."
    )
    assert "No change was tested (one seed per setup or no intervals), so there are no verdicts." in text
    assert (
        "Intervals cover test subjects; they do not cover training randomness (one seed) and the data" in text
    )
    assert "age group '>=65'" in text and "disparate impact 1.50" in text and "outside" in text
    assert "3.2x" in text and "race" in text
    assert "one seed per setup" in text and "2 warning(s)" in text


def test_summary_table_is_compact_text_with_intervals(make_comparison) -> None:
    comp = make_comparison({"supervised": ([0.84, 0.85], [0.25, 0.24]), "0": ([0.83, 0.84], [0.15, 0.16])})
    table = tables.summary_table(comp)
    assert list(table.columns) == [
        "setup",
        "seeds",
        "AUROC [95% CI]",
        "parity deviation [95% CI]",
        "PD improvement vs supervised [corrected CI]",
    ]
    rows = table.set_index("setup")
    r = comp.set_index("setup").loc["0"]
    assert rows.loc["supervised", "PD improvement vs supervised [corrected CI]"] == "baseline"
    assert rows.loc["0", "PD improvement vs supervised [corrected CI]"] == (
        f"+{round(100 * r['improvement'])}% [{round(100 * r['improvement_low'])}, "
        f"{round(100 * r['improvement_high'])}]"
    )
    assert (
        rows.loc["0", "AUROC [95% CI]"] == f"{r['auroc']:.3f} [{r['auroc_low']:.3f}, {r['auroc_high']:.3f}]"
    )
    assert rows.loc["0", "seeds"] == 2
    # never "-0": a change that rounds to 0 reads 0
    flat = comp.assign(improvement=[np.nan, -0.003], improvement_low=[np.nan, -0.004])
    assert (
        tables.summary_table(flat)
        .iloc[1]["PD improvement vs supervised [corrected CI]"]
        .startswith("0% [0, ")
    )
    assert list(tables.summary_table(comp.assign(alpha=0.1)).columns)[2] == "AUROC [90% CI]"


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


def test_supervision_table_levels_and_frozen_layers(make_comparison) -> None:
    assert math.isnan(tables.frozen_level("supervised"))
    assert tables.frozen_level("0") == 0 and tables.frozen_level("1-middle") == 1
    assert tables.frozen_level("2-first-last") == 2 and tables.frozen_level("freeze:conv1,conv3") == 2
    assert math.isnan(tables.frozen_level("no-such-setup"))
    assert math.isnan(tables.frozen_level("random:1-first"))  # a control is not a level of supervision
    comp = make_comparison(
        {
            "supervised": ([0.8], [0.2]),
            "1-first": ([0.7], [0.1]),
            "random:1-first": ([0.65], [0.15]),
            "3": ([0.6], [0.1]),
        }
    )
    gaps = pd.DataFrame({"setup": ["supervised", "3"], "attribute": ["sex", "sex"], "gap": [0.1, 0.05]})
    levels = tables.supervision_table(tables.setup_comparison(comp), gaps)
    assert list(levels["level"]) == ["supervised", "1", "3"]
    assert list(levels["auroc"]) == pytest.approx([0.8, 0.7, 0.6])  # one seed: the run's value
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


def test_grid_variants_are_compared_separately_never_pooled(make_comparison) -> None:
    a = make_comparison({"supervised": (SUP_AUC, SUP_PD), "0": (SUP_AUC, [p * 0.7 for p in SUP_PD])})
    b = make_comparison({"supervised": (SUP_AUC, SUP_PD), "0": (SUP_AUC, [p * 1.3 for p in SUP_PD])}, seed=1)
    both = pd.concat([a.assign(variant="lr=0.1"), b.assign(variant="lr=0.01")], ignore_index=True)
    text = tables.headline(both)
    assert text == f"[lr=0.1] {tables.headline(a)} [lr=0.01] {tables.headline(b)}"
    assert text.startswith("[lr=0.1] Setup 0 was fairer") and "[lr=0.01] Setup 0 was less fair" in text
    table = tables.summary_table(both)
    assert list(table["variant"]) == ["lr=0.1"] * 2 + ["lr=0.01"] * 2
    pd.testing.assert_frame_equal(
        table[table["variant"] == "lr=0.01"].drop(columns="variant").reset_index(drop=True),
        tables.summary_table(b),
    )
    points = tables.summary_points(both)
    assert points[0] == "[lr=0.1] Parity deviation by setup — fairer than supervised (corrected test): 0."
    assert points[1] == "[lr=0.01] Parity deviation by setup — less fair than supervised (corrected test): 0."
    # one variant (every table of a run folder carries the column): no change
    single = a.assign(variant="base")
    assert tables.headline(single) == tables.headline(a)
    assert list(tables.summary_table(single).columns) == list(tables.summary_table(a).columns)
