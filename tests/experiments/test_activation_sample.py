"""finetune.activation_windows: runs store the activations of a fixed sample of whole test subjects,
predictions and fairness keep the whole test split, and CKA and the probes read the sample."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairssl.config import StudyConfig
from fairssl.experiments.artifacts import activation_sample
from fairssl.experiments.runner import run_study


def test_sample_is_whole_subjects_within_the_cap_and_fixed() -> None:
    subjects = np.repeat(np.array(["s3", "s1", "s2", "s0", "s4"]), [2, 3, 1, 4, 2])  # 12 windows
    assert np.array_equal(activation_sample(subjects, None), np.arange(12))
    assert np.array_equal(activation_sample(subjects, 12), np.arange(12))
    kept = activation_sample(subjects, 6)
    assert len(kept) <= 6 and np.all(np.diff(kept) > 0)
    chosen = set(subjects[kept])
    for s in chosen:  # a subject is kept whole or not at all
        assert (subjects[kept] == s).sum() == (subjects == s).sum()
    # the same subjects whatever the row order: the sample depends on ids, not positions
    shuffled = subjects[::-1]
    assert set(shuffled[activation_sample(shuffled, 6)]) == chosen
    # at least one subject even when every subject is larger than the cap
    assert len(activation_sample(np.array(["a"] * 5 + ["b"] * 5), 3)) == 5


def test_a_capped_study_stores_the_sample_and_analyses_it(
    tiny_config_dict: dict[str, Any], tmp_path: Path
) -> None:
    cfg = tiny_config_dict
    cfg["seeds"] = [0, 1]
    cfg["data"]["simulate"].update(n_subjects=120, split=[0.4, 0.2, 0.4])
    cfg["finetune"]["activation_windows"] = 60
    cfg["probes"] = {"n_boot": 5, "n_splits": 2}
    out = tmp_path / "study"
    run_study(StudyConfig.model_validate(cfg), run_dir=out, log=lambda _: None)
    for run in sorted((out / "runs").glob("ft-*")):
        pred = pd.read_parquet(run / "predictions.parquet")
        with np.load(run / "activations.npz") as npz:
            stored = set(npz["window_id"].astype(str))
        assert 0 < len(stored) <= 60 < len(pred)  # the cap holds; predictions keep the whole test split
        flags = pred["window_id"].astype(str).isin(stored).groupby(pred["subject"])
        assert (flags.all() == flags.any()).all()  # whole subjects only
    cka = pd.read_csv(out / "results" / "cka.csv")
    assert cka["cka"].notna().all() and len(cka) > 0
    probes = pd.read_csv(out / "results" / "probes_demographic.csv")
    assert len(probes) > 0
