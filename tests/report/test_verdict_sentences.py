"""Every verdict sentence of the report, pinned word for word on hand-made ``comparison.csv`` rows.

The rows carry the :data:`~fairssl.evaluation.verdicts.SETUP_COLUMNS` of the evaluation's per-setup table;
the sentences only word its verdicts (:func:`~fairssl.report.summary.verdict_sentence`,
:func:`~fairssl.report.summary.headline`), so each verdict kind has one exact text here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from fairssl.evaluation.verdicts import SETUP_COLUMNS
from fairssl.report.summary import (
    auroc_text,
    change_text,
    headline,
    power_text,
    summary_points,
    verdict_sentence,
)

NAN = float("nan")


def _row(**kw: Any) -> dict[str, Any]:
    """One comparison row: setup 2-first-last, 5 seeds, 28% lower PD (fairer, Holm over 8 tests), an AUROC
    change of -0.4 points that the test does not tell from 0; ``kw`` overrides any column."""
    row: dict[str, Any] = dict.fromkeys(SETUP_COLUMNS, NAN)
    row.update(
        setup="2-first-last",
        kind="ssl",
        n_seeds=5,
        auroc=0.831,
        auroc_low=0.82,
        auroc_high=0.842,
        parity_deviation=0.162,
        pd_low=0.15,
        pd_high=0.175,
        sources="test subjects; fine-tuning seeds (5); pre-training seeds",
        not_covered="the data split (one test set)",
        n_pairs=5,
        auroc_change=-0.004,
        auroc_change_low=-0.012,
        auroc_change_high=0.004,
        auroc_change_level=0.9875,
        auroc_change_p=0.4,
        auroc_verdict="not_distinguishable",
        pd_change=-0.063,
        pd_change_low=-0.092,
        pd_change_high=-0.027,
        pd_change_level=1 - 0.05 / 6,
        pd_change_p=0.0123,
        improvement=0.28,
        improvement_low=0.12,
        improvement_high=0.41,
        verdict="fairer",
        verdict_reason="",
        mde_relative=0.14,
        target_relative=0.15,
        seeds_needed=4.0,
        seeds_reason="",
        control="",
        control_verdict="",
        family_size=8,
        correction="holm",
        alpha=0.05,
    )
    row.update(kw)
    return row


SUP = _row(
    setup="supervised",
    kind="baseline",
    auroc=0.835,
    auroc_low=0.825,
    auroc_high=0.845,
    parity_deviation=0.225,
    pd_low=0.21,
    pd_high=0.24,
    n_pairs=NAN,
    verdict="",
    **{c: NAN for c in ("auroc_change", "pd_change", "improvement", "improvement_low", "improvement_high")},
)
NOT_DISTINGUISHABLE = {"verdict": "not_distinguishable", "improvement_low": -0.1, "pd_change_p": 0.3}

FAIRER = (
    "Setup 2-first-last was fairer than supervised: parity deviation 0.162 vs 0.225, 28% lower [99.17% CI "
    "12% to 41% lower], with no distinguishable AUROC change (-0.4 points [98.75% CI -1.2 to +0.4]); 5 "
    "seeds; Holm correction over 8 tests at alpha 0.05, adjusted p = 0.012."
)


def _comparison(*rows: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


# ----------------------------------------------------------------------------------- one setup's verdict
def test_fairer() -> None:
    assert verdict_sentence(_row(), baseline=SUP) == FAIRER


def test_less_fair_at_a_corrected_auroc_cost() -> None:
    row = _row(
        verdict="less_fair",
        parity_deviation=0.29,
        improvement=-0.29,
        improvement_low=-0.5,
        improvement_high=-0.1,
        pd_change_p=0.004,
        auroc_verdict="less_accurate",
        auroc_change=-0.012,
        auroc_change_low=-0.02,
        auroc_change_high=-0.004,
    )
    assert verdict_sentence(row, baseline=SUP) == (
        "Setup 2-first-last was less fair than supervised: parity deviation 0.290 vs 0.225, 29% higher "
        "[99.17% CI 10% to 50% higher], at a cost of 1.2 AUROC points [98.75% CI 0.4 to 2.0]; 5 seeds; Holm "
        "correction over 8 tests at alpha 0.05, adjusted p = 0.004."
    )


def test_not_distinguishable_unchanged_with_a_corrected_gain_and_the_seeds_needed() -> None:
    row = _row(
        verdict="not_distinguishable",
        parity_deviation=0.224,
        improvement=-0.004,  # rounds to 0%: never "-0%" nor "0% higher"
        improvement_low=-0.2,
        improvement_high=0.19,
        pd_change_p=0.9,
        auroc_verdict="more_accurate",
        auroc_change=0.008,
        auroc_change_low=0.002,
        auroc_change_high=0.014,
    )
    assert verdict_sentence(row, baseline=SUP) == (
        "Setup 2-first-last was not distinguishable from supervised in parity deviation: parity deviation "
        "0.224 vs 0.225, unchanged (0%) [99.17% CI 19% lower to 20% higher], with a gain of 0.8 AUROC points "
        "[98.75% CI 0.2 to 1.4]; 5 seeds; Holm correction over 8 tests at alpha 0.05, adjusted p = 0.9. "
        "With 5 seeds, this study could detect a parity-deviation change of 14% or more with 80% power; "
        "about 4 seeds would detect a 15% change with that power."
    )


@pytest.mark.parametrize(
    ("mde", "reason", "power"),
    [
        (
            0.45,
            "test_set_limits",
            "With 5 seeds, this study could detect a parity-deviation change of 45% or more with 80% power; "
            "no number of seeds would detect a 15% change on this test set (test-set sampling alone is too "
            "noisy): use more test subjects or data replicates.",
        ),
        (
            1.4,
            "one_seed",
            "With 5 seeds, this study could detect a parity-deviation change of 140% or more with 80% power "
            "(more than any reduction can be); with one seed the seeds needed cannot be estimated.",
        ),
        (
            0.3,
            "more_than_1000",
            "With 5 seeds, this study could detect a parity-deviation change of 30% or more with 80% power; "
            "more than 1000 seeds would be needed to detect a 15% change.",
        ),
    ],
)
def test_not_distinguishable_says_why_no_number_of_seeds_is_given(
    mde: float, reason: str, power: str
) -> None:
    row = _row(
        verdict="not_distinguishable",
        improvement=0.1,
        improvement_low=-0.2,
        improvement_high=0.3,
        pd_change_p=0.6,
        mde_relative=mde,
        seeds_needed=NAN,
        seeds_reason=reason,
    )
    assert power_text(row) == power
    assert verdict_sentence(row) == (
        "Setup 2-first-last was not distinguishable from supervised in parity deviation: parity deviation "
        "10% lower [99.17% CI 20% higher to 30% lower], with no distinguishable AUROC change (-0.4 points "
        "[98.75% CI -1.2 to +0.4]); 5 seeds; Holm correction over 8 tests at alpha 0.05, adjusted p = 0.6. "
        + power
    )


def test_power_without_a_detectable_change_names_the_power_itself() -> None:
    assert power_text(_row(mde_relative=NAN)) == "About 4 seeds would detect a 15% change with 80% power."
    assert power_text(_row(mde_relative=NAN, seeds_needed=NAN)) == ""


@pytest.mark.parametrize(
    ("reason", "sentence"),
    [
        (
            "auroc_interval_includes_0.5:2-first-last",
            "No fairness verdict for setup 2-first-last: the AUROC interval of setup 2-first-last includes "
            "0.5, so that model may be no better than chance and a parity-deviation change says nothing "
            "about fairness.",
        ),
        (
            "auroc_interval_includes_0.5:supervised",
            "No fairness verdict for setup 2-first-last: the AUROC interval of supervised includes 0.5, so "
            "that model may be no better than chance and a parity-deviation change says nothing about "
            "fairness.",
        ),
        (
            "auroc_interval_includes_0.5:supervised,2-first-last",
            "No fairness verdict for setup 2-first-last: the AUROC intervals of supervised and setup "
            "2-first-last include 0.5, so these models may be no better than chance and a parity-deviation "
            "change says nothing about fairness.",
        ),
    ],
)
def test_at_chance_gives_no_fairness_verdict(reason: str, sentence: str) -> None:
    assert verdict_sentence(_row(verdict="at_chance", verdict_reason=reason), baseline=SUP) == sentence


def test_one_seed_gives_no_verdict_and_says_what_the_interval_covers() -> None:
    row = _row(
        verdict="one_seed",
        n_pairs=1,
        pd_change_level=0.95,
        pd_change_p=0.02,
        auroc_change_level=0.95,
        auroc_verdict="one_seed",
        auroc_change=-0.0004,  # rounds to 0.0 points: never "-0.0"
        auroc_change_low=-0.03,
        auroc_change_high=0.02,
    )
    assert verdict_sentence(row, baseline=SUP) == (
        "Setup 2-first-last: parity deviation 0.162 vs 0.225, 28% lower [95% CI 12% to 41% lower], with an "
        "AUROC change of 0.0 points [95% CI -3.0 to +2.0]; 1 seed. No verdict: with one seed per setup the "
        "interval covers test-set sampling only, not training randomness (runs that differ only in their "
        "seed differ too); run several seeds."
    )


def test_no_interval_gives_no_verdict() -> None:
    row = _row(
        verdict="no_interval",
        verdict_reason="no_interval",
        improvement_low=NAN,
        improvement_high=NAN,
        auroc_change_low=NAN,
        auroc_change_high=NAN,
        auroc_verdict="no_interval",
        pd_change_p=NAN,
    )
    assert verdict_sentence(row) == (
        "Setup 2-first-last: parity deviation 28% lower, with an AUROC change of -0.4 points; 5 seeds. No "
        "verdict: the change has no interval (evaluation.n_boot = 0, or too few resamples of test subjects "
        "had a defined value)."
    )


def test_a_random_init_control_is_not_tested() -> None:
    row = _row(
        setup="random:0",
        kind="control",
        verdict="not_tested",
        auroc_verdict="not_tested",
        pd_change_level=0.95,
        auroc_change_level=0.95,
    )
    assert verdict_sentence(row) == (
        "Setup random:0: parity deviation 28% lower [95% CI 12% to 41% lower], with an AUROC change of -0.4 "
        "points [95% CI -1.2 to +0.4]; 5 seeds. Not tested: outside the study's family of tests (a "
        "random-init control shows the effect of freezing alone), so no verdict."
    )


# ------------------------------------------------------------------------------------ signs and words
@pytest.mark.parametrize(
    ("imp", "lo", "hi", "text"),
    [
        (0.28, 0.12, 0.41, "parity deviation 28% lower [99.17% CI 12% to 41% lower]"),
        (-0.29, -0.5, -0.1, "parity deviation 29% higher [99.17% CI 10% to 50% higher]"),
        (0.1, -0.2, 0.3, "parity deviation 10% lower [99.17% CI 20% higher to 30% lower]"),
        (0.004, -0.2, 0.19, "parity deviation unchanged (0%) [99.17% CI 19% lower to 20% higher]"),
        (-0.004, -0.2, 0.19, "parity deviation unchanged (0%) [99.17% CI 19% lower to 20% higher]"),
        (0.2, -0.004, 0.3, "parity deviation 20% lower [99.17% CI 0% to 30% lower]"),
        (-0.2, -0.3, 0.004, "parity deviation 20% higher [99.17% CI 0% to 30% higher]"),
        (0.2, NAN, NAN, "parity deviation 20% lower"),
        (NAN, NAN, NAN, "parity deviation change unknown"),
    ],
)
def test_pd_change_never_reads_minus_zero(imp: float, lo: float, hi: float, text: str) -> None:
    got = change_text(_row(improvement=imp, improvement_low=lo, improvement_high=hi))
    assert got == text and "-0%" not in got


@pytest.mark.parametrize(
    ("verdict", "change", "ends", "text"),
    [
        ("less_accurate", -0.012, (-0.02, -0.004), "at a cost of 1.2 AUROC points [98.75% CI 0.4 to 2.0]"),
        ("less_accurate", -0.0004, (-0.0007, -0.0001), "at a cost of under 0.1 AUROC points [98.75% CI under "
         "0.1 to 0.1]"),
        ("more_accurate", 0.012, (0.004, 0.02), "with a gain of 1.2 AUROC points [98.75% CI 0.4 to 2.0]"),
        ("not_distinguishable", -0.012, (-0.03, 0.006), "with no distinguishable AUROC change (-1.2 points "
         "[98.75% CI -3.0 to +0.6])"),
        ("not_distinguishable", -0.0004, (-0.02, 0.0003), "with no distinguishable AUROC change (0.0 points "
         "[98.75% CI -2.0 to 0.0])"),
        ("one_seed", -0.012, (-0.03, 0.006), "with an AUROC change of -1.2 points [98.75% CI -3.0 to +0.6]"),
        ("not_tested", 0.012, (-0.006, 0.03), "with an AUROC change of +1.2 points [98.75% CI -0.6 to +3.0]"),
        ("no_interval", 0.0004, (NAN, NAN), "with an AUROC change of 0.0 points"),
    ],
)  # fmt: skip
def test_cost_and_gain_only_with_a_corrected_auroc_verdict(
    verdict: str, change: float, ends: tuple[float, float], text: str
) -> None:
    row = _row(
        auroc_verdict=verdict, auroc_change=change, auroc_change_low=ends[0], auroc_change_high=ends[1]
    )
    got = auroc_text(row)
    assert got == text and "-0.0" not in got
    assert ("cost" in got) == (verdict == "less_accurate") and ("gain" in got) == (verdict == "more_accurate")


def test_no_cost_is_claimed_for_an_auroc_drop_the_test_does_not_confirm() -> None:
    row = _row(auroc_change=-0.03, auroc_change_low=-0.07, auroc_change_high=0.01)
    sentence = verdict_sentence(row, baseline=SUP)
    assert "no distinguishable AUROC change (-3.0 points [98.75% CI -7.0 to +1.0])" in sentence
    assert "cost" not in sentence


# --------------------------------------------------------------------------------------------- headline
def test_headline_names_the_other_fairer_and_less_fair_setups() -> None:
    comparison = _comparison(
        SUP,
        _row(),
        _row(setup="0", improvement=0.2, improvement_low=0.05, improvement_high=0.3),
        _row(setup="3", verdict="less_fair", improvement=-0.3, improvement_low=-0.5, improvement_high=-0.1),
    )
    assert headline(comparison) == (
        FAIRER + " Also fairer than supervised under the same corrected test: 0. Less fair than supervised "
        "under the same corrected test: 3."
    )


def test_headline_when_no_setup_was_distinguishable() -> None:
    comparison = _comparison(
        SUP, _row(**NOT_DISTINGUISHABLE), _row(setup="0", improvement=0.1, **NOT_DISTINGUISHABLE)
    )
    assert headline(comparison) == (
        "Setup 2-first-last was not distinguishable from supervised in parity deviation: parity deviation "
        "0.162 vs 0.225, 28% lower [99.17% CI 10% higher to 41% lower], with no distinguishable AUROC change "
        "(-0.4 points [98.75% CI -1.2 to +0.4]); 5 seeds; Holm correction over 8 tests at alpha 0.05, "
        "adjusted p = 0.3. With 5 seeds, this study could detect a parity-deviation change of 14% or more "
        "with 80% power; about 4 seeds would detect a 15% change with that power. No SSL setup was "
        "distinguishably fairer or less fair."
    )


def test_headline_less_fair_others_without_also() -> None:
    worse = _row(
        setup="3", verdict="less_fair", improvement=-0.3, improvement_low=-0.5, improvement_high=-0.1
    )
    text = headline(_comparison(SUP, _row(**NOT_DISTINGUISHABLE), worse))
    assert text.startswith("Setup 2-first-last was not distinguishable from supervised")
    assert text.endswith(" Less fair than supervised under the same corrected test: 3.")
    assert "No SSL setup was distinguishably" not in text


def test_headline_says_nothing_about_distinguishability_when_nothing_was_tested() -> None:
    one = {"verdict": "one_seed", "n_pairs": 1}
    text = headline(_comparison(SUP, _row(**one), _row(setup="0", improvement=0.1, **one)))
    assert text.startswith("Setup 2-first-last: parity deviation 0.162 vs 0.225, 28% lower")
    assert text.endswith("run several seeds.")


def test_headline_notes_when_every_setup_is_over_the_auroc_tolerance() -> None:
    costly = {"auroc_change": -0.05, "auroc_change_low": -0.07, "auroc_change_high": -0.03}
    text = headline(
        _comparison(
            SUP,
            _row(auroc_verdict="less_accurate", **costly),
            _row(setup="0", improvement=0.1, **costly),
        )
    )
    assert text == (
        "Setup 2-first-last was fairer than supervised: parity deviation 0.162 vs 0.225, 28% lower [99.17% "
        "CI 12% to 41% lower], at a cost of 5.0 AUROC points [98.75% CI 3.0 to 7.0]; 5 seeds; Holm "
        "correction over 8 tests at alpha 0.05, adjusted p = 0.012. Every SSL setup's mean AUROC change was "
        "below -1.0 points (the trade-off's tolerance), so the setup with the largest parity-deviation "
        "reduction is shown. Also fairer than supervised under the same corrected test: 0."
    )


CONTROL = _row(
    setup="random:2-first-last",
    kind="control",
    verdict="not_tested",
    parity_deviation=0.05,
    improvement=0.78,  # the control lowers PD most: never the headline's setup
    improvement_low=0.7,
    improvement_high=0.85,
)


@pytest.mark.parametrize(
    ("own", "control", "ends", "sentence"),
    [
        (
            {},
            "fairer",
            (0.03, 0.25),
            "Setup 2-first-last was fairer than its random-init control random:2-first-last (parity "
            "deviation 15% lower [3% to 25% lower]; corrected test), so pre-training, not freezing alone, "
            "accounts for at least part of its lower parity deviation.",
        ),
        (
            NOT_DISTINGUISHABLE,
            "fairer",
            (0.03, 0.25),
            "Setup 2-first-last was fairer than its random-init control random:2-first-last (parity "
            "deviation 15% lower [3% to 25% lower]; corrected test).",
        ),
        (
            {},
            "not_distinguishable",
            (-0.1, 0.3),
            "Setup 2-first-last was not distinguishable from its random-init control random:2-first-last in "
            "parity deviation (parity deviation 15% lower [10% higher to 30% lower]): freezing alone may "
            "explain its change against supervised.",
        ),
        (
            NOT_DISTINGUISHABLE,
            "not_distinguishable",
            (-0.1, 0.3),
            "Setup 2-first-last was not distinguishable from its random-init control random:2-first-last in "
            "parity deviation (parity deviation 15% lower [10% higher to 30% lower]).",
        ),
        ({}, "one_seed", (-0.1, 0.3), ""),
    ],
)
def test_headline_says_what_the_random_init_control_shows(
    own: dict[str, Any], control: str, ends: tuple[float, float], sentence: str
) -> None:
    best = _row(
        control="random:2-first-last",
        control_verdict=control,
        control_improvement=0.15,
        control_improvement_low=ends[0],
        control_improvement_high=ends[1],
        **own,
    )
    text = headline(_comparison(SUP, CONTROL, best))
    assert text.startswith("Setup 2-first-last was ")  # not the control, though it lowers PD most
    assert text.endswith(" " + sentence if sentence else "adjusted p = 0.012.")
    assert "Setup random:2-first-last" not in text


def test_headline_without_a_baseline_or_with_the_baseline_alone() -> None:
    assert headline(_comparison(_row(setup="0"), _row(setup="3"))) == (
        "No supervised baseline in the results (setups: 0, 3), so the fairness improvement of SSL cannot be "
        "computed: add 'supervised' to finetune.setups and run again."
    )
    assert headline(_comparison(SUP)) == (
        "Only the supervised baseline was run (AUROC 0.835 [0.825, 0.845], parity deviation 0.225 [0.210, "
        "0.240]): add SSL setups to finetune.setups to compare."
    )
    assert headline(_comparison(SUP, CONTROL)) == (
        "Only random-init controls were run beside supervised (random:2-first-last): add the pre-trained "
        "setups they control to finetune.setups."
    )
    assert (
        headline(pd.DataFrame()) == "No fine-tuning run has results yet: run `fairssl run` to produce them."
    )
    unpaired = _row(improvement=NAN, improvement_low=NAN, improvement_high=NAN, n_pairs=0)
    assert headline(_comparison(SUP, unpaired)) == (
        "No SSL setup shares a seed with the supervised baseline (or parity deviation is undefined), so no "
        "improvement can be computed: run the same seeds for every setup."
    )


def test_headline_is_the_same_whatever_the_row_order() -> None:
    rows = [SUP, CONTROL, _row(), _row(setup="0", improvement=0.2, improvement_low=0.05)]
    assert headline(_comparison(*rows)) == headline(_comparison(*rows[::-1]))


def test_headline_words_other_corrections() -> None:
    assert verdict_sentence(_row(correction="bonferroni", alpha=0.1)).endswith(
        "Bonferroni correction over 8 tests at alpha 0.1, adjusted p = 0.012."
    )
    assert verdict_sentence(_row(correction="none", family_size=1)).endswith(
        "no multiple-comparison correction (1 test) at alpha 0.05, adjusted p = 0.012."
    )


# ----------------------------------------------------------------------------------------------- points
def test_summary_points_group_the_setups_by_verdict_and_say_what_intervals_cover() -> None:
    comparison = _comparison(
        SUP,
        _row(),
        _row(setup="0", auroc=0.84, **NOT_DISTINGUISHABLE),
        _row(
            setup="3",
            auroc=0.52,
            n_seeds=3,
            verdict="at_chance",
            verdict_reason="auroc_interval_includes_0.5:3",
        ),
        CONTROL,
    )
    points = summary_points(comparison)
    assert points[:3] == [
        "Parity deviation by setup — fairer than supervised (corrected test): 2-first-last; not "
        "distinguishable from supervised: 0; no verdict, a model possibly at chance (an AUROC interval "
        "includes 0.5): 3; random-init controls (the effect of freezing alone, not tested): "
        "random:2-first-last.",
        "Verdicts: Holm correction over 8 tests at alpha 0.05; every interval of a change is at the level of "
        "the corrected test that decides its verdict, so interval and verdict agree. Intervals cover test "
        "subjects, fine-tuning seeds (5) and pre-training seeds; they do not cover the data split (one test "
        "set).",
        "Test AUROC: supervised 0.835 [0.825, 0.845]; SSL setups from 0.520 (3) to 0.840 (0).",
    ]
    assert len(points) == 3  # 5 seeds: no caveat
    few = summary_points(comparison.assign(n_seeds=3))
    assert few[-1] == "Caveat: 3 seeds per setup; across-seed intervals are wide with so few runs."
    untested = _comparison(SUP, _row(verdict="one_seed", n_pairs=1, family_size=0)).assign(n_seeds=1)
    assert summary_points(untested)[1:] == [
        "No change was tested (one seed per setup or no intervals), so there are no verdicts. Intervals "
        "cover test subjects, fine-tuning seeds (5) and pre-training seeds; they do not cover the data split "
        "(one test set).",
        "Test AUROC: supervised 0.835 [0.825, 0.845]; SSL setup 2-first-last 0.831 [0.820, 0.842].",
        "Caveat: one seed per setup; intervals reflect test-set resampling only. Use several seeds (e.g. "
        "seeds = [0, 1, 2, 3, 4]) before drawing conclusions.",
    ]


@pytest.mark.parametrize(
    ("verdict", "ends", "sentence"),
    [
        (
            "fairer",
            (0.05, 0.3),
            "Against supervised at equal AUROC (the supervised model degraded without regard to groups to "
            "AUROC 0.831), setup 2-first-last was fairer at equal accuracy (parity deviation 18% lower "
            "[5% to 30% lower]; corrected test).",
        ),
        (
            "not_distinguishable",
            (-0.1, 0.3),
            "Against supervised at equal AUROC (the supervised model degraded without regard to groups to "
            "AUROC 0.831), setup 2-first-last was not distinguishable at equal accuracy (parity deviation "
            "18% lower [10% higher to 30% lower]).",
        ),
        ("one_seed", (-0.1, 0.3), ""),
    ],
)
def test_headline_says_what_the_accuracy_matched_comparison_shows(
    verdict: str, ends: tuple[float, float], sentence: str
) -> None:
    best = _row(
        matched_auroc=0.831,
        matched_verdict=verdict,
        matched_improvement=0.18,
        matched_improvement_low=ends[0],
        matched_improvement_high=ends[1],
    )
    text = headline(_comparison(SUP, best))
    assert text.endswith(" " + sentence if sentence else "adjusted p = 0.012.")


def test_headline_when_parity_deviation_is_undefined_everywhere() -> None:
    """Small real cohorts: every comparison below the minimum sizes. The analysis finishes and the
    headline says why there is no fairness answer and what to change (issue #16)."""
    nan_pd = {"parity_deviation": NAN, "pd_low": NAN, "pd_high": NAN, "improvement": NAN}
    text = headline(_comparison({**SUP, **nan_pd}, _row(**nan_pd, verdict="no_interval")))
    assert text.startswith(
        "Parity deviation is undefined for every setup: every group comparison fell below "
    )
    assert "min_subjects" in text and "use more test subjects" in text


def test_setup_table_counts_seeds_from_any_quantity() -> None:
    """A setup whose PD is undefined in every seed still reports the seeds that gave it an AUROC."""
    from fairssl.evaluation.inference import StudyDraws, study_inference
    from fairssl.evaluation.resampling import QUANTITIES, ModelDraws
    from fairssl.evaluation.verdicts import setup_table

    values = [[0.8, np.nan], [0.7, np.nan], [0.81, np.nan], [0.72, np.nan]]  # (K, Q): AUROC, PD
    draws = ModelDraws(QUANTITIES, np.array(values), np.zeros((0, 4, 2)), n_subjects=50)
    study = StudyDraws(("supervised", "3", "supervised", "3"), (0, 0, 1, 1), draws)
    table = setup_table(study_inference(study)).set_index("setup")
    assert table.loc["supervised", "n_seeds"] == 2 and table.loc["3", "n_seeds"] == 2


def test_where_it_lives_is_read_against_the_supervised_reference_and_skips_controls() -> None:
    ratios = pd.DataFrame(
        {
            "setup": ["3", "random:3", "supervised~supervised"],
            "ratio": [1.5, 9.0, 2.0],
            "largest_gap_attribute": ["race", "race", "race"],
            "smallest_gap_attribute": ["sex", "sex", "sex"],
        }
    )
    points = summary_points(_comparison(SUP, _row(setup="3")), ratios=ratios)
    (where,) = [p for p in points if p.startswith("Where it lives")]
    assert "in setup 3 " in where and "random:3" not in where  # a control is never the answer
    assert (
        "two supervised models that differ only by seed give 2.0x, so the pattern does not exceed its "
        "reference level and says nothing about SSL. Setup 3: D ratio 1.5, without a permutation null"
    ) in where  # never a bare ratio: without a null it says it cannot be told from random groupings
    assert where.endswith("it cannot be told apart from what random subject groupings give.")


def test_where_it_lives_picks_the_smallest_adjusted_p_and_reads_the_ratio_against_its_null() -> None:
    ratios = pd.DataFrame(
        {
            "setup": ["3", "2-first-last"],
            "ratio": [9.0, 2.5],  # the largest ratio is the noisiest: its null explains it
            "largest_gap_attribute": ["race", "race"],
            "smallest_gap_attribute": ["sex", "sex"],
            "ratio_null_median": [6.0, 1.1],
            "ratio_null_q95": [20.0, 1.9],
            "ratio_p": [0.4, 0.01],
            "ratio_p_holm": [0.4, 0.02],
            "ratio_n_permutations": [99, 99],
        }
    )
    points = summary_points(_comparison(SUP, _row(setup="3"), _row(setup="2-first-last")), ratios=ratios)
    (where,) = [p for p in points if p.startswith("Where it lives")]
    assert "in setup 2-first-last " in where
    assert where.endswith(
        "Setup 2-first-last: D ratio 2.5 (null median 1.1, 95th percentile 1.9; permutation p = 0.01, "
        "Holm-adjusted over setups 0.02; 99 subject permutations): beyond what random subject groupings "
        "give (adjusted p <= 0.05)."
    )


def test_at_chance_with_a_high_estimate_says_the_interval_is_too_wide_to_tell() -> None:
    row = _row(
        setup="3",
        verdict="at_chance",
        verdict_reason="auroc_interval_includes_0.5:3",
        auroc=0.80,
        auroc_low=0.41,
        auroc_high=1.0,
    )
    row["n_seeds"] = 2
    text = verdict_sentence(row)
    assert text.endswith(
        "Its AUROC estimate (0.800) is above 0.5, but with 2 seeds (t on 1 df) the interval is too wide to "
        "show the model beats chance; more seeds (or replicates) would narrow it."
    )
    weak = verdict_sentence({**row, "auroc": 0.52})
    assert "too wide" not in weak and weak.endswith("says nothing about fairness.")
