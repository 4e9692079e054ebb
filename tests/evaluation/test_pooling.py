"""Inference pooled over data replicates (:mod:`fairssl.evaluation.pooling`): arithmetic against scipy's
one-sample t test, the shared testing policy, and calibration by simulation.

The calibration reuses the data-generating process of ``benchmarks/inference_calibration.py``: every
simulated study draws a new test set of subjects and new training noise, i.e. it is one data replicate.
R such studies are pooled; the truth (population values) is computed exactly by the benchmark. Each
replicate has ONE seed, so within a replicate no verdict is possible (``one_seed``) while the pooled
comparison, whose spread across replicates holds test sampling and training noise together, is tested.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fairssl.evaluation.inference import InferenceSettings, StudyInference, study_inference
from fairssl.evaluation.pooling import UNIT, pool_replicates, replicate_components
from fairssl.evaluation.verdicts import setup_table

NON_NULL = {"fairer", "less_fair", "more_accurate", "less_accurate"}
R = 3  # replicates per pooled study
STUDIES = 100  # pooled studies


def _part(d_pd: float, d_auc: float, *, pd_sup: float = 0.2, auc_sup: float = 0.8) -> StudyInference:
    """A replicate's inference tables with given supervised values and ssl - supervised changes."""
    est = pd.DataFrame(
        [
            {"setup": s, "quantity": q, "estimate": v, "estimate_bc": v - 0.01 * (q == "parity_deviation")}
            for s, q, v in (
                ("supervised", "auroc", auc_sup),
                ("supervised", "parity_deviation", pd_sup),
                ("ssl", "auroc", auc_sup + d_auc),
                ("ssl", "parity_deviation", pd_sup + d_pd),
            )
        ]
    )
    ch = pd.DataFrame(
        [
            {"setup": "ssl", "baseline": "supervised", "quantity": "auroc", "estimate": d_auc},
            {"setup": "ssl", "baseline": "supervised", "quantity": "parity_deviation", "estimate": d_pd},
        ]
    )
    return StudyInference(est, ch, pd.DataFrame(), {"n_test_subjects": 50})


def test_pooled_change_is_the_one_sample_t_test_over_replicates() -> None:
    d_pd = np.array([-0.05, -0.02, -0.04, -0.03])
    d_auc = np.array([0.01, -0.02, 0.00, 0.02])
    parts = [_part(a, b) for a, b in zip(d_pd, d_auc, strict=True)]
    cfg = InferenceSettings(correction="none")
    pooled = pool_replicates(parts, cfg)
    row = pooled.changes.set_index("quantity").loc["parity_deviation"]
    ref = stats.ttest_1samp(d_pd, 0.0)
    se = d_pd.std(ddof=1) / 2
    half = stats.t.ppf(0.975, 3) * se
    assert row["estimate"] == pytest.approx(d_pd.mean())
    assert row["se"] == pytest.approx(se)
    assert row["df"] == 3
    assert row["p_value"] == pytest.approx(ref.pvalue)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((d_pd.mean() - half, d_pd.mean() + half))
    assert row["n_pairs"] == 4
    # relative change against the pooled supervised PD (plug-in mean 0.2), > 0 is fairer
    assert row["relative"] == pytest.approx(-d_pd.mean() / 0.2)
    assert row["verdict"] == ("fairer" if ref.pvalue < 0.05 else "not_distinguishable")
    # one setup's value: centred on the mean of the replicates' bias-corrected centres
    sup = pooled.estimates.set_index(["setup", "quantity"]).loc[("supervised", "parity_deviation")]
    assert sup["estimate"] == pytest.approx(0.2)
    assert sup["estimate_bc"] == pytest.approx(0.19)
    assert pooled.family["unit"] == UNIT and pooled.family["replicates"] == 4


def test_holm_over_the_pooled_family_and_replicates_needed() -> None:
    parts = [_part(a, b) for a, b in ((-0.05, 0.0), (-0.06, 0.01), (-0.04, -0.01))]
    pooled = pool_replicates(parts, InferenceSettings())  # Holm over {PD, AUROC}
    ch = pooled.changes.set_index("quantity")
    raw = ch["p_value"].to_numpy()
    order = np.argsort(raw)
    holm = np.maximum.accumulate(np.minimum(1.0, raw[order] * np.array([2, 1])))
    assert ch["p_adjusted"].to_numpy()[order] == pytest.approx(holm)
    assert set(ch["in_family"]) == {True}
    # replicates needed: the smallest n whose t test (n - 1 df) detects 15% of the supervised PD
    row = ch.loc["parity_deviation"]
    var = np.var([-0.05, -0.06, -0.04], ddof=1)
    n = int(row["seeds_needed"])
    crit = [stats.t.ppf(1 - (1 - row["level"]) / 2, k - 1) + stats.t.ppf(0.8, k - 1) for k in (n - 1, n)]
    assert crit[1] * np.sqrt(var / n) <= 0.15 * 0.2 < crit[0] * np.sqrt(var / (n - 1))
    table = setup_table(pooled)
    assert table.set_index("setup").loc["ssl", "replicates"] == 3


