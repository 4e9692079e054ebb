"""Run a study: load data, execute the grid's runs (resuming finished ones), analyse, report.

Run folder layout (``<output_dir>/<name>-<config hash>/``)::

    config.toml                 the resolved config (all defaults filled in)
    dataset/                    the audit tables of stage 1
    runs/<run_id>/              spec.json, history.csv, model.pt | encoder.pt,
                                predictions.parquet and activations.npz (fine-tuning runs),
                                done.json (written last: a run without it is redone)
    results/                    results.parquet/.csv (one row per run x attribute x group x metric),
                                summary.csv, cka.csv, cka_conditioned.csv, ...
    figures/                    PNG and SVG of every figure
    report.html                 the self-contained report
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from fairssl.config import StudyConfig, save_config
from fairssl.data.dataset import WindowDataset
from fairssl.errors import DataError, RunError
from fairssl.experiments.grid import RunSpec, expand
from fairssl.finetune.setups import get_setup
from fairssl.finetune.train import finetune, predict_proba
from fairssl.runtime import resolve_device, set_threads
from fairssl.similarity.activations import capture_activations
from fairssl.ssl.pretrain import pretrain

Log = Callable[[str], None]


@dataclass
class Workspace:
    """Paths of a run folder."""

    root: Path

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def figures(self) -> Path:
        return self.root / "figures"

    def run(self, run_id: str) -> Path:
        return self.runs / run_id

    def is_done(self, run_id: str) -> bool:
        return (self.run(run_id) / "done.json").is_file()


def run_dir_for(config: StudyConfig) -> Path:
    """``<output_dir>/<name>-<hash of the config>``: the same config always lands in the same folder."""
    return Path(config.output_dir) / f"{config.name}-{config.digest()}"


def load_study_data(config: StudyConfig) -> WindowDataset:
    """The dataset named by ``config.data`` (the simulator by default)."""
    if config.data.source == "simulate":
        from fairssl.data.simulate import simulate

        return simulate(config.data.simulate, seed=config.data.simulate.seed)
    from fairssl.data.loaders import load_dataset

    return load_dataset(config.data.source, config.data.path, **config.data.options)


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    os.replace(tmp, path)


def _labelled_arrays(ds: WindowDataset, split: str) -> tuple[np.ndarray, np.ndarray]:
    idx = ds.indices(split)
    return np.asarray(ds.X[idx]), ds.y[idx]


def _pretrain_run(spec: RunSpec, ds: WindowDataset, config: StudyConfig, out: Path) -> dict[str, Any]:
    """Pre-train on the pool and train windows (labels unused); early stopping on the val windows."""
    pool = np.sort(np.concatenate([ds.indices("pool"), ds.indices("train")]))
    encoder, result = pretrain(
        np.asarray(ds.X[pool]),
        np.asarray(ds.X[ds.indices("val")]),
        model=config.model,
        config=config.pretrain,
        seed=spec.seed,
        device=resolve_device(config.runtime.device),
        checkpoint=out / "checkpoint.pt",
    )
    torch.save(encoder.state_dict(), out / "encoder.pt")
    pd.DataFrame(result.history).to_csv(out / "history.csv", index=False)
    (out / "checkpoint.pt").unlink(missing_ok=True)
    return {
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "epochs": len(result.history),
    }


def _finetune_run(spec: RunSpec, ds: WindowDataset, config: StudyConfig, ws: Workspace) -> dict[str, Any]:
    """Fine-tune one setup; store test predictions and conv activations keyed by window id."""
    out = ws.run(spec.run_id)
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
    """Execute one run and write its artifacts; ``done.json`` is written last (atomically)."""
    out = ws.run(spec.run_id)
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / "spec.json", spec.to_dict())
    start = time.perf_counter()
    if spec.kind == "pretrain":
        summary = _pretrain_run(spec, ds, config, out)
    else:
        summary = _finetune_run(spec, ds, config, ws)
    summary["seconds"] = round(time.perf_counter() - start, 2)
    _write_json(out / "done.json", {**spec.to_dict(), "summary": summary})
    return summary


def run_study(config: StudyConfig, *, run_dir: Path | None = None, log: Log = print) -> Path:
    """Run (or resume) the whole study and write results and the report; returns the run folder."""
    set_threads(config.runtime.threads)
    ws = Workspace(run_dir or run_dir_for(config))
    ws.root.mkdir(parents=True, exist_ok=True)
    save_config(config, ws.root / "config.toml")
    ds = load_study_data(config)
    if ds.n_classes > 2:
        raise DataError(
            f"the dataset has {ds.n_classes} classes; `fairssl run` currently needs a binary label"
        )
    log(f"data: {ds.name}, {ds.X.shape[0]} windows x {ds.n_channels} channels x {ds.n_steps} steps")
    from fairssl.experiments.analyse import analyse, write_audit

    write_audit(ds, config, ws.root / "dataset")
    specs = expand(config)
    todo = [s for s in specs if not ws.is_done(s.run_id)]
    if len(todo) < len(specs):
        log(f"resuming: {len(specs) - len(todo)} of {len(specs)} runs already done")
    for i, spec in enumerate(todo, 1):
        label = spec.kind if spec.kind == "pretrain" else f"setup {spec.setup}"
        try:
            summary = execute_run(spec, ds, config, ws)
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            raise RunError(f"run {spec.run_id} ({label}, seed {spec.seed}) failed: {exc}") from exc
        extra = f", val AUROC {summary['val_auroc']:.3f}" if "val_auroc" in summary else ""
        log(
            f"[{i}/{len(todo)}] {label:<22} seed {spec.seed}: {summary['epochs']} epochs{extra} "
            f"({summary['seconds']:.1f} s)"
        )
    analyse(ds, config, ws, specs, log=log)
    return ws.root
