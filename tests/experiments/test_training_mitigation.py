"""A fine-tuning run with a mitigation, end to end through ``execute_run``: groups reach training from the
dataset's attribute columns, validation predictions are stored for every run, and ``thresholds`` keeps
the model's scores beside the adjusted ones that every later stage reads."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from fairssl.config import StudyConfig, build_config
from fairssl.errors import DataError
from fairssl.evaluation.thresholds import apply_group_thresholds
from fairssl.experiments.artifacts import load_predictions
from fairssl.experiments.grid import expand, unique_runs
from fairssl.experiments.training import execute_run
from fairssl.experiments.workspace import Workspace, load_study_data


def _config(tiny: dict, **finetune: object) -> StudyConfig:
    cfg = copy.deepcopy(tiny)
    cfg["finetune"] = {**cfg["finetune"], "setups": ["supervised"], **finetune}
    return build_config(cfg)


def _run(config: StudyConfig, ws: Workspace) -> tuple[str, dict]:
    (spec,) = unique_runs(expand(config))
    summary = execute_run(spec, load_study_data(config), config, ws)
    return spec.run_id, summary


def test_thresholds_run_stores_raw_and_adjusted_scores_and_validation_predictions(
    tmp_path, tiny_config_dict
) -> None:
    ws = Workspace(tmp_path)
    none_cfg = _config(tiny_config_dict)
    thr_cfg = _config(tiny_config_dict, mitigation="thresholds", mitigation_attributes=["sex"])
    ds = load_study_data(thr_cfg)
    none_id, _ = _run(none_cfg, ws)
    thr_id, summary = _run(thr_cfg, ws)
    assert none_id != thr_id
    # trained exactly like `none`: same weights, and the raw scores are that run's scores
    assert (ws.run(none_id) / "model.pt").read_bytes() == (ws.run(thr_id) / "model.pt").read_bytes()
    plain = pd.read_parquet(ws.run(none_id) / "predictions.parquet")
    pred = pd.read_parquet(ws.run(thr_id) / "predictions.parquet")
    assert "prob_1_raw" not in plain
    assert np.array_equal(pred["prob_1_raw"].to_numpy(), plain["prob_1"].to_numpy())
    table = pd.read_csv(ws.run(thr_id) / "thresholds.csv")
    assert sorted(table["group"]) == sorted(set(ds.attributes["sex"]))
    assert summary == {**summary, **{f"threshold:{r.group}": r.threshold for r in table.itertuples()}}
    sex = ds.attributes["sex"].reindex(pred["window_id"]).astype(str).to_numpy()
    expected = apply_group_thresholds(pred["prob_1_raw"], sex, table, threshold=thr_cfg.evaluation.threshold)
    np.testing.assert_array_equal(pred["prob_1"].to_numpy(), expected)
    np.testing.assert_allclose(pred["prob_0"] + pred["prob_1"], 1.0)
    # the fit moved every group's validation TPR towards the overall one
    assert (abs(table["rate_after"] - table["target"]) <= abs(table["rate_before"] - table["target"])).all()
    # the evaluation's reader joins the attributes as before (no attribute columns stored in predictions)
    assert list(load_predictions(ws, thr_id, ds).columns[-3:]) == ds.attribute_names

    for run_id in (none_id, thr_id):  # validation predictions of every run, with the attribute columns
        val = pd.read_parquet(ws.run(run_id) / "val_predictions.parquet")
        assert list(val.columns[:3]) == ["window_id", "subject", "y"] and {"prob_0", "prob_1"} <= set(
            val.columns
        )
        assert val["window_id"].tolist() == ds.window_id[ds.indices("val")].tolist()
        attrs = ds.attributes.loc[val["window_id"]].astype(str).reset_index(drop=True)
        pd.testing.assert_frame_equal(val[ds.attribute_names], attrs, check_names=False)
    assert "prob_1_raw" not in val  # validation scores are the model's, what the thresholds were fitted on


def test_groups_reach_training_from_the_attribute_columns_as_intersections(
    tmp_path, tiny_config_dict
) -> None:
    cfg = _config(tiny_config_dict, mitigation="group_dro", mitigation_attributes=["sex", "age_group"])
    ds = load_study_data(cfg)
    run_id, _ = _run(cfg, Workspace(tmp_path))
    history = pd.read_csv(Workspace(tmp_path).run(run_id) / "history.csv")
    train = ds.attributes.iloc[ds.indices("train")]
    cells = {f"q:{s} & {a}" for s, a in zip(train["sex"], train["age_group"], strict=True)}
    assert {c for c in history.columns if c.startswith("q:")} == cells
    np.testing.assert_allclose(history[sorted(cells)].sum(axis=1), 1.0, rtol=1e-5)


def test_an_attribute_the_dataset_lacks_is_a_data_error(tmp_path, tiny_config_dict) -> None:
    cfg = _config(tiny_config_dict, mitigation="reweigh", mitigation_attributes=["zodiac"])
    with pytest.raises(
        DataError, match=r"mitigation_attributes names \['zodiac'\], which the dataset does not"
    ):
        _run(cfg, Workspace(tmp_path))
