"""The supervised training trajectory: recorded without changing training, stored compactly, optional
for a run's integrity, and read on validation only to choose the trained reference's epoch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from fairssl.config import FinetuneConfig, ModelConfig
from fairssl.errors import DataError
from fairssl.experiments.grid import RunSpec
from fairssl.experiments.stage_inference import CHECKPOINT_COLUMNS, checkpoint_matches
from fairssl.experiments.training import trajectory_table
from fairssl.finetune.setups import get_setup
from fairssl.finetune.train import finetune, predict_proba

MODEL = ModelConfig(widths=[8, 8, 8], kernels=[5, 3, 3], head_hidden=8, head_dropout=0.5)


def _task(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(np.int64)
    X = rng.normal(size=(n, 3, 20)).astype(np.float32)
    X[:, 0, 10:] += 0.8 * y[:, None]
    return X, y


def _train(record: bool):
    X, y = _task(96, 0)
    Xv, yv = _task(40, 1)
    Xt, _ = _task(30, 2)
    config = FinetuneConfig(epochs=4, batch_size=32, patience=0, optimizer="adam", lr=1e-2)
    model, result = finetune(
        X,
        y,
        Xv,
        yv,
        setup=get_setup("supervised"),
        model=MODEL,
        config=config,
        seed=3,
        record_splits={"test": Xt} if record else None,
    )
    return model, result, Xv, Xt


def test_recording_the_trajectory_leaves_training_bit_identical() -> None:
    plain_model, plain, _, Xt = _train(record=False)
    rec_model, rec, Xv, _ = _train(record=True)
    assert plain.trajectory == {}
    assert plain.history == rec.history and plain.best_epoch == rec.best_epoch
    a, b = plain_model.state_dict(), rec_model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    np.testing.assert_array_equal(predict_proba(plain_model, Xt), predict_proba(rec_model, Xt))
    # one (epoch, split) per epoch and split, P(y=1) in float32 per window
    assert sorted(rec.trajectory) == [(e, s) for e in range(1, 5) for s in ("test", "val")]
    assert all(v.dtype == np.float32 for v in rec.trajectory.values())
    assert rec.trajectory[(1, "test")].shape == (len(Xt),)
    # the selected epoch's recorded scores are the returned model's scores
    best = rec.best_epoch
    np.testing.assert_allclose(rec.trajectory[(best, "val")], predict_proba(rec_model, Xv)[:, 1], rtol=1e-6)
    np.testing.assert_allclose(rec.trajectory[(best, "test")], predict_proba(rec_model, Xt)[:, 1], rtol=1e-6)
    # the recorded validation scores give the history's validation AUROC
    from sklearn.metrics import roc_auc_score

    _, yv = _task(40, 1)
    for row in rec.history:
        e = int(row["epoch"])
        assert roc_auc_score(yv, rec.trajectory[(e, "val")]) == pytest.approx(row["val_auroc"], abs=1e-6)


def test_trajectory_table_layout() -> None:
    traj = {
        (2, "val"): np.array([0.3, 0.4], dtype=np.float32),
        (1, "test"): np.array([0.1, 0.2, 0.9], dtype=np.float32),
        (1, "val"): np.array([0.5, 0.6], dtype=np.float32),
        (2, "test"): np.array([0.7, 0.8, 0.2], dtype=np.float32),
    }
    ids = {"val": np.array(["v1", "v2"]), "test": np.array(["t1", "t2", "t3"])}
    table = trajectory_table(traj, ids)
    assert list(table.columns) == ["epoch", "split", "window_id", "prob_1"]
    assert table["prob_1"].dtype == np.float32 and len(table) == 10
    assert list(table["epoch"]) == [1] * 5 + [2] * 5
    assert list(table["split"][:5]) == ["test"] * 3 + ["val"] * 2
    row = table[(table["epoch"] == 2) & (table["window_id"] == "t3")]
    assert row["prob_1"].iloc[0] == pytest.approx(0.2)


def _spec(setup: str, seed: int) -> RunSpec:
    return RunSpec(run_id=f"ft-{setup}-{seed}", kind="finetune", seed=seed, setup=setup)


def _trajectory(val: dict[int, np.ndarray], test: dict[int, np.ndarray]) -> pd.DataFrame:
    traj = {**{(e, "val"): p for e, p in val.items()}, **{(e, "test"): p for e, p in test.items()}}
    n_val, n_test = len(next(iter(val.values()))), len(next(iter(test.values())))
    ids = {
        "val": np.array([f"v{i}" for i in range(n_val)]),
        "test": np.array([f"t{i}" for i in range(n_test)]),
    }
    return trajectory_table(traj, ids)


def test_the_epoch_is_chosen_on_validation_and_never_on_test() -> None:
    y_val = np.array([0, 0, 0, 1, 1, 1])
    y_test = np.array([0, 1, 0, 1, 0, 1])
    perfect_val = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])  # val AUROC 1.0
    weak_val = np.array([0.1, 0.8, 0.3, 0.7, 0.2, 0.9])  # val AUROC 5/9
    good_test = np.array([0.1, 0.9, 0.2, 0.8, 0.3, 0.7])  # test AUROC 1.0
    bad_test = np.array([0.9, 0.1, 0.8, 0.2, 0.7, 0.3])  # test AUROC 0.0
    # epoch 1 matches the SSL model on validation but its test scores are poor; epoch 2 is the reverse
    traj = _trajectory({1: perfect_val, 2: weak_val}, {1: bad_test, 2: good_test})
    sup, ssl = _spec("supervised", 0), _spec("0", 0)
    val_pred = {
        sup.run_id: pd.DataFrame(
            {"window_id": [f"v{i}" for i in range(6)], "y": y_val, "prob_1": perfect_val}
        ),
        ssl.run_id: pd.DataFrame(
            {"window_id": [f"v{i}" for i in range(6)], "y": y_val, "prob_1": perfect_val}
        ),
    }
    order = np.array([f"t{i}" for i in range(6)])[::-1]  # the study's window order differs from the file's
    match, refs = checkpoint_matches([sup, ssl], order, y_test[::-1], {sup.run_id: traj}, val_pred)
    assert list(match.columns) == CHECKPOINT_COLUMNS
    (row,) = match.to_dict("records")
    assert (row["setup"], row["seed"], row["epoch"]) == ("0", 0, 1)
    assert row["val_auroc_ssl"] == row["val_auroc_checkpoint"] == pytest.approx(1.0)
    assert row["test_auroc_checkpoint"] == pytest.approx(0.0)  # recorded, not used for the choice
    np.testing.assert_array_equal(refs[("0", 0)], bad_test[::-1].astype(np.float32).astype(np.float64))
    # swapping the two epochs' test scores leaves the choice where validation put it
    swapped = _trajectory({1: perfect_val, 2: weak_val}, {1: good_test, 2: bad_test})
    match2, _ = checkpoint_matches([sup, ssl], order, y_test[::-1], {sup.run_id: swapped}, val_pred)
    assert int(match2["epoch"].iloc[0]) == 1
    # an SSL model with the weak validation AUROC gets epoch 2, whatever its test scores
    val_pred[ssl.run_id] = val_pred[ssl.run_id].assign(prob_1=weak_val)
    match3, _ = checkpoint_matches([sup, ssl], order, y_test[::-1], {sup.run_id: traj}, val_pred)
    assert int(match3["epoch"].iloc[0]) == 2


def test_no_trajectory_no_reference_and_other_windows_are_refused() -> None:
    sup, ssl, other = _spec("supervised", 0), _spec("0", 0), _spec("0", 1)
    y = np.array([0, 0, 1, 1])
    val = pd.DataFrame({"window_id": ["v0", "v1", "v2", "v3"], "y": y, "prob_1": [0.1, 0.4, 0.35, 0.8]})
    preds = {sup.run_id: val, ssl.run_id: val, other.run_id: val}
    traj = _trajectory({1: np.array([0.1, 0.4, 0.35, 0.8])}, {1: np.array([0.2, 0.3, 0.6, 0.7])})
    order = np.array(["t0", "t1", "t2", "t3"])
    match, refs = checkpoint_matches([sup, ssl, other], order, y, {}, preds)
    assert match.empty and refs == {}
    match, refs = checkpoint_matches([sup, ssl, other], order, y, {sup.run_id: traj}, preds)
    assert list(match["seed"]) == [0] and set(refs) == {("0", 0)}  # seed 1 has no supervised run
    with pytest.raises(DataError, match="other test windows"):
        checkpoint_matches([sup, ssl], np.array(["t0", "t1", "x2", "t3"]), y, {sup.run_id: traj}, preds)
