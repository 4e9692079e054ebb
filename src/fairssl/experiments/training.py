"""One run, in whichever process executes it: pre-train an encoder or fine-tune a setup, write its
artifacts under ``runs/.partial/<id>/`` and publish them with one rename."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from fairssl.config import StudyConfig
from fairssl.data.dataset import WindowDataset
from fairssl.data.pool import pool_shares, select_pool
from fairssl.experiments.grid import RunSpec
from fairssl.experiments.workspace import Workspace, epoch_reporter, write_json
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
    shares.to_csv(out / "pool.csv", index=False)
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
    torch.save(encoder.state_dict(), out / "encoder.pt")
    pd.DataFrame(result.history).to_csv(out / "history.csv", index=False)
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
    torch.save(model.state_dict(), out / "model.pt")
    pd.DataFrame(result.history).to_csv(out / "history.csv", index=False)
    test = ds.indices("test")
    X_te = np.asarray(ds.X[test])
    prob = predict_proba(model, X_te, device=device)
    pred = pd.DataFrame({"window_id": ds.window_id[test], "subject": ds.subject[test], "y": ds.y[test]})
    if ds.y_clean is not None:
        pred["y_clean"] = ds.y_clean[test]
    for k in range(prob.shape[1]):
        pred[f"prob_{k}"] = prob[:, k]
    pred.to_parquet(out / "predictions.parquet", index=False)
    acts = capture_activations(model.encoder, X_te, list(model.encoder.layer_names))
    arrays: dict[str, np.ndarray] = {k: v.astype(np.float16) for k, v in acts.items()}
    arrays["window_id"] = ds.window_id[test].astype(str)
    np.savez(out / "activations.npz", **arrays)  # type: ignore[arg-type]
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
    write_json(part / "spec.json", spec.to_dict())
    start = time.perf_counter()
    if spec.kind == "pretrain":
        summary = _pretrain_run(spec, ds, config, part)
    else:
        summary = _finetune_run(spec, ds, config, ws, part)
    summary["seconds"] = round(time.perf_counter() - start, 2)
    write_json(part / "done.json", {**spec.to_dict(), "summary": summary})
    final = ws.run(spec.run_id)
    if final.exists():  # a stale copy (its store record was not done): replaced whole
        shutil.rmtree(final)
    os.replace(part, final)
    return summary


__all__ = ["execute_run"]
