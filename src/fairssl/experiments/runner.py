"""Run a study: load data, execute the grid's runs (resuming finished ones), analyse, report.

Run folder layout (``<output_dir>/<name>-<config hash>/``)::

    config.toml                 the resolved config (all defaults filled in)
    results.sqlite              the results store: status of every run (source of truth), run metrics
    dataset/                    the audit tables of stage 1
    runs/<run_id>/              spec.json, history.csv, model.pt | encoder.pt,
                                predictions.parquet and activations.npz (fine-tuning runs), done.json;
                                written under runs/.partial/<run_id>/ and published by one rename
    results/                    results.parquet/.csv (one row per variant x run x attribute x group x
                                metric), summary.csv, cka.csv, cka_conditioned.csv, ...
    variants/<slug>/            with a grid of several variants: each variant's own results/ and report
    figures/                    PNG and SVG of every figure
    report.html                 the self-contained report

Resume: the same command skips runs the store marks done (and whose artifacts exist), redoes
interrupted, failed and artifact-less ones, and adopts a run whose artifacts were published but whose
status was not recorded (a kill between the two).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch

from fairssl.config import StudyConfig, save_config
from fairssl.data.dataset import WindowDataset
from fairssl.data.pool import pool_shares, select_pool
from fairssl.errors import DataError, RunError
from fairssl.experiments.executors import Outcome, Task, dataset_for, execute, make_backend
from fairssl.experiments.grid import RunSpec, Variant, expand, specs_by_variant, unique_runs, variants
from fairssl.experiments.store import STORE_NAME, RunRecord, Store, lock_run_dir
from fairssl.finetune.setups import get_setup
from fairssl.finetune.train import finetune, predict_proba
from fairssl.runtime import resolve_device
from fairssl.similarity.activations import capture_activations
from fairssl.ssl.pretrain import pretrain

Log = Callable[[str], None]

_REQUIRED = {"pretrain": ("encoder.pt",), "finetune": ("model.pt", "predictions.parquet", "activations.npz")}


@dataclass
class Workspace:
    """Paths of a run folder. ``runs_root`` lets a variant's folder share the study's ``runs/``."""

    root: Path
    runs_root: Path | None = None

    @property
    def runs(self) -> Path:
        return self.runs_root if self.runs_root is not None else self.root / "runs"

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def figures(self) -> Path:
        return self.root / "figures"

    @property
    def store_path(self) -> Path:
        return self.root / STORE_NAME

    def run(self, run_id: str) -> Path:
        return self.runs / run_id

    def partial(self, run_id: str) -> Path:
        """Where a run writes before it is published (kept across attempts: pre-training checkpoints)."""
        return self.runs / ".partial" / run_id

    def is_done(self, run_id: str) -> bool:
        """Whether the run's artifacts were published (``done.json`` is the last file written)."""
        return (self.run(run_id) / "done.json").is_file()


def artifacts_complete(ws: Workspace, spec: RunSpec) -> bool:
    """The run's folder holds its ``done.json`` (for this run id) and every artifact of its kind."""
    out = ws.run(spec.run_id)
    if not ws.is_done(spec.run_id) or not all((out / f).is_file() for f in _REQUIRED[spec.kind]):
        return False
    try:
        return json.loads((out / "done.json").read_text()).get("run_id") == spec.run_id
    except (OSError, ValueError):
        return False


ANALYSIS_SECTIONS = ("evaluation", "similarity", "probes")
"""Config sections that only change the analysis of trained models: left out of the run folder's hash,
so changing them re-analyses the same models instead of training new ones."""


def run_dir_for(config: StudyConfig) -> Path:
    """``<output_dir>/<name>-<hash>``: the hash covers every setting but ``runtime``, ``output_dir`` and
    the analysis sections (:data:`ANALYSIS_SECTIONS`), so the same study always lands in the same folder
    whatever executor or worker count runs it, and a changed analysis setting re-analyses its models."""
    sections = [k for k in config.to_dict() if k not in ("runtime", "output_dir", *ANALYSIS_SECTIONS)]
    return Path(config.output_dir) / f"{config.name}-{config.digest(*sections)}"


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


PROGRESS_FILE = "progress.json"


