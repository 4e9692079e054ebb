"""One run, in whichever process executes it: pre-train an encoder or fine-tune a setup, write its
artifacts under ``runs/.partial/<id>/`` and publish them with one rename.

Every file is written atomically (:mod:`fairssl.atomic`), and ``done.json``, written last, records the
size and SHA-256 of every other file and the torch thread count the run used, so a resume can tell an
intact run from a damaged one (:mod:`fairssl.experiments.integrity`)."""

from __future__ import annotations

import os
import shutil
import time
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
from fairssl.experiments.grid import RunSpec
from fairssl.experiments.integrity import fingerprint
from fairssl.experiments.workspace import Workspace, epoch_reporter
from fairssl.finetune.setups import get_setup
from fairssl.finetune.train import finetune, predict_proba
from fairssl.runtime import resolve_device
from fairssl.similarity.activations import capture_activations
from fairssl.ssl.pretrain import pretrain


def _labelled_arrays(ds: WindowDataset, split: str) -> tuple[np.ndarray, np.ndarray]:
    idx = ds.indices(split)
    return np.asarray(ds.X[idx]), ds.y[idx]


def _pretrain_run(spec: RunSpec, ds: WindowDataset, config: StudyConfig, out: Path) -> dict[str, Any]:
    """Pre-train on the pool and train windows (labels unused, composition per ``pretrain.pool``).

    Early stopping watches the val windows. The pool's group shares are written to ``pool.csv`` and
    returned as run metrics ``pool_windows`` and ``pool_share:<attribute>=<group>``.
    """
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


def _finetune_run(
    spec: RunSpec, ds: WindowDataset, config: StudyConfig, ws: Workspace, out: Path
) -> dict[str, Any]:
    """Fine-tune one setup; store test predictions and conv activations keyed by window id."""
    device = resolve_device(config.runtime.device)
    setup = get_setup(spec.setup or "supervised", [f"conv{i + 1}" for i in range(len(config.model.widths))])
    encoder_state = None
    if spec.depends_on is not None:
        encoder_state = torch.load(ws.run(spec.depends_on) / "encoder.pt", weights_only=True)
    X_tr, y_tr = _labelled_arrays(ds, "train")
    X_va, y_va = _labelled_arrays(ds, "val")
    model, result = finetune(
        X_tr,
        y_tr,
        X_va,
        y_va,
        setup=setup,
        model=config.model,
        config=config.finetune,
        encoder_state=encoder_state,
        n_classes=max(2, ds.n_classes),
        seed=spec.seed,
        device=device,
        on_epoch=epoch_reporter(out, config.finetune.epochs),
    )
    torch_save_atomic(model.state_dict(), out / "model.pt")
    write_csv_atomic(pd.DataFrame(result.history), out / "history.csv")
    test = ds.indices("test")
    X_te = np.asarray(ds.X[test])
    prob = predict_proba(model, X_te, device=device)
    pred = pd.DataFrame({"window_id": ds.window_id[test], "subject": ds.subject[test], "y": ds.y[test]})
    if ds.y_clean is not None:
        pred["y_clean"] = ds.y_clean[test]
    for k in range(prob.shape[1]):
        pred[f"prob_{k}"] = prob[:, k]
    write_parquet_atomic(pred, out / "predictions.parquet")
    acts = capture_activations(model.encoder, X_te, list(model.encoder.layer_names))
    arrays: dict[str, np.ndarray] = {k: v.astype(np.float16) for k, v in acts.items()}
    arrays["window_id"] = ds.window_id[test].astype(str)
    save_npz_atomic(out / "activations.npz", **arrays)
    best = result.history[result.best_epoch - 1] if result.best_epoch else {}
    return {
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "epochs": len(result.history),
        "trainable_parameters": result.trainable_parameters,
        "val_auroc": best.get("val_auroc", float("nan")),
    }


def execute_run(spec: RunSpec, ds: WindowDataset, config: StudyConfig, ws: Workspace) -> dict[str, Any]:
    """Execute one run: write its artifacts under ``runs/.partial/<id>/`` (``done.json`` last), then
    publish the folder as ``runs/<id>/`` with one rename, so ``runs/<id>/`` is always complete."""
    part = ws.partial(spec.run_id)
    part.mkdir(parents=True, exist_ok=True)
    write_json_atomic(part / "spec.json", spec.to_dict())
    start = time.perf_counter()
    if spec.kind == "pretrain":
        summary = _pretrain_run(spec, ds, config, part)
    else:
        summary = _finetune_run(spec, ds, config, ws, part)
    summary["seconds"] = round(time.perf_counter() - start, 2)
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
    return summary


__all__ = ["execute_run"]
