"""The trained accuracy-matched reference ``checkpoint:<setup>``: epoch choice, its place in the inference
(shown, never in the family), its columns in the per-setup table, and the report's sentence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fairssl.errors import DataError
from fairssl.evaluation.inference import (
    InferenceSettings,
    StudyDraws,
    comparisons,
    study_inference,
)
from fairssl.evaluation.matching import CHECKPOINT_PREFIX, MATCHED_PREFIX, choose_checkpoint
from fairssl.evaluation.resampling import ModelDraws
from fairssl.evaluation.verdicts import SETUP_COLUMNS, setup_table
from fairssl.report.sentences import checkpoint_sentence

QUANTITIES = ("auroc", "parity_deviation")


def test_choose_checkpoint_is_the_closest_validation_auroc_ties_to_the_later_epoch() -> None:
    epochs = np.array([1, 2, 3, 4, 5])
    val = np.array([0.60, 0.70, 0.78, 0.82, 0.90])
    # hand: |val - 0.79| = .19 .09 .01 .03 .11 -> epoch 3
    assert choose_checkpoint(epochs, val, 0.79) == 3
    # 0.80 is 0.02 from both 0.78 (epoch 3) and 0.82 (epoch 4): the later wins
    assert choose_checkpoint(epochs, np.array([0.60, 0.70, 0.78, 0.82, 0.90]), 0.80) == 4
    # a repeated value: the later of the equal epochs
    assert choose_checkpoint(np.array([1, 2, 3]), np.array([0.7, 0.8, 0.8]), 0.81) == 3
    # targets beyond the trajectory: its ends
    assert choose_checkpoint(epochs, val, 0.99) == 5 and choose_checkpoint(epochs, val, 0.5) == 1
    # NaN epochs (one class in validation) are skipped
    assert choose_checkpoint(epochs, np.array([np.nan, 0.7, np.nan, 0.9, np.nan]), 0.95) == 4


def test_choose_checkpoint_refuses_what_it_cannot_match() -> None:
    with pytest.raises(DataError, match="no checkpoint can be matched"):
        choose_checkpoint(np.array([1, 2]), np.array([np.nan, np.nan]), 0.8)
    with pytest.raises(DataError, match="no checkpoint can be matched"):
        choose_checkpoint(np.array([1, 2]), np.array([0.7, 0.8]), float("nan"))
    with pytest.raises(DataError, match=r"two \(E,\) arrays"):
        choose_checkpoint(np.array([1, 2, 3]), np.array([0.7, 0.8]), 0.8)


def _study(values: dict[str, list[tuple[float, float]]], *, n_boot: int = 300) -> StudyDraws:
    """setup -> per-seed (auroc, pd); draws: value + a shared centred noise (SD 0.004) per setup."""
    rng = np.random.default_rng(0)
    setups, seeds, vals, draws = [], [], [], []
    for setup, per_seed in values.items():
        noise = rng.standard_normal((n_boot, 2))
        noise = (noise - noise.mean(0)) / noise.std(0, ddof=1) * 0.004
        for s, v in enumerate(per_seed):
            setups.append(setup)
            seeds.append(s)
            vals.append(v)
            draws.append(np.asarray(v)[None, :] + noise)
    md = ModelDraws(QUANTITIES, np.array(vals), np.stack(draws, axis=1), n_subjects=100)
    return StudyDraws(tuple(setups), tuple(seeds), md)


BASE = {
    "supervised": [(0.85, 0.30), (0.86, 0.31), (0.84, 0.29)],
    "0": [(0.80, 0.20), (0.81, 0.21), (0.79, 0.20)],
    MATCHED_PREFIX + "0": [(0.80, 0.22), (0.81, 0.22), (0.79, 0.21)],
}
CKPT = {CHECKPOINT_PREFIX + "0": [(0.805, 0.26), (0.80, 0.27), (0.795, 0.25)]}


def test_comparisons_show_the_checkpoint_outside_the_family() -> None:
    cfg = InferenceSettings()
    plain = comparisons(["supervised", "0", MATCHED_PREFIX + "0"], cfg)
    with_ck = comparisons(["supervised", "0", MATCHED_PREFIX + "0", CHECKPOINT_PREFIX + "0"], cfg)
    assert with_ck[: len(plain)] == plain  # every earlier comparison unchanged, in order
    assert with_ck[len(plain) :] == [("0", CHECKPOINT_PREFIX + "0", ())]  # no family metric
    # a checkpoint reference is never itself compared as an SSL setup
    assert all(s != CHECKPOINT_PREFIX + "0" for s, _, _ in with_ck)


def test_checkpoint_leaves_the_family_and_its_tests_unchanged() -> None:
    plain = study_inference(_study(BASE))
    both = study_inference(_study({**BASE, **CKPT}))
    assert both.family["members"] == plain.family["members"] == 3  # PD, AUROC vs supervised; PD vs matched
    key = ["setup", "baseline", "quantity"]
    a = plain.changes.set_index(key)
    b = both.changes.set_index(key).loc[a.index]
    for col in ("estimate", "p_adjusted", "ci_low", "ci_high", "verdict"):
        pd.testing.assert_series_equal(a[col], b[col])
    ck = both.changes[both.changes["baseline"] == CHECKPOINT_PREFIX + "0"].set_index("quantity")
    assert not ck["in_family"].any() and set(ck["verdict"]) == {"not_tested"}
    assert np.isnan(ck["p_adjusted"]).all()
    # the change is the hand-computed paired mean: PD 0.20, 0.21, 0.20 minus 0.26, 0.27, 0.25
    assert ck.loc["parity_deviation", "estimate"] == pytest.approx(np.mean([-0.06, -0.06, -0.05]))
    assert ck.loc["parity_deviation", "relative"] > 0  # lower PD than the checkpoint: > 0


def test_setup_table_gains_checkpoint_columns_at_the_end() -> None:
    old = SETUP_COLUMNS[: SETUP_COLUMNS.index("replicates") + 1]
    assert SETUP_COLUMNS[len(old) :][0] == "checkpoint_epochs" and old[-1] == "replicates"
    inference = study_inference(_study({**BASE, **CKPT}))
    match = pd.DataFrame(
        {
            "setup": ["0", "0", "0"],
            "seed": [2, 0, 1],
            "epoch": [5, 4, 4],
            "val_auroc_ssl": [0.79, 0.80, 0.81],
            "val_auroc_checkpoint": [0.80, 0.80, 0.82],
            "test_auroc_checkpoint": [0.795, 0.805, 0.80],
        }
    )
    table = setup_table(inference, checkpoint_match=match).set_index("setup")
    assert list(table.reset_index().columns) == SETUP_COLUMNS
    assert CHECKPOINT_PREFIX + "0" not in table.index  # shown on its setup's row only
    row = table.loc["0"]
    assert row["checkpoint_epochs"] == "4, 4, 5"  # seed order
    assert row["checkpoint_val_auroc_ssl"] == pytest.approx(0.80)
    assert row["checkpoint_val_auroc"] == pytest.approx(np.mean([0.80, 0.80, 0.82]))
    assert row["checkpoint_auroc"] == pytest.approx(0.80)
    assert row["checkpoint_pd_change"] == pytest.approx(np.mean([-0.06, -0.06, -0.05]))
    assert row["checkpoint_pd_change_low"] < row["checkpoint_pd_change"] < row["checkpoint_pd_change_high"]
    assert row["checkpoint_verdict"] == "not_tested"
    assert row["matched_verdict"] in ("fairer", "not_distinguishable")  # the headline's reference stays
    assert pd.isna(table.loc["supervised", "checkpoint_verdict"])
    # without the match table the epochs stay empty, the changes do not
    bare = setup_table(inference).set_index("setup").loc["0"]
    assert pd.isna(bare["checkpoint_epochs"]) and bare["checkpoint_verdict"] == "not_tested"
    # a study without trajectories: the columns exist and are empty
    none = setup_table(study_inference(_study(BASE))).set_index("setup")
    assert none["checkpoint_pd_change"].isna().all()


def test_checkpoint_sentence_words_the_row() -> None:
    row = dict.fromkeys(SETUP_COLUMNS, np.nan)
    row.update(
        setup="0",
        auroc=0.801,
        checkpoint_epochs="4, 4",
        checkpoint_val_auroc_ssl=0.812,
        checkpoint_val_auroc=0.809,
        checkpoint_auroc=0.795,
        checkpoint_pd_change=-0.021,
        checkpoint_pd_change_low=-0.05,
        checkpoint_pd_change_high=0.01,
        checkpoint_improvement=0.12,
        checkpoint_improvement_low=-0.05,
        checkpoint_improvement_high=0.3,
        checkpoint_verdict="not_tested",
    )
    text = checkpoint_sentence(row)
    assert text.startswith("Against the supervised model's own epoch-4 checkpoint")
    assert "(0.812 vs 0.809; test AUROC 0.801 vs 0.795)" in text
    assert "PD change -0.021 [-0.050 to +0.010]" in text
    assert "12% lower" in text and "not tested" in text and "fairer" not in text
    row["checkpoint_val_auroc"] = 0.85  # 0.038 away: the trajectory never came closer
    gap = checkpoint_sentence(row)
    assert "the closest its training came to the setup's validation AUROC (0.812 vs 0.850" in gap
    assert "trained to the same" not in gap
    row["checkpoint_epochs"] = "4, 6"
    assert "checkpoints (epochs 4, 6, one per seed)" in checkpoint_sentence(row)
    row["checkpoint_verdict"] = "one_seed"
    assert "no verdict with one seed" in checkpoint_sentence(row)
    row["checkpoint_verdict"] = np.nan
    assert checkpoint_sentence(row) == ""