def epoch_reporter(out: Path, total_epochs: int) -> Callable[[dict[str, float]], None]:
    """An ``on_epoch`` callback writing ``progress.json`` (epoch, of, last losses) atomically in ``out``.

    Works in any process (local workers, Ray): ``fairssl status`` reads it for running runs.
    """

    def report(row: dict[str, float]) -> None:
        _write_json(out / PROGRESS_FILE, {**row, "of": total_epochs, "at": time.time()})

    return report


def read_progress(out: Path) -> dict[str, float] | None:
    """The last ``progress.json`` of a run folder, or None (absent or being replaced)."""
    try:
        data = json.loads((out / PROGRESS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


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
    _write_json(part / "spec.json", spec.to_dict())
    start = time.perf_counter()
    if spec.kind == "pretrain":
        summary = _pretrain_run(spec, ds, config, part)
    else:
        summary = _finetune_run(spec, ds, config, ws, part)
    summary["seconds"] = round(time.perf_counter() - start, 2)
    _write_json(part / "done.json", {**spec.to_dict(), "summary": summary})
    final = ws.run(spec.run_id)
    if final.exists():  # a stale copy (its store record was not done): replaced whole
        shutil.rmtree(final)
    os.replace(part, final)
    return summary


# ---------------------------------------------------------------------------------------------- resume
@dataclass
class ResumePlan:
    """Which runs to execute now, which are done, and what was repaired (for the log)."""

    todo: list[RunSpec]
    done: set[str]
    adopted: list[str] = field(default_factory=list)
    redo_missing: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)


def plan_resume(store: Store, ws: Workspace, runs: Sequence[RunSpec]) -> ResumePlan:
    """Register ``runs`` in the store and decide what to (re)do; call it while holding the run-folder lock.

    - done in the store with artifacts: skipped;
    - done in the store without artifacts: redone;
    - not done in the store but published artifacts (killed between the rename and the status update,
      or a folder from before the store existed): adopted as done, not recomputed;
    - running (no live worker: the lock is ours) or failed: redone.
    """
    store.add_runs(runs)
    records = {r.run_id: r for r in store.records()}
    plan = ResumePlan(todo=[], done=set())
    reset = []
    for spec in runs:
        rec = records[spec.run_id]
        complete = artifacts_complete(ws, spec)
        if complete and rec.status == "done":
            plan.done.add(spec.run_id)
            continue
        if complete:
            done_json = ws.run(spec.run_id) / "done.json"
            summary = json.loads(done_json.read_text()).get("summary", {})
            numbers = {k: float(v) for k, v in summary.items() if isinstance(v, int | float)}
            store.mark_done(
                spec.run_id,
                seconds=numbers.get("seconds"),
                metrics=numbers,
                finished_at=done_json.stat().st_mtime,
            )
            plan.done.add(spec.run_id)
            plan.adopted.append(spec.run_id)
            continue
        if rec.status == "done":
            plan.redo_missing.append(spec.run_id)
        elif rec.status in ("running", "failed"):
            plan.retried.append(spec.run_id)
        if rec.status != "pending":
            reset.append(spec.run_id)
        plan.todo.append(spec)
    store.mark_pending(reset)
    return plan


# ---------------------------------------------------------------------------------------------- progress
class Progress(Protocol):
    """Reports a grid's progress: ``start`` once, ``finished`` per run, ``close`` at the end."""

    def start(
        self, *, total: int, done: int, todo: int, where: str, kinds: Mapping[str, int] | None = None
    ) -> None: ...

    def finished(self, spec: RunSpec, outcome: Outcome) -> None: ...

    def close(self) -> None: ...


def _eta(start: float, finished: int, remaining: int) -> float:
    """Seconds left at the throughput so far (wall clock per finished run x runs remaining)."""
    return (time.perf_counter() - start) / max(finished, 1) * remaining


def eta_by_kind(
    elapsed: float, seconds: Mapping[str, Sequence[float]], remaining: Mapping[str, int]
) -> float:
    """Seconds left when runs of different kinds take very different times (a pre-training run can take
    as long as twenty fine-tuning runs).

    Remaining work = sum over kinds of (runs left of that kind) x (mean run time of that kind so far; the
    mean over all finished runs for a kind not seen yet); it is divided by the concurrency observed so far
    (run seconds finished / wall seconds elapsed, 2 with two busy workers).
    """
    done = [t for ts in seconds.values() for t in ts]
    if not done or elapsed <= 0:
        return float("nan")
    overall = sum(done) / len(done)
    work = sum(
        n * (sum(seconds[k]) / len(seconds[k]) if seconds.get(k) else overall) for k, n in remaining.items()
    )
    concurrency = max(sum(done) / elapsed, 1e-9)
    return work / concurrency


def _clock(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def describe_outcome(spec: RunSpec, outcome: Outcome) -> str:
    """``setup 0  seed 1 [variant]: 12 epochs, val AUROC 0.712 (3.1 s)`` or ``... FAILED: error``."""
    variant = "" if spec.variant == "base" else f" [{spec.variant}]"
    head = f"{spec.label:<22} seed {spec.seed}{variant}"
    if not outcome.ok:
        return f"{head}: FAILED: {outcome.error}"
    epochs = int(outcome.summary.get("epochs", 0))
    auroc = outcome.summary.get("val_auroc")
    extra = f", val AUROC {auroc:.3f}" if auroc is not None else ""
    return f"{head}: {epochs} epochs{extra} ({outcome.seconds:.1f} s)"


class LogProgress:
    """One plain line per finished run (``[i/n] ... ETA h:mm:ss``): logs, CI, no terminal."""

    def __init__(self, log: Log = print) -> None:
        self.log = log
        self._start = time.perf_counter()
        self._todo = 0
        self._finished = 0
        self._left: dict[str, int] | None = None
        self._seconds: dict[str, list[float]] = {}

    def start(
        self, *, total: int, done: int, todo: int, where: str, kinds: Mapping[str, int] | None = None
    ) -> None:
        self._start, self._todo, self._finished = time.perf_counter(), todo, 0
        self._left, self._seconds = (dict(kinds) if kinds else None), {}
        if todo:
            self.log(f"grid: {total} runs, {todo} to run on {where}")

    def finished(self, spec: RunSpec, outcome: Outcome) -> None:
        self._finished += 1
        if self._left is not None:
            self._left[spec.kind] = max(self._left.get(spec.kind, 0) - 1, 0)
            self._seconds.setdefault(spec.kind, []).append(outcome.seconds)
            eta = eta_by_kind(time.perf_counter() - self._start, self._seconds, self._left)
        else:
            eta = _eta(self._start, self._finished, self._todo - self._finished)
        left = f", ETA {_clock(eta)}" if self._finished < self._todo and math.isfinite(eta) else ""
        self.log(f"[{self._finished}/{self._todo}] {describe_outcome(spec, outcome)}{left}")

    def close(self) -> None:
        return None


class RichProgress:
    """A live bar (runs done / total, elapsed, ETA) on a terminal; failures are printed above it."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self._bar: Any = None
        self._task: Any = None

    def start(
        self, *, total: int, done: int, todo: int, where: str, kinds: Mapping[str, int] | None = None
    ) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        if not todo:
            return
        self._bar = Progress(
            TextColumn("[bold]runs[/] ({task.fields[where]})"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._bar.start()
        self._task = self._bar.add_task("runs", total=todo, where=where)

    def finished(self, spec: RunSpec, outcome: Outcome) -> None:
        if self._bar is None:
            return
        if not outcome.ok:
            self._bar.console.print(describe_outcome(spec, outcome), highlight=False, markup=False)
        self._bar.advance(self._task)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


# ---------------------------------------------------------------------------------------------- the study
def _check_binary(ds: WindowDataset) -> None:
    if ds.n_classes > 2:
        raise DataError(
            f"the dataset has {ds.n_classes} classes; `fairssl run` currently needs a binary label"
        )


def _distinct_data(groups: Sequence[Variant]) -> list[Variant]:
    """The first variant of each distinct ``data`` section."""
    seen: dict[str, Variant] = {}
    for v in groups:
        seen.setdefault(v.config.digest("data"), v)
    return list(seen.values())


def execute_grid(
    config: StudyConfig,
    ws: Workspace,
    store: Store,
    specs: Sequence[RunSpec],
    *,
    log: Log = print,
    progress: Progress | None = None,
    task_fn: Callable[[Task], Outcome] | None = None,
) -> tuple[ResumePlan, dict[str, str]]:
    """Resume-plan and execute the unique runs of ``specs`` on ``config.runtime``'s executor.

    Returns the plan and ``run_id -> error`` of the runs that failed (or were blocked) now.
    """
    from fairssl.experiments.executors import run_task

    groups = {v.name: v for v in variants(config)}
    runs = unique_runs(list(specs))
    plan = plan_resume(store, ws, runs)
    if len(plan.todo) < len(runs):
        log(f"resuming: {len(runs) - len(plan.todo)} of {len(runs)} runs already done")
    if plan.adopted:
        log(f"recovered {len(plan.adopted)} finished run(s) from their artifacts")
    if plan.redo_missing:
        log(f"redoing {len(plan.redo_missing)} run(s) whose artifacts are missing")
    progress = progress or LogProgress(log)
    if not plan.todo:
        return plan, {}
    backend, threads = make_backend(config.runtime, fn=task_fn or run_task)
    where = f"{backend.name}, {backend.slots} worker{'s' if backend.slots > 1 else ''}"
    if threads:
        where += f" x {threads} thread{'s' if threads > 1 else ''}"
    kinds = {k: sum(s.kind == k for s in plan.todo) for k in dict.fromkeys(s.kind for s in plan.todo)}
    progress.start(total=len(runs), done=len(plan.done), todo=len(plan.todo), where=where, kinds=kinds)
    try:
        result = execute(
            plan.todo,
            backend=backend,
            store=store,
            make_task=lambda spec: Task(spec, groups[spec.variant].config, str(ws.root.resolve()), threads),
            already_done=plan.done,
            on_finish=progress.finished,
        )
    finally:
        progress.close()
    return plan, result.failed


def run_study(
    config: StudyConfig,
    *,
    run_dir: Path | None = None,
    log: Log = print,
    progress: Progress | None = None,
) -> Path:
    """Run (or resume) the whole study and write results and the report; returns the run folder.

    Raises :class:`RunError` after the grid if any run failed (the others are kept; the same call
    retries the failed ones).
    """
    from fairssl.experiments.analyse import write_audit

    ws = Workspace(Path(run_dir) if run_dir is not None else run_dir_for(config))
    ws.root.mkdir(parents=True, exist_ok=True)
    with lock_run_dir(ws.root), Store(ws.store_path) as store:
        save_config(config, ws.root / "config.toml")
        groups = variants(config)
        specs = expand(config)
        distinct = _distinct_data(groups)
        for i, v in enumerate(distinct):
            ds = dataset_for(v.config)
            _check_binary(ds)
            which = "" if len(distinct) == 1 else f" ({v.name})"
            log(
                f"data{which}: {ds.name}, {ds.X.shape[0]} windows x {ds.n_channels} channels x "
                f"{ds.n_steps} steps"
            )
            if i == 0:
                write_audit(ds, v.config, ws.root / "dataset")
        if len(groups) > 1:
            log(
                f"grid: {len(groups)} variants x {len(config.seeds)} seeds x "
                f"{len(config.finetune.setups)} setups"
            )
        _plan, failed = execute_grid(config, ws, store, specs, log=log, progress=progress)
        if failed:
            records = {r.run_id: r for r in store.records()}
            for run_id, error in failed.items():
                log(f"failed: {records[run_id].label}: {error}")
            first = next(iter(failed))
            more = f" (and {len(failed) - 1} more, listed above)" if len(failed) > 1 else ""
            raise RunError(
                f"{len(failed)} of {len(unique_runs(specs))} runs failed, e.g. {records[first].label}: "
                f"{failed[first]}{more}; fix the cause and run the same command again to retry them "
                "(finished runs are kept)"
            )
        _analyse(config, ws, groups, specs, log=log)
    return ws.root


def _analyse(
    config: StudyConfig, ws: Workspace, groups: list[Variant], specs: list[RunSpec], *, log: Log
) -> None:
    """Stages 4-5 per variant; every results table gets a ``variant`` column.

    With one variant the analysis writes to the run folder itself. With several, each variant is
    analysed in ``variants/<slug>/`` (its own results and report, sharing ``runs/``) and the run
    folder's ``results/`` holds their tables stacked, with the report built over them.
    """
    from fairssl.experiments.analyse import analyse, write_audit

    by_variant = specs_by_variant(specs)
    if len(groups) == 1:
        (v,) = groups
        analyse(dataset_for(v.config), v.config, ws, by_variant[v.name], log=log)
        _stack_tables(ws.results, [(v.name, ws.results)])
        return
    parts = []
    for v in groups:
        sub = Workspace(ws.root / "variants" / v.slug, runs_root=ws.runs)
        ds = dataset_for(v.config)
        write_audit(ds, v.config, sub.root / "dataset")
        _write_json(sub.root / "variant.json", {"name": v.name, "settings": v.settings})
        log(f"variant {v.name}:")
        analyse(ds, v.config, sub, by_variant[v.name], log=log)
        parts.append((v.name, sub.results))
    _stack_tables(ws.results, parts)
    from fairssl.report.html import build_report

    log(f"report: {build_report(ws.root)}")


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path) if path.stat().st_size > 1 else pd.DataFrame()


def _stack_tables(out: Path, parts: Sequence[tuple[str, Path]]) -> None:
    """Each results table of ``parts`` (variant name, results folder) with a leading ``variant`` column,
    stacked into ``out`` (which may be one of the parts' folders)."""
    names = sorted(
        {p.name for _, folder in parts for p in folder.iterdir() if p.suffix in (".csv", ".parquet")}
    )
    stacked: dict[str, pd.DataFrame] = {}
    for name in names:
        frames = []
        for variant, folder in parts:
            path = folder / name
            if not path.is_file():
                continue
            frame = _read_table(path)
            if frame.empty:
                continue
            if "variant" in frame.columns:
                frame = frame.drop(columns="variant")
            frame.insert(0, "variant", variant)
            frames.append(frame)
        stacked[name] = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in stacked.items():
        if name.endswith(".parquet"):
            frame.to_parquet(out / name, index=False)
        else:
            frame.to_csv(out / name, index=False)


# ---------------------------------------------------------------------------------------------- status
@dataclass
class StudyStatus:
    """Counts per state (``interrupted``: running with a dead worker) and the failed runs' messages."""

    run_dir: Path
    total: int
    counts: dict[str, int]
    failures: list[RunRecord]
    running: list[RunRecord]

    def _epoch(self, rec: RunRecord) -> str:
        """``, epoch k/N, loss x`` from the run's progress.json, if it has written one."""
        progress = read_progress(Workspace(self.run_dir).partial(rec.run_id))
        if not progress:
            return ""
        loss = f", val loss {progress['val_loss']:.3f}" if "val_loss" in progress else ""
        return f", epoch {int(progress['epoch'])}/{int(progress['of'])}{loss}"

    def lines(self) -> list[str]:
        c = self.counts
        out = [
            f"{self.total} runs: {c['done']} done, {c['running']} running, {c['interrupted']} interrupted, "
            f"{c['failed']} failed, {c['pending']} pending"
        ]
        for rec in self.running:
            state = "interrupted" if rec.interrupted else "running"
            since = (
                f" since {time.strftime('%H:%M:%S', time.localtime(rec.started_at))}"
                if rec.started_at
                else ""
            )
            out.append(f"{state}: {rec.label}{since} (worker {rec.worker}){self._epoch(rec)}")
        for rec in self.failures:
            tries = f"{rec.attempts} attempt{'s' if rec.attempts != 1 else ''}"
            out.append(f"failed: {rec.label} after {tries}: {rec.error}")
        if c["failed"] or c["interrupted"] or c["pending"]:
            out.append("run the same `fairssl run` command again to finish (failed runs are retried)")
        return out


def study_status(run_dir: str | Path) -> StudyStatus:
    """What a study has done and what is left, read from its store (never written)."""
    from fairssl.config import load_config

    root = Path(run_dir)
    if not (root / "config.toml").is_file():
        raise DataError(
            f"{root} is not a run folder (no config.toml); give a folder written by `fairssl run`"
        )
    expected = unique_runs(expand(load_config(root / "config.toml")))
    records: list[RunRecord] = []
    if (root / STORE_NAME).is_file():
        with Store(root / STORE_NAME, readonly=True) as store:
            records = store.records()
    known = {r.run_id for r in records}
    counts = dict.fromkeys(("done", "running", "interrupted", "failed", "pending"), 0)
    for rec in records:
        key = "interrupted" if rec.interrupted else rec.status
        counts[key] += 1
    counts["pending"] += sum(1 for s in expected if s.run_id not in known)
    return StudyStatus(
        run_dir=root,
        total=len(known | {s.run_id for s in expected}),
        counts=counts,
        failures=[r for r in records if r.status == "failed"],
        running=[r for r in records if r.status == "running"],
    )


__all__ = [
    "LogProgress",
    "Progress",
    "ResumePlan",
    "RichProgress",
    "StudyStatus",
    "Workspace",
    "artifacts_complete",
    "execute_grid",
    "execute_run",
    "load_study_data",
    "plan_resume",
    "run_dir_for",
    "run_study",
    "study_status",
]
