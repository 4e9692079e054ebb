"""One run, in whichever process executes it: pre-train an encoder or fine-tune a setup, write its
artifacts under ``runs/.partial/<id>/`` and publish them with one rename.

A fine-tuning run also stores its validation predictions (``val_predictions.parquet``: window_id,
subject, y, (y_clean), prob_k and the dataset's attribute columns), so post-processing can be refitted
without retraining. With ``finetune.mitigation = "thresholds"`` the per-group thresholds fitted on them
(``thresholds.csv``, :mod:`fairssl.evaluation.thresholds`) shift the test scores: ``prob_1`` (and
``prob_0 = 1 - prob_1``) are the adjusted scores every later stage reads, ``prob_1_raw`` the model's.

The ``supervised`` setup also stores its training trajectory (``trajectory.parquet``: epoch, split
(``val`` | ``test``), window_id, prob_1 float32): every epoch's weights scored on the validation and test
windows, for the trained accuracy-matched reference ``checkpoint:<setup>`` of stage 5 (test scores are
recorded, never used for a choice during training). The file is optional: runs trained before it
existed lack it and are complete.

Every file is written atomically (:mod:`fairssl.atomic`), and ``done.json``, written last, records the
size and SHA-256 of every other file and the torch thread count the run used, so a resume can tell an
intact run from a damaged one (:mod:`fairssl.experiments.integrity`)."""

from __future__ import annotations

import os
import pickle
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from fairssl.atomic import (
    save_npz_atomic,
    torch_save_atomic,
    write_csv_atomic,
    write_json_atomic,
    write_parquet_atomic,
)
from fairssl.config import StudyConfig
from fairssl.data.dataset import WindowDataset
from fairssl.data.pool import pool_shares, select_pool
from fairssl.errors import DataError
from fairssl.evaluation.fairness import intersect
from fairssl.evaluation.thresholds import apply_group_thresholds, fit_group_thresholds
from fairssl.experiments.artifacts import activation_sample
from fairssl.experiments.grid import RunSpec
from fairssl.experiments.integrity import fingerprint
from fairssl.experiments.workspace import Workspace, epoch_reporter
from fairssl.finetune.mitigation import check_target_attributes, needs_groups
from fairssl.finetune.setups import Setup, get_setup
from fairssl.finetune.train import FinetuneResult, finetune, predict_proba
from fairssl.runtime import keeps_global_rng, resolve_device
from fairssl.similarity.activations import capture_activations
from fairssl.ssl.encoder import Encoder
from fairssl.ssl.encoders import encoder_layer_names
from fairssl.ssl.heads import Classifier
from fairssl.ssl.pretrain import PretrainResult, build_encoder, pretrain

_ARCHITECTURE_FIX = (
    "set [model] widths/kernels/padding to the encoder's architecture (and model.arch or model.factory "
    "to its kind)"
)


def _labelled_arrays(ds: WindowDataset, split: str) -> tuple[np.ndarray, np.ndarray]:
    idx = ds.indices(split)
    return np.asarray(ds.X[idx]), ds.y[idx]


def mitigation_groups(ds: WindowDataset, idx: np.ndarray, names: list[str]) -> np.ndarray:
    """The group label (N,) of windows ``idx`` for ``finetune.mitigation_attributes`` ``names``: the
    attribute's value, or for several attributes their intersection (``"female & 65+"``)."""
    check_target_attributes(names, ds.attribute_names)
    attrs = ds.attributes.iloc[idx]
    labels = attrs[names[0]] if len(names) == 1 else intersect(attrs, names)
    return np.asarray(labels.astype(str))


def _predictions(ds: WindowDataset, idx: np.ndarray, prob: np.ndarray) -> pd.DataFrame:
    """window_id, subject, y, (y_clean), prob_k of windows ``idx`` (no attributes: joined on reading)."""
    pred = pd.DataFrame({"window_id": ds.window_id[idx], "subject": ds.subject[idx], "y": ds.y[idx]})
    if ds.y_clean is not None:
        pred["y_clean"] = ds.y_clean[idx]
    for k in range(prob.shape[1]):
        pred[f"prob_{k}"] = prob[:, k]
    return pred


