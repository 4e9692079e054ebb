"""Study-level inference: interval components, corrected levels, power and verdict rules (hand oracles).

Every expected number is computed here from its textbook formula (numpy/scipy), never by calling the
function under test a second way. The study-level tests build :class:`ModelDraws` by hand: draws are the
plug-in values plus a centred noise vector per (setup, quantity), so the bootstrap bias is exactly 0 and
the test-sampling variance is whatever the noise is scaled to.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fairssl.errors import ConfigError, DataError
from fairssl.evaluation.inference import (
    VERDICTS,
    InferenceSettings,
    StudyDraws,
    components,
    study_inference,
)
from fairssl.evaluation.resampling import ModelDraws
from fairssl.evaluation.testing import (
    CORRECTIONS,
    adjust_pvalues,
    corrected_levels,
    critical_value,
    minimum_detectable,
    seeds_needed,
)

NON_NULL = {"fairer", "less_fair", "more_accurate", "less_accurate"}
QUANTITIES = ("auroc", "parity_deviation")


# ------------------------------------------------------------------------------------------- components
def _draws_with_means(boot: list[float], offsets: list[float]) -> np.ndarray:
    """(B, n) draws whose mean over seeds in resample b is boot[b] (offsets sum to 0)."""
    assert abs(sum(offsets)) < 1e-15
    return np.asarray(boot)[:, None] + np.asarray(offsets)[None, :]


def test_components_hand_computed_small_case() -> None:
    # values 1, 2, 3: mean 2, s^2 = 1; per-resample means 1.9, 2.1, 2.2, 2.0: mean 2.05 (bias 0.05),
    # V_test = (0.15^2 + 0.05^2 + 0.15^2 + 0.05^2) / 3 = 0.05 / 3; SE^2 = 0.05/3 + 1/3 = 0.35;
    # df = n - 1 = 2 (conservative; Welch-Satterthwaite would give 2.205)
    c = components(np.array([1.0, 2.0, 3.0]), _draws_with_means([1.9, 2.1, 2.2, 2.0], [-0.5, 0.0, 0.5]))
    assert c.n == 3 and c.valid_fraction == 1.0
    assert c.mean == pytest.approx(2.0)
    assert c.bias == pytest.approx(0.05)
    assert c.estimate == pytest.approx(1.95)
    assert c.var_test == pytest.approx(0.05 / 3)
    assert c.var_seeds == pytest.approx(1.0)
    assert c.se == pytest.approx(np.sqrt(0.35))
    assert c.df == pytest.approx(2.0)
    half = stats.t.ppf(0.95, 2.0) * np.sqrt(0.35)
    assert c.interval(0.90) == pytest.approx((1.95 - half, 1.95 + half))
    assert c.p_value() == pytest.approx(2 * stats.t.sf(1.95 / np.sqrt(0.35), 2.0))


def test_components_match_direct_numpy_computation() -> None:
    rng = np.random.default_rng(7)
    values = np.array([0.21, 0.26, 0.19, 0.24])
    draws = values[None, :] + 0.01 + rng.normal(0.0, 0.03, (50, 4))  # biased up by ~0.01
    c = components(values, draws)
    boot = draws.mean(axis=1)
    mean, n = values.mean(), values.size
    bias = boot.mean() - mean
    v_test, v_seeds = boot.var(ddof=1), values.var(ddof=1)
    se = np.sqrt(v_test + v_seeds / n)
    df = n - 1
    assert (c.mean, c.bias, c.var_test, c.var_seeds) == pytest.approx((mean, bias, v_test, v_seeds))
    assert c.estimate == pytest.approx(mean - bias)
    assert (c.se, c.df) == pytest.approx((se, df))
    for level in (0.8, 0.95, 0.99):
        half = stats.t.ppf((1 + level) / 2, df) * se
        assert c.interval(level) == pytest.approx((mean - bias - half, mean - bias + half))
    assert c.p_value() == pytest.approx(2 * stats.t.sf(abs(mean - bias) / se, df))
    assert c.df == n - 1  # conservative: the seeds' degrees of freedom


def test_components_one_seed_is_test_sampling_only_with_normal_quantiles() -> None:
    draws = np.array([[0.30], [0.34], [0.26], [0.32], [0.28]])  # mean 0.30, var 0.001
    c = components(np.array([0.29]), draws)
    assert c.n == 1 and np.isnan(c.var_seeds)
    assert c.bias == pytest.approx(0.01) and c.estimate == pytest.approx(0.28)
    assert c.se == pytest.approx(np.sqrt(0.001)) and np.isinf(c.df)
    half = stats.norm.ppf(0.975) * np.sqrt(0.001)
    assert c.interval(0.95) == pytest.approx((0.28 - half, 0.28 + half))
    assert c.p_value() == pytest.approx(2 * stats.norm.sf(0.28 / np.sqrt(0.001)))


def test_components_equal_seeds_keep_the_seeds_df() -> None:
    c = components(np.array([0.5, 0.5, 0.5]), _draws_with_means([0.4, 0.6, 0.5], [0.1, -0.2, 0.1]))
    assert c.var_seeds == 0.0 and c.df == 2.0  # no spread seen in 3 seeds is no proof of none
    assert c.se == pytest.approx(0.1)


def test_components_nan_seeds_and_resamples_are_left_out() -> None:
    values = np.array([1.0, np.nan, 3.0])
    draws = np.array([[1.0, 9.0, 3.0], [np.nan, 9.0, np.nan], [1.5, 9.0, 2.5], [2.0, 9.0, 4.0]])
    c = components(values, draws)
    boot = np.array([2.0, 2.0, 3.0])  # seed 1 dropped; resample 1 (all kept seeds NaN) dropped
    assert c.n == 2 and c.valid_fraction == pytest.approx(0.75)
    assert c.bias == pytest.approx(boot.mean() - 2.0)
    assert c.var_test == pytest.approx(boot.var(ddof=1))
    assert c.var_seeds == pytest.approx(2.0)
    few = components(np.array([1.0]), np.array([[1.0], [np.nan], [np.nan], [1.2]]), min_valid_fraction=0.6)
    assert np.isnan(few.var_test) and np.isnan(few.bias) and np.isnan(few.se)
    assert np.isnan(few.p_value())
    assert components(np.array([np.nan, np.nan]), np.ones((3, 2))).n == 0


def test_critical_value_t_and_normal() -> None:
    assert float(critical_value(0.95, np.inf)) == pytest.approx(stats.norm.ppf(0.975))
    assert float(critical_value(0.95, 4.0)) == pytest.approx(stats.t.ppf(0.975, 4.0))
    out = critical_value(np.array([0.9, 0.99]), np.array([np.inf, 2.5]))
    assert out == pytest.approx([stats.norm.ppf(0.95), stats.t.ppf(0.995, 2.5)])


# ------------------------------------------------------------------------- corrections and their levels
def test_holm_levels_and_adjusted_p_hand_example() -> None:
    # sorted: 0.005 vs 0.05/4 rejects; 0.01 vs 0.05/3 rejects; 0.03 vs 0.05/2 fails: Holm stops at step 3
    p = np.array([0.01, 0.04, 0.03, 0.005])
    assert adjust_pvalues(p, method="holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert corrected_levels(p, alpha=0.05, method="holm") == pytest.approx(
        [1 - 0.05 / 3, 1 - 0.05 / 2, 1 - 0.05 / 2, 1 - 0.05 / 4]
    )
    assert adjust_pvalues(p, method="bonferroni") == pytest.approx([0.04, 0.16, 0.12, 0.02])
    assert corrected_levels(p, alpha=0.05, method="bonferroni") == pytest.approx([1 - 0.05 / 4] * 4)
    assert corrected_levels(p, alpha=0.05, method="none") == pytest.approx([0.95] * 4)
    assert adjust_pvalues(p, method="none") == pytest.approx(p)


def test_nan_p_values_are_out_of_the_family() -> None:
    p = np.array([0.01, np.nan, 0.02])
    assert adjust_pvalues(p, method="holm") == pytest.approx([0.02, np.nan, 0.02], nan_ok=True)
    assert corrected_levels(p, alpha=0.05, method="holm") == pytest.approx([1 - 0.05 / 2, 0.95, 0.95])
    assert corrected_levels(p, alpha=0.05, method="bonferroni") == pytest.approx([0.975, 0.95, 0.975])


def test_tied_p_values() -> None:
    p = np.array([0.02, 0.02, 0.5])  # Holm: 0.02 < 0.05/3? no: nothing rejected, all at level 1 - 0.05/3
    assert corrected_levels(p, alpha=0.05, method="holm") == pytest.approx([1 - 0.05 / 3] * 3)
    assert np.all(adjust_pvalues(p, method="holm") >= 0.05)
    p = np.array([0.01, 0.01, 0.5])  # 0.01 < 0.05/3 and 0.01 < 0.05/2: both rejected, 0.5 not
    assert corrected_levels(p, alpha=0.05, method="holm") == pytest.approx([1 - 0.05 / 3, 1 - 0.05 / 2, 0.95])
    assert adjust_pvalues(p, method="holm") == pytest.approx([0.03, 0.03, 0.5])


@pytest.mark.parametrize("method", CORRECTIONS)
def test_interval_excludes_zero_exactly_when_adjusted_p_below_alpha(method: str) -> None:
    """The same normal test gives z, p = 2 sf(|z|) and the interval z -/+ q((1 + level)/2): the interval at
    the corrected level excludes 0 if and only if the adjusted p is below alpha, for every vector."""
    rng = np.random.default_rng(2024)
    checked = rejected = 0
    for _ in range(1500):
        m = int(rng.integers(1, 10))
        # a mix of nulls, clear effects and borderline statistics around the Holm/Bonferroni thresholds
        z = rng.normal(0.0, 1.0, m) + rng.choice([0.0, 2.0, 2.6, 3.2, 5.0], m)
        z *= rng.choice([-1.0, 1.0], m)
        p = 2 * stats.norm.sf(np.abs(z))
        if m > 2 and rng.random() < 0.2:
            drop = rng.random(m) < 0.3
            p[drop], z[drop] = np.nan, np.nan
        alpha = float(rng.choice([0.01, 0.05, 0.1, 0.25]))
        levels = corrected_levels(p, alpha=alpha, method=method)
        adjusted = adjust_pvalues(p, method=method)
        for half in (stats.norm.ppf((1 + levels) / 2), critical_value(levels, np.inf)):
            excludes = (z - half > 0) | (z + half < 0)  # NaN z: False
            rejects = adjusted < alpha  # NaN: False
            assert np.array_equal(excludes, rejects), (method, alpha, p, levels, adjusted)
        assert np.all((levels >= 1 - alpha) & (levels < 1))
        checked += m
        rejected += int((adjusted < alpha).sum())
    assert 0.2 * checked < rejected < 0.8 * checked  # both outcomes were exercised


def test_holm_rejects_at_least_what_bonferroni_rejects() -> None:
    rng = np.random.default_rng(5)
    for _ in range(500):
        p = rng.uniform(0, 0.05, int(rng.integers(1, 8))) ** rng.uniform(0.5, 2)
        holm = adjust_pvalues(p, method="holm") < 0.05
        bonf = adjust_pvalues(p, method="bonferroni") < 0.05
        assert np.all(holm >= bonf)
        assert np.all(corrected_levels(p, method="holm") <= corrected_levels(p, method="bonferroni"))


def test_bad_policy_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        corrected_levels(np.array([0.1]), method="sidak")
    with pytest.raises(ConfigError):
        adjust_pvalues(np.array([0.1]), method="sidak")
    with pytest.raises(ConfigError):
        corrected_levels(np.array([0.1]), alpha=1.5)
    with pytest.raises(ConfigError):
        InferenceSettings(alpha=0.0)
    with pytest.raises(ConfigError):
        InferenceSettings(power=1.0)


# ------------------------------------------------------------------------------------------------ power
def test_minimum_detectable_hand_formula() -> None:
    se, df = np.array([0.01, 0.02]), np.array([4.0, np.inf])
    out = minimum_detectable(se, df, np.array([0.95, 0.99]), power=0.8)
    assert out[0] == pytest.approx((stats.t.ppf(0.975, 4) + stats.t.ppf(0.8, 4)) * 0.01)
    assert out[1] == pytest.approx((stats.norm.ppf(0.995) + stats.norm.ppf(0.8)) * 0.02)
    assert out[1] == pytest.approx((2.5758293 + 0.8416212) * 0.02)
    assert np.isnan(minimum_detectable(np.array([np.nan]), np.array([3.0]), np.array([0.95]))[0])
    with pytest.raises(ConfigError):
        minimum_detectable(se, df, np.array([0.95, 0.95]), power=1.2)


def _seeds_by_brute_force(
    effect: float, v_test: float, v_seeds: float, level: float, power: float = 0.8
) -> int:
    """The smallest n >= 2 whose t interval (n - 1 df) detects ``effect`` at ``power``, by trying n."""
    for n in range(2, 5000):
        crit = stats.t.ppf(0.5 + level / 2, n - 1) + stats.t.ppf(power, n - 1)
        if crit * np.sqrt(v_test + v_seeds / n) <= abs(effect):
            return n
    raise AssertionError("no n below 5000")


def test_seeds_needed_is_the_smallest_n_whose_t_interval_detects_the_effect() -> None:
    effect, v_test, v_seeds = 0.03, 1e-4, 4e-4
    n, reason = seeds_needed(
        np.array([effect]), np.array([v_test]), np.array([v_seeds]), np.array([0.95]), power=0.8
    )
    expected = _seeds_by_brute_force(effect, v_test, v_seeds, 0.95)
    assert n[0] == expected and reason[0] == ""
    # t quantiles on n - 1 df ask for more seeds than the normal formula's ceil(s^2 / room) = 28
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert expected > np.ceil(v_seeds / ((effect / z) ** 2 - v_test)) == 28
    # the power formula and the MDE agree: at n seeds with n - 1 df, MDE <= effect; at n - 1 it is not
    se = np.sqrt(v_test + v_seeds / np.array([expected, expected - 1]))
    mde = minimum_detectable(se, np.array([expected - 1.0, expected - 2.0]), np.array([0.95, 0.95]))
    assert mde[0] <= effect < mde[1]
    # the sign of the effect does not matter; a stricter level needs more seeds
    assert (
        seeds_needed(np.array([-effect]), np.array([v_test]), np.array([v_seeds]), np.array([0.95]))[0][0]
        == expected
    )
    loose, strict = seeds_needed(
        np.array([effect, effect]),
        np.array([5e-5, 5e-5]),
        np.array([v_seeds, v_seeds]),
        np.array([0.95, 0.99]),
    )[0]
    assert loose == _seeds_by_brute_force(effect, 5e-5, v_seeds, 0.95)
    assert strict == _seeds_by_brute_force(effect, 5e-5, v_seeds, 0.99) > loose


def test_seeds_needed_reasons() -> None:
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    effect = np.full(6, 0.03)
    v_test = np.array([1e-4, 1e-4, 2e-4, (0.03 / z) ** 2 - 1e-7, 1e-5, 0.0])
    v_seeds = np.array([np.nan, 0.0, 1e-4, 1e-4, 1e-12, 4e-4])
    n, reason = seeds_needed(effect, v_test, v_seeds, np.full(6, 0.95), max_seeds=500)
    assert list(reason) == ["one_seed", "", "test_set_limits", "more_than_500", "", ""]
    assert np.isnan(n[0]) and np.isnan(n[2]) and np.isnan(n[3])
    # seeds that never disagree still need enough of them for the t critical value to shrink
    assert n[1] == _seeds_by_brute_force(0.03, 1e-4, 0.0, 0.95) > 2
    assert n[4] == _seeds_by_brute_force(0.03, 1e-5, 1e-12, 0.95)
    assert n[5] == _seeds_by_brute_force(0.03, 0.0, 4e-4, 0.95)  # no test-sampling noise: s^2 / n alone


def test_seeds_needed_with_unknown_inputs_does_not_blame_the_test_set() -> None:
    n, reason = seeds_needed(
        np.array([np.nan, 0.03]), np.array([1e-4, np.nan]), np.array([1e-4, 1e-4]), np.array([0.95, 0.95])
    )
    assert np.all(np.isnan(n))
    assert "test_set_limits" not in set(reason)


# -------------------------------------------------------------------------------- study-level verdicts
def _centred(rng: np.random.Generator, b: int, sd: float) -> np.ndarray:
    x = rng.standard_normal(b)
    x = (x - x.mean()) / x.std(ddof=1)
    return x * sd


def _study(
    spec: dict[str, dict[str, list[float]]],
    *,
    sd: dict[tuple[str, str], float] | None = None,
    shift: dict[tuple[str, str], float] | None = None,
    n_boot: int = 400,
    seed: int = 0,
) -> StudyDraws:
    """Setups -> quantity -> per-seed values (seed s = position s). Draws: value + a centred noise vector
    per (setup, quantity), shared by its seeds, with SD ``sd`` (default 0.003) and mean ``shift`` (default
    0: no bootstrap bias)."""
    rng = np.random.default_rng(seed)
    sd, shift = sd or {}, shift or {}
    setups, seeds, values, draws = [], [], [], []
    for setup, per_q in spec.items():
        noise = {
            q: _centred(rng, n_boot, sd.get((setup, q), 0.003)) + shift.get((setup, q), 0.0)
            for q in QUANTITIES
        }
        for s in range(len(per_q["auroc"])):
            setups.append(setup)
            seeds.append(s)
            v = [per_q[q][s] for q in QUANTITIES]
            values.append(v)
            draws.append(np.stack([v[j] + noise[q] for j, q in enumerate(QUANTITIES)], axis=1))
    md = ModelDraws(
        quantities=QUANTITIES,
        values=np.array(values, dtype=float),
        draws=np.stack(draws, axis=1),
        n_subjects=120,
    )
    return StudyDraws(tuple(setups), tuple(seeds), md)


def _seeds(centre: float, jitter: tuple[float, ...] = (0.004, -0.003, -0.001)) -> list[float]:
    return [centre + j for j in jitter]


SPEC = {
    "supervised": {"auroc": _seeds(0.80), "parity_deviation": _seeds(0.20)},
    "fair": {
        "auroc": _seeds(0.80, (0.001, 0.0, -0.002)),
        "parity_deviation": _seeds(0.10, (0.002, -0.001, 0.0)),
    },
    "unfair": {"auroc": _seeds(0.74), "parity_deviation": _seeds(0.30, (0.0, 0.004, -0.003))},
    "same": {
        "auroc": _seeds(0.80, (0.003, -0.002, -0.002)),
        "parity_deviation": _seeds(0.20, (0.002, -0.004, 0.0)),
    },
    "chance": {"auroc": _seeds(0.50, (0.01, -0.01, 0.0)), "parity_deviation": _seeds(0.05)},
    "random:fair": {"auroc": _seeds(0.70), "parity_deviation": _seeds(0.20, (0.001, -0.003, 0.0))},
    "lonely": {"auroc": [0.80], "parity_deviation": [0.05]},
}


@pytest.fixture(scope="module")
def verdict_study():
    study = _study(SPEC, sd={("chance", "auroc"): 0.02})
    return study, study_inference(study)


def _row(changes: pd.DataFrame, setup: str, baseline: str, quantity: str) -> pd.Series:
    hit = changes[
        (changes["setup"] == setup) & (changes["baseline"] == baseline) & (changes["quantity"] == quantity)
    ]
    assert len(hit) == 1, (setup, baseline, quantity)
    return hit.iloc[0]


def test_verdict_rules(verdict_study) -> None:
    _, inf = verdict_study
    ch = inf.changes
    assert set(ch["verdict"]) <= set(VERDICTS)
    expected = {
        ("fair", "supervised"): ("fairer", "not_distinguishable"),
        ("unfair", "supervised"): ("less_fair", "less_accurate"),
        ("same", "supervised"): ("not_distinguishable", "not_distinguishable"),
        ("chance", "supervised"): ("at_chance", "less_accurate"),  # no fairness verdict at chance
        ("random:fair", "supervised"): ("not_tested", "not_tested"),  # control vs baseline: shown only
        ("fair", "random:fair"): ("fairer", "more_accurate"),  # SSL vs its control: in the family
        ("lonely", "supervised"): ("one_seed", "one_seed"),
    }
    for (setup, baseline), (pd_verdict, auroc_verdict) in expected.items():
        assert _row(ch, setup, baseline, "parity_deviation")["verdict"] == pd_verdict, (setup, baseline)
        assert _row(ch, setup, baseline, "auroc")["verdict"] == auroc_verdict, (setup, baseline)
    assert (
        _row(ch, "chance", "supervised", "parity_deviation")["reason"] == "auroc_interval_includes_0.5:chance"
    )
    # exactly these comparisons: no control rows for setups without a control, no baseline vs itself
    pairs = set(zip(ch["setup"], ch["baseline"], strict=True))
    assert pairs == set(expected)
    assert len(ch) == len(expected) * len(QUANTITIES)


def test_family_membership_size_and_holm(verdict_study) -> None:
    _, inf = verdict_study
    ch = inf.changes
    # SSL vs baseline (an at-chance setup stays in the family: its PD test counts in Holm's m, only its
    # verdict is withheld) and SSL vs its control; not the control vs baseline, not a one-seed setup
    members = {
        ("fair", "supervised"),
        ("unfair", "supervised"),
        ("same", "supervised"),
        ("chance", "supervised"),
        ("fair", "random:fair"),
    }
    in_family = ch[ch["in_family"].astype(bool)]
    assert set(zip(in_family["setup"], in_family["baseline"], strict=True)) == members
    assert len(in_family) == 2 * len(members) == inf.family["members"] == 10
    assert inf.family["correction"] == "holm" and inf.family["alpha"] == 0.05
    assert inf.family["n_resamples"] == 400 and inf.family["n_test_subjects"] == 120
    # Holm over exactly the in-family p values (m = 10)
    p = in_family["p_value"].to_numpy(dtype=float)
    assert np.all(np.isfinite(p))
    assert in_family["p_adjusted"].to_numpy(dtype=float) == pytest.approx(adjust_pvalues(p, method="holm"))
    assert in_family["level"].to_numpy(dtype=float) == pytest.approx(corrected_levels(p, alpha=0.05))
    out = ch[~ch["in_family"].astype(bool)]
    assert out["p_adjusted"].isna().all()
    assert out["level"].to_numpy(dtype=float) == pytest.approx(0.95)


def test_interval_and_verdict_never_disagree(verdict_study) -> None:
    _, inf = verdict_study
    for _, row in inf.changes[inf.changes["in_family"].astype(bool)].iterrows():
        excludes = row["ci_low"] > 0 or row["ci_high"] < 0
        if row["verdict"] in NON_NULL:
            assert excludes and row["p_adjusted"] < 0.05
        elif row["verdict"] == "not_distinguishable":
            assert not excludes and row["p_adjusted"] >= 0.05


def test_change_rows_match_hand_computation(verdict_study) -> None:
    study, inf = verdict_study
    md = study.draws
    idx_fair = [i for i, s in enumerate(study.setups) if s == "fair"]
    idx_sup = [i for i, s in enumerate(study.setups) if s == "supervised"]
    q = md.column("parity_deviation")
    d = md.values[idx_fair, q] - md.values[idx_sup, q]
    dd = md.draws[:, idx_fair, q] - md.draws[:, idx_sup, q]
    boot = dd.mean(axis=1)
    centre = d.mean() - (boot.mean() - d.mean())
    se = np.sqrt(boot.var(ddof=1) + d.var(ddof=1) / 3)
    df = 2.0  # n - 1
    row = _row(inf.changes, "fair", "supervised", "parity_deviation")
    assert row["se"] == pytest.approx(se) and row["df"] == pytest.approx(df)
    assert row["p_value"] == pytest.approx(2 * stats.t.sf(abs(centre) / se, df))
    half = stats.t.ppf((1 + row["level"]) / 2, df) * se
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((centre - half, centre + half))
    assert row["n_pairs"] == 3


def test_relative_change_sign_and_interval(verdict_study) -> None:
    _, inf = verdict_study
    sup = inf.estimates.set_index(["setup", "quantity"]).loc[("supervised", "parity_deviation")]
    for setup, sign in (("fair", 1), ("unfair", -1)):
        row = _row(inf.changes, setup, "supervised", "parity_deviation")
        base = row["baseline_estimate"]
        assert base == pytest.approx(np.mean(SPEC["supervised"]["parity_deviation"]))
        assert base == pytest.approx(sup["estimate"])  # no bootstrap bias here: plug-in = corrected
        # > 0 means lower PD (fairer): -change / baseline
        assert np.sign(row["relative"]) == sign
        assert row["relative"] == pytest.approx(-row["estimate"] / base)
        assert row["relative_low"] == pytest.approx(-row["ci_high"] / base)
        assert row["relative_high"] == pytest.approx(-row["ci_low"] / base)
        assert row["relative_low"] <= row["relative"] <= row["relative_high"] <= 1.0
    fair = _row(inf.changes, "fair", "supervised", "parity_deviation")
    assert fair["relative"] == pytest.approx(0.5, abs=0.01)  # PD 0.10 vs 0.20: 50% lower
    auroc = _row(inf.changes, "fair", "supervised", "auroc")
    assert np.isnan(auroc["relative"])  # relative changes are for PD only


def test_estimates_and_runs_tables(verdict_study) -> None:
    study, inf = verdict_study
    est = inf.estimates.set_index(["setup", "quantity"])
    assert len(est) == len(SPEC) * len(QUANTITIES)
    sup = est.loc[("supervised", "parity_deviation")]
    v = np.array(SPEC["supervised"]["parity_deviation"])
    se = np.sqrt(0.003**2 + v.var(ddof=1) / 3)
    assert sup["n_seeds"] == 3 and sup["se"] == pytest.approx(se)
    half = stats.t.ppf(0.975, 2) * se  # n - 1 degrees of freedom
    assert (sup["ci_low"], sup["ci_high"]) == pytest.approx((v.mean() - half, v.mean() + half))
    assert est.loc[("lonely", "auroc")]["n_seeds"] == 1
    assert len(inf.runs) == len(study.setups) * len(QUANTITIES)
    run = inf.runs[
        (inf.runs["setup"] == "fair") & (inf.runs["seed"] == 1) & (inf.runs["quantity"] == "auroc")
    ]
    assert run.iloc[0]["se"] == pytest.approx(0.003)  # one model: test sampling only


def test_setup_intervals_are_bias_corrected_and_change_intervals_are_not() -> None:
    study = _study(
        {k: SPEC[k] for k in ("supervised", "fair")},
        shift={("supervised", "parity_deviation"): 0.03},  # resampled PD sits 0.03 above the plug-in
    )
    inf = study_inference(study, InferenceSettings(correction="none"))
    sup = inf.estimates.set_index(["setup", "quantity"]).loc[("supervised", "parity_deviation")]
    assert sup["bias"] == pytest.approx(0.03)
    centre = np.mean(SPEC["supervised"]["parity_deviation"]) - 0.03
    assert (sup["ci_low"] + sup["ci_high"]) / 2 == pytest.approx(centre)
    row = _row(inf.changes, "fair", "supervised", "parity_deviation")
    # a paired change is centred on its plug-in value (the arms' biases largely cancel; correcting with
    # the noisy bias estimate made change intervals under-cover in the calibration simulations)
    plug_in = np.mean(np.subtract(SPEC["fair"]["parity_deviation"], SPEC["supervised"]["parity_deviation"]))
    assert row["bias"] == pytest.approx(-0.03)
    assert (row["ci_low"] + row["ci_high"]) / 2 == pytest.approx(plug_in)


def test_one_seed_study_gives_no_verdicts() -> None:
    spec = {
        k: {q: v[:1] for q, v in SPEC[k].items()} for k in ("supervised", "fair", "unfair", "random:fair")
    }
    inf = study_inference(_study(spec))
    ch = inf.changes
    assert inf.family["members"] == 0 and not ch["in_family"].astype(bool).any()
    assert set(ch["verdict"]) == {"one_seed"}
    assert ch["p_adjusted"].isna().all()
    assert np.isfinite(ch[["ci_low", "ci_high"]].to_numpy(dtype=float)).all()  # intervals still shown
    assert (ch["seeds_reason"] == "one_seed").all() and ch["seeds_needed"].isna().all()


def test_baseline_at_chance_blocks_every_fairness_verdict() -> None:
    spec = {
        "supervised": {"auroc": _seeds(0.50, (0.01, -0.01, 0.0)), "parity_deviation": _seeds(0.20)},
        "fair": SPEC["fair"],
        "unfair": SPEC["unfair"],
    }
    inf = study_inference(_study(spec, sd={("supervised", "auroc"): 0.02}))
    pd_rows = inf.changes[inf.changes["quantity"] == "parity_deviation"]
    assert set(pd_rows["verdict"]) == {"at_chance"}
    assert all("supervised" in r for r in pd_rows["reason"])
    auroc_rows = inf.changes[inf.changes["quantity"] == "auroc"]
    assert set(auroc_rows["verdict"]) == {"more_accurate"}  # AUROC itself is still tested


def _borderline_study(p_target: float = 0.02) -> tuple[StudyDraws, float]:
    """Setup ``a`` with a PD change whose two-sided p is ``p_target``; ``b``, ``c`` with none."""
    rng = np.random.default_rng(3)
    jitter = (0.01, -0.01, 0.0)  # s^2 = 1e-4
    sd_diff = 0.01  # V_test of the change: sd of (noise_a - noise_sup)
    se = np.sqrt(sd_diff**2 + 1e-4 / 3)
    df = 2.0  # n - 1
    shift = -se * stats.t.isf(p_target / 2, df)
    flat = [0.0, 0.0, 0.0]
    spec = {
        "supervised": {"auroc": _seeds(0.8, tuple(flat)), "parity_deviation": _seeds(0.2, tuple(flat))},
        "a": {"auroc": _seeds(0.8, jitter), "parity_deviation": _seeds(0.2 + shift, jitter)},
        "b": {"auroc": _seeds(0.8, jitter), "parity_deviation": _seeds(0.2, jitter)},
        "c": {"auroc": _seeds(0.8, jitter), "parity_deviation": _seeds(0.2, jitter)},
    }
    zero = {("supervised", q): 0.0 for q in QUANTITIES}  # baseline draws = plug-in: V_test from the setups
    study = _study(
        spec, sd={**zero, **{(s, q): sd_diff for s in "abc" for q in QUANTITIES}}, seed=int(rng.integers(99))
    )
    return study, 2 * stats.t.sf(abs(shift) / se, df)


def test_holm_uses_the_family_size() -> None:
    study, p = _borderline_study()
    assert 0.05 / 6 < p < 0.05  # significant alone, not after Holm over m = 6
    row = _row(study_inference(study).changes, "a", "supervised", "parity_deviation")
    assert row["p_value"] == pytest.approx(p)
    assert row["verdict"] == "not_distinguishable" and row["ci_low"] < 0 < row["ci_high"]
    assert row["level"] == pytest.approx(1 - 0.05 / 6)  # Holm stops at step 1: every level 1 - alpha/6
    # uncorrected, or a family of one hypothesis: the same change is significant
    loose = _row(
        study_inference(study, InferenceSettings(correction="none")).changes,
        "a",
        "supervised",
        "parity_deviation",
    )
    assert loose["verdict"] == "fairer" and loose["ci_high"] < 0
    only_a = StudyDraws(
        tuple(s for s in study.setups if s in ("supervised", "a")),
        tuple(sd for s, sd in zip(study.setups, study.seeds, strict=True) if s in ("supervised", "a")),
        ModelDraws(
            study.draws.quantities,
            study.draws.values[[i for i, s in enumerate(study.setups) if s in ("supervised", "a")]],
            study.draws.draws[:, [i for i, s in enumerate(study.setups) if s in ("supervised", "a")]],
            study.draws.n_subjects,
        ),
    )
    single = study_inference(only_a, InferenceSettings(family_metrics=("parity_deviation",)))
    assert single.family["members"] == 1
    row = _row(single.changes, "a", "supervised", "parity_deviation")
    assert row["p_adjusted"] == pytest.approx(p) and row["verdict"] == "fairer"
    assert _row(single.changes, "a", "supervised", "auroc")["verdict"] == "not_tested"


def test_unpaired_seeds_are_left_out_of_changes() -> None:
    spec = {"supervised": SPEC["supervised"], "fair": SPEC["fair"]}
    study = _study(spec)
    keep = [
        i
        for i, (s, sd) in enumerate(zip(study.setups, study.seeds, strict=True))
        if not (s == "fair" and sd == 2)
    ]
    sub = StudyDraws(
        tuple(study.setups[i] for i in keep),
        tuple(study.seeds[i] for i in keep),
        ModelDraws(QUANTITIES, study.draws.values[keep], study.draws.draws[:, keep], 120),
    )
    row = _row(study_inference(sub).changes, "fair", "supervised", "parity_deviation")
    assert row["n_pairs"] == 2
    paired = np.subtract(SPEC["fair"]["parity_deviation"][:2], SPEC["supervised"]["parity_deviation"][:2])
    assert row["estimate"] == pytest.approx(paired.mean())
    assert row["baseline_estimate"] == pytest.approx(np.mean(SPEC["supervised"]["parity_deviation"][:2]))


def test_study_draws_validation() -> None:
    md = ModelDraws(QUANTITIES, np.zeros((2, 2)), np.zeros((5, 2, 2)), 10)
    with pytest.raises(DataError):
        StudyDraws(("supervised",), (0, 1), md)
    with pytest.raises(DataError):
        StudyDraws(("supervised", "supervised"), (0, 0), md)
    with pytest.raises(DataError):
        md.column("accuracy")


def test_unknown_auroc_gives_no_fairness_verdict() -> None:
    spec = {
        "supervised": SPEC["supervised"],
        "x": {"auroc": [np.nan, np.nan, np.nan], "parity_deviation": _seeds(0.10)},
    }
    row = _row(study_inference(_study(spec)).changes, "x", "supervised", "parity_deviation")
    assert row["verdict"] == "at_chance"


def test_accuracy_matched_reference_tests_pd_only() -> None:
    spec = {
        "supervised": SPEC["supervised"],
        "fair": SPEC["fair"],
        "matched:fair": {"auroc": _seeds(0.80), "parity_deviation": _seeds(0.15, (0.001, -0.002, 0.0))},
    }
    inf = study_inference(_study(spec))
    ch = inf.changes
    assert set(zip(ch["setup"], ch["baseline"], strict=True)) == {
        ("fair", "supervised"),
        ("fair", "matched:fair"),
    }
    pd_row = _row(ch, "fair", "matched:fair", "parity_deviation")
    auroc_row = _row(ch, "fair", "matched:fair", "auroc")
    assert pd_row["in_family"] and pd_row["verdict"] == "fairer"  # PD 0.10 vs 0.15 at equal AUROC
    assert not auroc_row["in_family"] and auroc_row["verdict"] == "not_tested"  # equal by construction
    assert inf.family["members"] == 3  # fair vs supervised: PD, AUROC; fair vs matched: PD


def test_family_size_is_the_m_holm_corrects_over() -> None:
    study = _study({"supervised": SPEC["supervised"], "fair": SPEC["fair"]})
    sup = [i for i, s in enumerate(study.setups) if s == "supervised"]
    md = study.draws
    twin = StudyDraws(  # a setup identical to the baseline: its paired changes are 0 with SE 0
        (*study.setups, "twin", "twin", "twin"),
        (*study.seeds, 0, 1, 2),
        ModelDraws(
            QUANTITIES,
            np.concatenate([md.values, md.values[sup]]),
            np.concatenate([md.draws, md.draws[:, sup]], axis=1),
            md.n_subjects,
        ),
    )
    inf = study_inference(twin)
    tested = inf.changes["p_adjusted"].notna().sum()
    assert tested == 2  # fair vs supervised: PD and AUROC; twin's p values are NaN
    assert inf.family["members"] == tested


def test_shared_resamples_are_plug_ins_of_resampled_subjects() -> None:
    """Draw b of every model is that model's plug-in value on resample b of the test subjects (each drawn
    subject brings all its windows; resample b is the same for every model): the pairing the changes use."""
    from fairssl.evaluation.bootstrap import resample_indices
    from fairssl.evaluation.resampling import resample_models

    rng = np.random.default_rng(0)
    n_subjects, windows = 40, 6
    subjects = np.repeat(np.arange(n_subjects), windows)
    frame = pd.DataFrame(
        {
            "sex": np.where(rng.random(n_subjects) < 0.5, "f", "m")[subjects],
            "age": np.where(rng.random(n_subjects) < 0.4, "old", "young")[subjects],
        }
    )
    y = (rng.random(subjects.size) < 0.4).astype(int)
    scores = [np.clip(0.5 * y + rng.uniform(0, 0.6, y.size) + k * 0.05, 0, 1) for k in range(3)]
    reference = {"sex": "f", "age": "young"}
    md = resample_models(y, scores, frame, subjects, n_boot=4, seed=3, reference=reference, min_group_size=1)
    assert md.draws.shape == (4, 3, len(md.quantities)) and md.n_subjects == n_subjects
    assert md.quantities[:2] == QUANTITIES
    drawn = resample_indices(n_subjects, n_boot=4, seed=3)
    for b in (0, 3):
        rows = np.concatenate([np.flatnonzero(subjects == s) for s in drawn[b]])
        new_ids = np.repeat(np.arange(n_subjects), windows)  # a subject drawn twice counts twice
        direct = resample_models(
            y[rows],
            [s[rows] for s in scores],
            frame.iloc[rows].reset_index(drop=True),
            new_ids,
            n_boot=2,
            reference=reference,
            min_group_size=1,
        )
        assert direct.quantities == md.quantities
        assert md.draws[b] == pytest.approx(direct.values, nan_ok=True)
        assert not np.allclose(md.draws[b], md.values)  # a resample, not the full test set
