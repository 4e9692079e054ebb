"""Difference in differences across studies: arithmetic against a hand computation, matching rules, and
calibration by simulation (type-I error, family-wise error, coverage)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fairssl.errors import DataError
from fairssl.evaluation.did import DID_COLUMNS, baseline_kind, difference_in_differences


def _row(setup: str, baseline: str, est: float, se: float, df: float, n: int = 4, **kw: object) -> dict:
    return {
        "setup": setup,
        "baseline": baseline,
        "quantity": kw.pop("quantity", "parity_deviation"),
        "estimate_bc": est,
        "se": se,
        "df": df,
        "n_pairs": n,
        "verdict": kw.pop("verdict", "not_distinguishable"),
        **kw,
    }


def test_baseline_kinds() -> None:
    assert baseline_kind("3", "supervised") == "supervised"
    assert baseline_kind("3", "matched:3") == "matched"
    assert baseline_kind("3", "checkpoint:3") == "checkpoint"
    assert baseline_kind("3", "random:3") == "control"
    assert baseline_kind("random:3", "supervised") == ""  # a control against supervised is not a DiD row
    assert baseline_kind("3", "random:2-first-last") == ""


def test_arithmetic_and_holm_against_a_hand_computation() -> None:
    bias = pd.DataFrame(
        [
            _row("0", "supervised", -0.10, 0.02, 4),
            _row("3", "supervised", -0.02, 0.03, 9),
            _row("3", "random:3", -0.05, 0.04, 9),
            _row("0", "supervised", 0.01, 0.01, 4, quantity="auroc"),  # another quantity: ignored
        ]
    )
    none = pd.DataFrame(
        [
            _row("0", "supervised", 0.02, 0.015, 7),
            _row("3", "supervised", 0.00, 0.01, 5),
            _row("3", "random:3", 0.01, 0.02, 5),
        ]
    )
    out = difference_in_differences({"label": bias, "none": none}, "none")
    assert list(out.columns) == DID_COLUMNS
    assert len(out) == 3
    got = out.set_index(["setup", "baseline_kind"])
    # hand: DiD, SE = sqrt(a^2 + b^2), df = min, p two-sided t
    cases = {
        ("0", "supervised"): (-0.12, np.sqrt(0.02**2 + 0.015**2), 4),
        ("3", "supervised"): (-0.02, np.sqrt(0.03**2 + 0.01**2), 5),
        ("3", "control"): (-0.06, np.sqrt(0.04**2 + 0.02**2), 5),
    }
    p_hand = {}
    for key, (d, se, df) in cases.items():
        assert got.loc[key, "did"] == pytest.approx(d)
        assert got.loc[key, "se"] == pytest.approx(se)
        assert got.loc[key, "df"] == df
        p_hand[key] = 2 * stats.t.sf(abs(d) / se, df)
        assert got.loc[key, "p_value"] == pytest.approx(p_hand[key])
    # Holm over the three by hand: sorted p times (3, 2, 1), running maximum
    order = sorted(p_hand, key=p_hand.get)
    adj, running = {}, 0.0
    for k, key in enumerate(order):
        running = max(running, min(1.0, (3 - k) * p_hand[key]))
        adj[key] = running
    for key in cases:
        assert got.loc[key, "p_adjusted"] == pytest.approx(adj[key])
        # interval at the row's corrected level, centred on the DiD; it excludes 0 iff the verdict is one
        d, se, df = cases[key]
        half = stats.t.ppf(0.5 + got.loc[key, "level"] / 2, df) * se
        assert got.loc[key, "ci_low"] == pytest.approx(d - half)
        excludes = got.loc[key, "ci_high"] < 0 or got.loc[key, "ci_low"] > 0
        assert excludes == (got.loc[key, "verdict"] in ("lower", "higher"))
    assert got.loc[("0", "supervised"), "verdict"] == "lower"  # -0.12, SE 0.025, df 4: p ~ 0.009


def test_rows_match_on_variant_and_untestable_rows_get_no_verdict() -> None:
    a = pd.DataFrame(
        [
            _row("3", "supervised", -0.2, 0.01, 9, variant="lf=0.05"),
            _row("3", "supervised", -0.2, 0.01, 9, variant="lf=1.0", verdict="at_chance"),
            _row("2-first-last", "supervised", -0.2, 0.01, 9, variant="lf=1.0"),  # not in the reference
        ]
    )
    ref = pd.DataFrame(
        [
            _row("3", "supervised", 0.0, 0.01, 9, variant="lf=0.05"),
            _row("3", "supervised", 0.0, 0.01, 9, variant="lf=1.0"),
        ]
    )
    out = difference_in_differences({"a": a, "ref": ref}, "ref").set_index("variant")
    assert sorted(out.index) == ["lf=0.05", "lf=1.0"]
    assert out.loc["lf=0.05", "verdict"] == "lower"
    assert out.loc["lf=1.0", "verdict"] == "at_chance"
    assert np.isnan(out.loc["lf=1.0", "p_value"]) and np.isnan(out.loc["lf=1.0", "ci_low"])
    one = pd.DataFrame([_row("3", "supervised", -0.2, 0.01, np.inf, n=1)])
    res = difference_in_differences({"a": one, "ref": ref.iloc[:1].drop(columns="variant")}, "ref")
    assert res["verdict"].tolist() == ["one_seed"]


def test_unknown_reference_and_old_tables_are_user_errors() -> None:
    frame = pd.DataFrame([_row("3", "supervised", 0.0, 0.01, 9)])
    with pytest.raises(DataError, match="reference study 'none'"):
        difference_in_differences({"a": frame, "b": frame}, "none")
    with pytest.raises(DataError, match="lacks estimate_bc"):
        difference_in_differences({"a": frame.drop(columns="estimate_bc"), "b": frame}, "b")


def _study(rng: np.random.Generator, deltas: np.ndarray, n: int, sd: float, se_test: float) -> pd.DataFrame:
    """One simulated study's change rows: per setup, n seeds of paired differences ~ N(delta, sd^2) plus a
    test-sampling error ~ N(0, se_test^2) shared by the seeds (one test set); the study reports the mean,
    SE = sqrt(V_test + s^2 / n) on n - 1 df, as :class:`~fairssl.evaluation.components.Components` does."""
    rows = []
    for k, delta in enumerate(deltas):
        d = rng.normal(delta, sd, size=n) + rng.normal(0.0, se_test)
        se = np.sqrt(se_test**2 + d.var(ddof=1) / n)
        rows.append(_row(f"s{k}", "supervised", float(d.mean()), float(se), float(n - 1), n=n))
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("n_a", "n_b", "sd_a", "sd_b", "se_test"),
    [
        (3, 3, 0.05, 0.05, 0.002),  # seeds dominate, few of them: where Welch's df was too liberal
        (8, 3, 0.02, 0.08, 0.02),  # unequal seeds and spreads, test sampling mattering
        (16, 16, 0.05, 0.1, 0.02),  # the findings' design
    ],
)
def test_calibration_by_simulation(n_a: int, n_b: int, sd_a: float, sd_b: float, se_test: float) -> None:
    """Same true change in both studies: each row rejects (uncorrected) at no more than alpha and the
    family of six (Holm) at no more than alpha; with different true changes the 95% interval covers the
    true DiD at least 95% of the time and a large DiD is detected (Monte-Carlo error allowed: 3 SE of a
    proportion over the simulated studies)."""
    rng = np.random.default_rng(20261205)
    reps, m, alpha = 500, 6, 0.05
    mc = 3 * np.sqrt(alpha * (1 - alpha) / reps)
    row_rejects = family_rejects = covered = 0
    true = np.linspace(-0.1, 0.1, m)
    shift = np.array([0.0, 0.05, -0.03, 0.0, 0.25, -0.08])  # true DiD per setup, for coverage and power
    detected = 0
    for _ in range(reps):
        a, b = _study(rng, true, n_a, sd_a, se_test), _study(rng, true, n_b, sd_b, 1.5 * se_test)
        none = difference_in_differences({"a": a, "b": b}, "b", correction="none")
        row_rejects += int((none["verdict"] != "not_distinguishable").sum())
        holm = difference_in_differences({"a": a, "b": b}, "b")
        family_rejects += int((holm["verdict"] != "not_distinguishable").any())
        moved = _study(rng, true + shift, n_a, sd_a, se_test)
        cov = difference_in_differences({"a": moved, "b": b}, "b", correction="none")
        covered += int(((cov["ci_low"] <= shift) & (shift <= cov["ci_high"])).sum())
        detected += int(cov["verdict"].iloc[4] == "higher")
    assert row_rejects / (reps * m) <= alpha + mc / np.sqrt(m)
    assert family_rejects / reps <= alpha + mc
    assert covered / (reps * m) >= 0.95 - mc / np.sqrt(m)
    assert detected / reps > 0.5  # min(df) is conservative, not blind
