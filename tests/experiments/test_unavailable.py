"""Rows of unavailable.csv from the evaluation's reason codes (hand-built tables)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fairssl.experiments.unavailable import evaluation_gaps, inference_gaps, skipped_group_gaps

SETTINGS = {"min_group_size": 30, "min_subjects": 5, "min_positives": 5}


def _row(setup: str, attribute: str, group: str, metric: str, estimate: float, reason: str, n: int) -> dict:
    return {
        "run_id": f"r-{setup}",
        "setup": setup,
        "label": "recorded",
        "attribute": attribute,
        "group": group,
        "metric": metric,
        "estimate": estimate,
        "n_group": n,
        "reason": reason,
    }


def test_a_reason_shared_by_every_model_is_one_row_for_all_setups() -> None:
    rows = [
        _row(s, "sex", "female", m, np.nan, "group_below_min_size", 6)
        for s in ("supervised", "0")
        for m in ("disparate_impact", "statistical_parity_difference")
    ]
    rows += [_row("0", "age", "old", "disparate_impact", np.nan, "zero_denominator", 40)]
    rows += [_row("supervised", "age", "old", "disparate_impact", 0.8, "", 40)]
    gaps = pd.DataFrame(evaluation_gaps(pd.DataFrame(rows), SETTINGS))
    shared = gaps[gaps.attribute == "sex"].iloc[0]
    assert (shared.setup, shared.quantity, shared.reason) == ("", "fairness_metrics", "group_below_min_size")
    assert shared.detail == (
        "sex = female (6 test windows): fewer test windows than evaluation.min_group_size = 30; lower the "
        "minimum, merge small groups, or use more test subjects"
    )
    one = gaps[gaps.attribute == "age"].iloc[0]
    assert (one.setup, one.quantity, one.reason) == ("0", "disparate_impact", "zero_denominator")


def test_parity_deviation_undefined_for_some_models_names_them() -> None:
    rows = [
        _row("supervised", "sex", "all", "parity_deviation", 0.2, "", 90),
        _row("0", "sex", "all", "parity_deviation", np.nan, "", 90),
        _row("0", "all", "all", "parity_deviation", np.nan, "", 90),
    ]
    gaps = evaluation_gaps(pd.DataFrame(rows), SETTINGS)
    assert len(gaps) == 1
    assert (gaps[0]["attribute"], gaps[0]["setup"], gaps[0]["reason"]) == ("sex", "0", "undefined")


def test_reference_group_minimums_are_worded_for_the_reference() -> None:
    rows = [_row("0", "race", "b", "disparate_impact", np.nan, "reference_below_min_subjects", 50)]
    (gap,) = evaluation_gaps(pd.DataFrame(rows), SETTINGS)
    assert "the reference group has fewer test subjects than evaluation.min_subjects = 5" in gap["detail"]


def test_setups_without_a_verdict_are_listed_and_supervised_never() -> None:
    comparison = pd.DataFrame(
        {"setup": ["supervised", "0", "1", "2"], "verdict": ["", "at_chance", "fairer", "one_seed"]}
    )
    gaps = inference_gaps(comparison)
    assert [(g["setup"], g["reason"]) for g in gaps] == [("0", "at_chance"), ("2", "one_seed")]


def test_skipped_groups_name_their_size_and_the_setting() -> None:
    (gap,) = skipped_group_gaps(
        "similarity",
        "cka_conditioned",
        [{"attribute": "sex", "group": "f", "size": 4, "status": "too_small"}],
        SETTINGS,
    )
    assert gap["detail"] == "sex = f (4 test windows): fewer test windows than evaluation.min_group_size = 30"
