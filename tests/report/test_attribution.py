"""Attribution of a setup's parity-deviation change to freezing or to pre-training, on hand-made rows.

Each branch of :func:`~fairssl.report.attribution.attribution_sentence` (both comparisons significant in
the same or opposite direction, only against supervised, only against the control, neither, a model at
chance, no control) is pinned on ``comparison.csv``-shaped rows; the relative-interval guard of
:func:`~fairssl.report.sentences.change_text` and the compact table is checked on 2-seed-like bounds.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from fairssl.evaluation.verdicts import SETUP_COLUMNS
from fairssl.report.attribution import attribution_sentence
from fairssl.report.markdown import markdown_report, setup_table
from fairssl.report.relative_interval import improvement_text, unusable_relative
from fairssl.report.sentences import change_text
from fairssl.report.summary import IMPROVEMENT, attribution_points, summary_points, summary_table

NAN = float("nan")


def _row(**kw: Any) -> dict[str, Any]:
    """Setup 3 with 4 seeds: 40% lower PD than supervised (fairer), 5% lower than random:3 (not
    distinguishable); ``kw`` overrides any column."""
    row: dict[str, Any] = dict.fromkeys(SETUP_COLUMNS, NAN)
    row.update(
        setup="3",
        kind="ssl",
        n_seeds=4,
        n_pairs=4,
        auroc=0.8,
        parity_deviation=0.18,
        pd_low=0.12,
        pd_high=0.24,
        pd_change=-0.12,
        pd_change_low=-0.2,
        pd_change_high=-0.04,
        pd_change_level=0.99,
        improvement=0.4,
        improvement_low=0.13,
        improvement_high=0.67,
        verdict="fairer",
        control="random:3",
        control_verdict="not_distinguishable",
        control_pd_change=-0.01,
        control_pd_change_low=-0.06,
        control_pd_change_high=0.04,
        control_improvement=0.05,
        control_improvement_low=-0.2,
        control_improvement_high=0.3,
        power=0.8,
    )
    row.update(kw)
    return row


SUP = _row(
    setup="supervised",
    kind="baseline",
    parity_deviation=0.3,
    pd_low=0.25,
    pd_high=0.35,
    verdict=NAN,
    control=NAN,
    control_verdict=NAN,
    **{c: NAN for c in ("improvement", "improvement_low", "improvement_high", "pd_change")},
)
CONTROL = _row(
    setup="random:3",
    kind="control",
    parity_deviation=0.19,
    pd_low=0.13,
    pd_high=0.25,
    verdict="not_tested",
    pd_change_level=0.95,  # not in the family: its interval is at 1 - alpha
    improvement=0.37,
    improvement_low=0.1,
    improvement_high=0.6,
    control=NAN,
    control_verdict=NAN,
)
OWN = (
    "fairer than supervised (parity deviation 0.180 vs 0.300, 40% lower [99% CI 13% to 67% lower]; "
    "corrected test)"
)
ALONE = (
    "(random:3 itself against supervised: parity deviation 37% lower [95% CI 10% to 60% lower]; shown, "
    "not tested)"
)
NOT_ND = {
    "verdict": "not_distinguishable",
    "improvement": 0.1,
    "improvement_low": -0.2,
    "improvement_high": 0.3,
}
ND_OWN = (
    "not distinguishable from supervised (parity deviation 0.180 vs 0.300, 10% lower [99% CI 20% higher "
    "to 30% lower])"
)


def _attr(**kw: Any) -> str:
    return attribution_sentence(_row(**kw), baseline=SUP, control_row=CONTROL)


def test_a_change_that_the_control_shares_is_attributed_to_freezing_without_claiming_equality() -> None:
    assert _attr() == (
        f"Attributed to freezing: setup 3 was {OWN}, and not distinguishable from its random-init control "
        f"random:3 (parity deviation 5% lower [20% higher to 30% lower]) {ALONE}; pre-training added no "
        "difference this study could detect; its interval above is the range of pre-training effects these "
        "data still allow, and not distinguishable does not mean equal. Beside that, the control interval "
        "(-0.060 to +0.040) excludes a pre-training effect as large as the whole change (-0.120), so "
        "freezing accounts for part of it."
    )
    # a control interval wide enough to hold the whole change: nothing is credited, the split is open
    wide = _attr(control_pd_change_low=-0.15, control_pd_change_high=0.1)
    assert wide.startswith("Undecided between freezing and pre-training: setup 3 was ")
    assert "Attributed" not in wide
    assert wide.endswith(
        "Beside that, the control interval (-0.150 to +0.100) still includes a pre-training effect as large "
        "as the whole change (-0.120), so how the change splits between freezing and pre-training is not "
        "settled."
    )
    # no interval for the control comparison: nothing is credited either
    bare = _attr(control_pd_change_low=float("nan"))
    assert bare.startswith("Undecided between freezing and pre-training: setup 3 was ")
    assert bare.endswith("the control comparison has no interval to tell how the change splits.")
    # with the control comparison's minimum detectable change in the table, it is stated
    text = _attr(control_mde_relative=0.35)
    assert (
        "pre-training added no difference this study could detect; with 4 seeds, the comparison with the "
        "control could detect a parity-deviation change of 35% or more with 80% power, so a smaller "
        "pre-training effect may remain. Beside that, the control interval" in text
    )
    assert " equal" not in text.replace("not mean equal", "")


@pytest.mark.parametrize(("own", "word"), [("fairer", "fairer"), ("less_fair", "less fair")])
def test_a_change_beyond_the_control_in_the_same_direction_is_attributed_to_pre_training(
    own: str, word: str
) -> None:
    sign = (
        {} if own == "fairer" else {"improvement": -0.4, "improvement_low": -0.67, "improvement_high": -0.13}
    )
    ctl = {"control_improvement": 0.25, "control_improvement_low": 0.05, "control_improvement_high": 0.45}
    if own == "less_fair":
        ctl = {k: -v for k, v in ctl.items()}
    text = _attr(verdict=own, control_verdict=own, **sign, **ctl)
    assert text.startswith(f"Attributed to pre-training: setup 3 was {word} than supervised (")
    assert (
        f"; corrected test) and {word} than its random-init control random:3 (parity deviation 25% " in text
    )
    assert "so the pre-trained weights, not freezing alone, account for at least part of the change" in text
    assert text.endswith(ALONE + ".")


def test_a_control_that_moves_further_the_same_way_credits_freezing() -> None:
    ctl = {"control_improvement": -0.2, "control_improvement_low": -0.4, "control_improvement_high": -0.05}
    text = _attr(control_verdict="less_fair", **ctl)
    assert text == (
        f"Attributed to freezing: setup 3 was {OWN} but less fair than its random-init control random:3 "
        "(parity deviation 20% higher [5% to 40% higher]; corrected test): the frozen random encoder moved "
        "parity deviation further in the same direction, so freezing, not pre-training, accounts for the "
        f"change, and pre-training pulled the other way {ALONE}."
    )


def test_only_the_control_comparison_significant_attributes_nothing_against_supervised() -> None:
    ctl = {"control_improvement": 0.25, "control_improvement_low": 0.05, "control_improvement_high": 0.45}
    assert _attr(control_verdict="fairer", **NOT_ND, **ctl) == (
        f"Nothing to attribute against supervised: setup 3 was {ND_OWN}, though fairer than its "
        "random-init control random:3 (parity deviation 25% lower [5% to 45% lower]; corrected test): the "
        "pre-trained weights changed parity deviation against a frozen random encoder, but the study "
        f"detected no net change against supervised {ALONE}."
    )


def test_neither_comparison_significant_attributes_nothing() -> None:
    assert _attr(**NOT_ND) == (
        f"Nothing attributed for setup 3: it was {ND_OWN} and not distinguishable from its random-init "
        "control random:3 (parity deviation 5% lower [20% higher to 30% lower]), so no change is credited "
        "to freezing or to pre-training."
    )


@pytest.mark.parametrize("which", ["verdict", "control_verdict"])
def test_a_model_at_chance_gets_no_attribution(which: str) -> None:
    text = _attr(**{which: "at_chance"})
    assert text == (
        "Nothing attributed for setup 3: the AUROC interval of setup 3, of its control random:3 or of "
        "supervised includes 0.5, so a parity-deviation change is credited neither to freezing nor to "
        "pre-training."
    )
    assert "Attributed" not in text


@pytest.mark.parametrize(
    "kw",
    [
        {"control": NAN, "control_verdict": NAN},  # no random:3 in the study
        {"control": "", "control_verdict": ""},
        {"verdict": "one_seed"},
        {"control_verdict": "no_interval"},
    ],
)
def test_nothing_is_said_without_a_control_or_without_tested_verdicts(kw: dict[str, Any]) -> None:
    assert _attr(**kw) == ""


def test_summary_points_carry_one_attribution_per_controlled_ssl_setup() -> None:
    uncontrolled = _row(setup="2-first-last", control="", control_verdict="")
    comp = pd.DataFrame([SUP, _row(), uncontrolled, CONTROL])
    assert attribution_points(comp) == [_attr()]
    points = summary_points(comp, caveats=False)
    assert points[3] == _attr()  # after the verdicts, the coverage and the AUROC range
    assert sum(p.startswith(("Attributed", "Nothing")) for p in points) == 1
    assert attribution_points(pd.DataFrame([_row(), CONTROL])) == []  # no supervised baseline


# ------------------------------------------------------------------------- unusable relative intervals
def test_a_relative_bound_beyond_1000_percent_is_not_printed() -> None:
    # 2 seeds: t on 1 df; the PD change interval [-0.8, +91.7] over a baseline PD of 0.3
    row = _row(
        verdict="not_distinguishable",
        improvement=-0.2,
        improvement_low=-305.71,
        improvement_high=1.0,
        pd_change=0.06,
        pd_change_low=-0.8,
        pd_change_high=91.713,
    )
    text = change_text(row)
    assert text == (
        "parity deviation 20% higher [no usable relative interval (a bound is beyond 1000%); PD change "
        "+0.060, 99% CI -0.800 to +91.713]"
    )
    assert "30571" not in text
    table = summary_table(pd.DataFrame([SUP, row]))
    assert list(table[IMPROVEMENT]) == ["baseline", "-20% [no usable relative interval]"]


def test_a_baseline_whose_pd_interval_reaches_zero_gives_no_relative_interval() -> None:
    sup = {**SUP, "pd_low": 0.0}
    row = _row()
    assert (
        unusable_relative(0.13, 0.67, baseline_low=0.0)
        == "the parity deviation it is relative to has an interval reaching 0"
    )
    assert change_text(row, baseline_pd=0.3, baseline_low=0.0) == (
        "parity deviation 0.180 vs 0.300, 40% lower [no usable relative interval (the parity deviation it "
        "is relative to has an interval reaching 0); PD change -0.120, 99% CI -0.200 to -0.040]"
    )
    assert list(summary_table(pd.DataFrame([sup, row]))[IMPROVEMENT]) == [
        "baseline",
        "+40% [no usable relative interval]",
    ]


@pytest.mark.parametrize(("lo", "hi"), [(-10.0, 1.0), (0.13, 0.67), (-9.99, -0.5)])
def test_readable_relative_intervals_are_unchanged(lo: float, hi: float) -> None:
    assert unusable_relative(lo, hi, baseline_low=0.01) == ""
    assert "no usable" not in change_text(_row(improvement_low=lo, improvement_high=hi))


def test_report_md_and_the_parity_table_word_an_unusable_relative_interval_the_same_way() -> None:
    row = _row(verdict="not_distinguishable", improvement=-0.2, improvement_low=-305.71, improvement_high=1.0)
    comp = pd.DataFrame([SUP, row])
    md = setup_table(comp)
    assert list(md["PD improvement"]) == ["", "-20% [no usable relative interval]"]  # never -30571%
    # a supervised PD interval reaching 0: every relative interval against it is withheld
    zero = pd.DataFrame([{**SUP, "pd_low": 0.0}, _row()])
    assert list(setup_table(zero)["PD improvement"]) == ["", "40% [no usable relative interval]"]
    # readable: the interval as before
    assert setup_table(pd.DataFrame([SUP, _row()]))["PD improvement"].iloc[1] == "40% [13, 67]"
    assert improvement_text(_row(), baseline_low=0.1) == "40% [13, 67]"


def test_report_md_carries_the_attribution_statements() -> None:
    comp = pd.DataFrame([SUP, _row(), CONTROL])
    text = markdown_report(
        "t", "headline", comp, cka_mean=pd.DataFrame(), ratios=pd.DataFrame(), demographic=pd.DataFrame()
    )
    (point,) = attribution_points(comp)
    assert "## Freezing or pre-training" in text and f"- {point}" in text