def _post_process(
    pred: pd.DataFrame,
    val: pd.DataFrame,
    val_groups: np.ndarray,
    test_groups: np.ndarray,
    config: StudyConfig,
) -> pd.DataFrame:
    """Fit per-group thresholds on ``val`` and shift ``pred``'s scores in place (the model's kept as
    ``prob_1_raw``); returns the thresholds table."""
    if "prob_2" in pred:
        raise DataError("finetune.mitigation = 'thresholds' needs a binary task; this one has more classes")
    tau = config.evaluation.threshold
    table = fit_group_thresholds(
        val["y"].to_numpy(),
        val["prob_1"].to_numpy(),
        val_groups,
        threshold=tau,
        rate=config.finetune.mitigation_settings()["rate"],
    )
    raw = pred["prob_1"].to_numpy()
    adjusted = apply_group_thresholds(raw, test_groups, table, threshold=tau)
    pred["prob_0"], pred["prob_1"], pred["prob_1_raw"] = 1.0 - adjusted, adjusted, raw
    return table


def trajectory_table(
    trajectory: dict[tuple[int, str], np.ndarray], window_ids: dict[str, np.ndarray]
) -> pd.DataFrame:
    """The long table of a training trajectory: one row per (epoch, split, window) with columns epoch
    (int), split (``val`` | ``test``), window_id and prob_1 (float32), in epoch then split order."""
    frames = [
        pd.DataFrame(
            {
                "epoch": np.full(len(prob), epoch, dtype=np.int32),
                "split": split,
                "window_id": window_ids[split],
                "prob_1": np.asarray(prob, dtype=np.float32),
            }
        )
        for (epoch, split), prob in sorted(trajectory.items())
    ]
    columns = ["epoch", "split", "window_id", "prob_1"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def _read_state(path: str) -> dict[str, Any]:
    """The encoder state dict in the ``pretrain.weights`` file: the file's dict itself, or its
    ``"encoder"`` entry (a fairssl checkpoint). Loaded with ``weights_only=True`` (a checkpoint's
    :class:`~fairssl.ssl.pretrain.PretrainResult` allowed where torch supports allow-lists)."""
    try:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            allow = getattr(torch.serialization, "safe_globals", None)  # torch >= 2.5
            if allow is None:
                raise
            with allow([PretrainResult]):
                obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(
            f"pretrain.weights = '{path}' is not a loadable torch state dict ({first[:200]}); save it with "
            "torch.save(encoder.state_dict(), path)"
        ) from None
    if isinstance(obj, dict) and isinstance(obj.get("encoder"), dict):
        obj = obj["encoder"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise DataError(
            f"pretrain.weights = '{path}' holds a {type(obj).__name__}, not a state dict of tensors; save "
            "it with torch.save(encoder.state_dict(), path)"
        )
    return obj


def _shape(t: torch.Tensor) -> tuple[int, ...]:
    return tuple(t.shape)


def architecture_mismatch(encoder: Encoder, state: dict[str, torch.Tensor]) -> str | None:
    """What keeps ``state`` from loading strictly into ``encoder``: the first key (in the encoder's
    order, then the file's) that is missing, unexpected or of another shape, with its shapes; None when
    it fits."""
    expected = encoder.state_dict()
    for key, value in expected.items():
        if key not in state:
            return f"key '{key}' {_shape(value)} of the [model] encoder is missing from the file"
        if _shape(state[key]) != _shape(value):
            theirs, ours = _shape(state[key]), _shape(value)
            return f"key '{key}' has shape {theirs} in the file, {ours} in the [model] encoder"
    for key, value in state.items():
        if key not in expected:
            return f"the file's key '{key}' {_shape(value)} is not in the [model] encoder"
    return None


@keeps_global_rng  # building the encoder initialises weights that are then overwritten
def load_encoder_weights(path: str, config: StudyConfig, in_channels: int, n_steps: int) -> Encoder:
    """The ``[model]`` encoder for windows (C = ``in_channels``, T = ``n_steps``) holding the weights of
    the ``pretrain.weights`` file, loaded strictly; a one-line DataError naming the first mismatching key
    and its shapes when the file's architecture differs. Draws no random numbers (the global states are
    restored after the throwaway initialisation)."""
    state = _read_state(path)
    encoder = build_encoder(config.model, in_channels, n_steps)
    problem = architecture_mismatch(encoder, state)
    if problem is not None:
        raise DataError(f"pretrain.weights = '{path}' does not fit [model]: {problem}; {_ARCHITECTURE_FIX}")
    encoder.load_state_dict(state, strict=True)
    return encoder


def _loaded_run(spec: RunSpec, ds: WindowDataset, config: StudyConfig, out: Path) -> dict[str, Any]:
    """The pre-training run of ``pretrain.weights``: the file's encoder saved as the run's ``encoder.pt``
    (as a trained run saves it, so fine-tuning, CKA and probes read it unchanged) and a one-row
    ``history.csv`` (epoch 0, source ``loaded``, path, sha256). No ``pool.csv``: the encoder was not
    trained on this study's pool, so its shares would describe nothing (the report leaves the run out)."""
    path = str(config.pretrain.weights)
    sha = str(spec.payload.get("weights", {}).get("sha256", ""))
    encoder = load_encoder_weights(path, config, ds.n_channels, ds.n_steps)
    torch_save_atomic(encoder.state_dict(), out / "encoder.pt")
    history = pd.DataFrame([{"epoch": 0, "source": "loaded", "path": path, "sha256": sha}])
    write_csv_atomic(history, out / "history.csv")
    return {"best_epoch": 0, "stopped_early": False, "epochs": 0, "weights_sha256": sha}


def _pretrain_run(spec: RunSpec, ds: WindowDataset, config: StudyConfig, out: Path) -> dict[str, Any]:
    """Pre-train on the pool and train windows (labels unused, composition per ``pretrain.pool``).

    Early stopping watches the val windows. The pool's group shares are written to ``pool.csv`` and
    returned as run metrics ``pool_windows`` and ``pool_share:<attribute>=<group>``. With
    ``pretrain.weights`` set nothing is trained: the file's encoder is the run's (:func:`_loaded_run`).
    """
    if config.pretrain.weights is not None:
        return _loaded_run(spec, ds, config, out)
    pool = select_pool(ds, config.pretrain.pool, seed=spec.seed)
    shares = pool_shares(ds, pool)
    write_csv_atomic(shares, out / "pool.csv")
    encoder, result = pretrain(
        np.asarray(ds.X[pool]),
        np.asarray(ds.X[ds.indices("val")]),
        model=config.model,
        config=config.pretrain,
        seed=spec.seed,
        device=resolve_device(config.runtime.device),
        checkpoint=out / "checkpoint.pt",
        on_epoch=epoch_reporter(out, config.pretrain.epochs),
    )
    torch_save_atomic(encoder.state_dict(), out / "encoder.pt")
    write_csv_atomic(pd.DataFrame(result.history), out / "history.csv")
    (out / "checkpoint.pt").unlink(missing_ok=True)
    return {
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "epochs": len(result.history),
        "pool_windows": len(pool),
        **{f"pool_share:{r.attribute}={r.group}": r.share for r in shares.itertuples()},
    }


@dataclass
class FinetuneInputs:
    """What one fine-tuning run trains on beyond the shared windows: its setup, the pre-trained encoder
    (SSL setups), the training windows' group labels (mitigations that need them) and the splits whose
    scores are recorded every epoch (``supervised``: the test windows)."""

    setup: Setup
    encoder_state: dict[str, torch.Tensor] | None
    groups: np.ndarray | None
    record: dict[str, np.ndarray] | None


def finetune_inputs(spec: RunSpec, ds: WindowDataset, config: StudyConfig, ws: Workspace) -> FinetuneInputs:
    """The run-specific inputs of fine-tuning run ``spec`` (its encoder read from its pre-training run)."""
    setup = get_setup(spec.setup or "supervised", encoder_layer_names(config.model))
    encoder_state = None
    if spec.depends_on is not None:
        encoder_state = torch.load(ws.run(spec.depends_on) / "encoder.pt", weights_only=True)
    record = {"test": np.asarray(ds.X[ds.indices("test")])} if setup.name == "supervised" else None
    groups = None
    if needs_groups(config.finetune.mitigation):  # training sees groups only when its mitigation needs them
        groups = mitigation_groups(ds, ds.indices("train"), config.finetune.mitigation_attributes)
    return FinetuneInputs(setup, encoder_state, groups, record)


def _finetune_run(
    spec: RunSpec, ds: WindowDataset, config: StudyConfig, ws: Workspace, out: Path
) -> dict[str, Any]:
    """Fine-tune one setup and write its artifacts (:func:`write_finetuned`)."""
    inputs = finetune_inputs(spec, ds, config, ws)
    X_tr, y_tr = _labelled_arrays(ds, "train")
    X_va, y_va = _labelled_arrays(ds, "val")
    model, result = finetune(
        X_tr,
        y_tr,
        X_va,
        y_va,
        setup=inputs.setup,
        model=config.model,
        config=config.finetune,
        encoder_state=inputs.encoder_state,
        n_classes=max(2, ds.n_classes),
        seed=spec.seed,
        device=resolve_device(config.runtime.device),
        on_epoch=epoch_reporter(out, config.finetune.epochs),
        groups=inputs.groups,
        record_splits=inputs.record,
    )
    return write_finetuned(model, result, ds, config, out)


def write_finetuned(
    model: Classifier, result: FinetuneResult, ds: WindowDataset, config: StudyConfig, out: Path
) -> dict[str, Any]:
    """Write a fine-tuned model's artifacts into ``out``: its weights, history, (trajectory), test and
    validation predictions keyed by window id (post-processing mitigation applied to the test scores)
    and conv activations; returns the run's summary numbers."""
    device = resolve_device(config.runtime.device)
    ft = config.finetune
    test = ds.indices("test")
    X_te = np.asarray(ds.X[test])
    torch_save_atomic(model.state_dict(), out / "model.pt")
    write_csv_atomic(pd.DataFrame(result.history), out / "history.csv")
    if result.trajectory:
        ids = {"val": ds.window_id[ds.indices("val")], "test": ds.window_id[test]}
        write_parquet_atomic(trajectory_table(result.trajectory, ids), out / "trajectory.parquet")
    pred = _predictions(ds, test, predict_proba(model, X_te, device=device))
    val_idx = ds.indices("val")
    X_va, _ = _labelled_arrays(ds, "val")
    val = _predictions(ds, val_idx, predict_proba(model, X_va, device=device))
    extra: dict[str, Any] = {}
    if ft.mitigation == "thresholds":
        table = _post_process(
            pred,
            val,
            mitigation_groups(ds, val_idx, ft.mitigation_attributes),
            mitigation_groups(ds, test, ft.mitigation_attributes),
            config,
        )
        write_csv_atomic(table, out / "thresholds.csv")
        extra = {f"threshold:{r.group}": r.threshold for r in table.itertuples()}
    write_parquet_atomic(pred, out / "predictions.parquet")
    val = val.join(ds.attributes.iloc[val_idx].reset_index(drop=True).astype(str))
    write_parquet_atomic(val, out / "val_predictions.parquet")
    kept = activation_sample(ds.subject[test], ft.activation_windows)
    acts = capture_activations(model.encoder, X_te[kept], list(model.encoder.layer_names))
    arrays: dict[str, np.ndarray] = {k: v.astype(np.float16) for k, v in acts.items()}
    arrays["window_id"] = ds.window_id[test][kept].astype(str)
    save_npz_atomic(out / "activations.npz", **arrays)
    best = result.history[result.best_epoch - 1] if result.best_epoch else {}
    return {
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "epochs": len(result.history),
        "trainable_parameters": result.trainable_parameters,
        "val_auroc": best.get("val_auroc", float("nan")),
        **extra,
    }


def start_run(spec: RunSpec, ws: Workspace) -> Path:
    """A fresh ``runs/.partial/<id>/`` folder holding the run's ``spec.json``."""
    part = ws.partial(spec.run_id)
    part.mkdir(parents=True, exist_ok=True)
    write_json_atomic(part / "spec.json", spec.to_dict())
    return part


def publish_run(spec: RunSpec, ws: Workspace, summary: dict[str, Any]) -> None:
    """Write ``done.json`` (the run's spec, thread count, torch version, summary and the fingerprint of
    every file) into ``runs/.partial/<id>/``, then publish the folder as ``runs/<id>/`` with one rename."""
    part = ws.partial(spec.run_id)
    (part / "progress.json").unlink(missing_ok=True)
    record = {
        **spec.to_dict(),
        "threads": torch.get_num_threads(),  # what the run really used (spec.threads, set by its worker)
        "torch": torch.__version__,
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "summary": summary,
        "artifacts": fingerprint(part),
    }
    write_json_atomic(part / "done.json", record)
    final = ws.run(spec.run_id)
    if final.exists():  # a stale copy (its store record was not done): replaced whole
        shutil.rmtree(final)
    os.replace(part, final)


def execute_run(spec: RunSpec, ds: WindowDataset, config: StudyConfig, ws: Workspace) -> dict[str, Any]:
    """Execute one run: write its artifacts under ``runs/.partial/<id>/`` (``done.json`` last), then
    publish the folder as ``runs/<id>/`` with one rename, so ``runs/<id>/`` is always complete."""
    part = start_run(spec, ws)
    start = time.perf_counter()
    if spec.kind == "pretrain":
        summary = _pretrain_run(spec, ds, config, part)
    else:
        summary = _finetune_run(spec, ds, config, ws, part)
    summary["seconds"] = round(time.perf_counter() - start, 2)
    publish_run(spec, ws, summary)
    return summary


__all__ = [
    "FinetuneInputs",
    "architecture_mismatch",
    "execute_run",
    "finetune_inputs",
    "load_encoder_weights",
    "publish_run",
    "start_run",
    "trajectory_table",
    "write_finetuned",
]