def test_replicate_components_drop_missing_replicates_and_need_two() -> None:
    comp = replicate_components(np.array([0.1, np.nan, 0.3]))
    assert comp.n == 2 and comp.mean == pytest.approx(0.2) and comp.df == 1
    one = replicate_components(np.array([0.1, np.nan]))
    assert one.n == 1 and not np.isfinite(one.var_seeds)
    pooled = pool_replicates([_part(-0.05, 0.0), _part(np.nan, np.nan)], InferenceSettings())
    assert set(pooled.changes["verdict"]) <= {"one_seed", "no_interval"}


def _load_benchmark() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "inference_calibration.py"
    spec = importlib.util.spec_from_file_location("inference_calibration_pooling", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def pooled_null() -> tuple[list[StudyInference], list[StudyInference], dict[str, dict[str, float]]]:
    """STUDIES pooled null studies of R one-seed replicates each (Holm policy and correction none)."""
    ic = _load_benchmark()
    design = ic.Design(n_seeds=1, tau=0.2, n_subjects=100, windows=10, effect=False, n_boot=20)
    tested, at95 = [], []
    for k in range(STUDIES):
        parts = [
            study_inference(ic.simulate_study(design, np.random.default_rng([31, k, r]), boot_seed=r))
            for r in range(R)
        ]
        tested.append(pool_replicates(parts, InferenceSettings()))
        at95.append(pool_replicates(parts, InferenceSettings(correction="none")))
    return tested, at95, ic.design_truths(design)


def test_pooled_null_verdicts_at_the_nominal_rate(pooled_null) -> None:
    """Two arms that differ only by training noise: a family gets a non-null verdict in at most the
    nominal 5% of pooled studies, within Monte-Carlo error (99% binomial band: <= 11 of 100)."""
    tested, _, _ = pooled_null
    flagged = sum(bool(set(p.changes["verdict"]) & NON_NULL) for p in tested)
    assert flagged <= int(stats.binom.isf(0.005, STUDIES, 0.05))
    # the pooled verdicts exist at all: with one seed per replicate nothing else could test
    for p in tested:
        family = p.changes[p.changes["quantity"].isin(["parity_deviation", "auroc"])]
        assert family["in_family"].all() and len(family) == 2


@pytest.mark.parametrize("quantity", ["parity_deviation", "auroc"])
def test_pooled_change_and_value_intervals_cover(pooled_null, quantity: str) -> None:
    """95% intervals (correction none) of the PD / AUROC change (truth 0) and of supervised PD / AUROC
    (exact population value) cover at 95% within Monte-Carlo error (99% band of Binomial(100, 0.95))."""
    _, at95, truths = pooled_null
    lo_band = int(stats.binom.ppf(0.005, STUDIES, 0.95))
    change = sum(
        bool(r["ci_low"] <= 0.0 <= r["ci_high"])
        for p in at95
        for r in p.changes[p.changes["quantity"] == quantity].to_dict("records")
    )
    value = 0
    for p in at95:
        row = p.estimates.set_index(["setup", "quantity"]).loc[("supervised", quantity)]
        value += bool(row["ci_low"] <= truths["supervised"][quantity] <= row["ci_high"])
    assert change >= lo_band, f"{change}/{STUDIES} change intervals covered 0"
    assert value >= lo_band, f"{value}/{STUDIES} value intervals covered the truth"


def test_report_words_pooled_rows_in_replicates() -> None:
    from fairssl.report.caveats import seed_caveat
    from fairssl.report.summary import power_text

    row = {
        "mde_relative": 0.4,
        "target_relative": 0.15,
        "n_pairs": 3,
        "power": 0.8,
        "seeds_needed": 9,
        "seeds_reason": "",
        "replicates": 3,
    }
    text = power_text(row)
    assert "With 3 replicates" in text and "about 9 replicates would detect" in text
    assert "seeds" not in power_text(row)
    assert "about 9 seeds would detect" in power_text({**row, "replicates": 1})
    comp = pd.DataFrame([{"n_seeds": 3, "replicates": 3}])
    assert "3 data replicates" in seed_caveat(comp) and "2 degrees of freedom" in seed_caveat(comp)
