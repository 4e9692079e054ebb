"""Run a study: load data, execute the grid's runs (resuming finished ones), analyse, report.


Run folder layout: :mod:`fairssl.experiments.workspace`; one run: :mod:`fairssl.experiments.training`;
progress display: :mod:`fairssl.experiments.progress`; stages 4-5: :mod:`fairssl.experiments.study_analysis`.


Resume: the same command skips runs the store marks done (and whose artifacts exist), redoes
interrupted, failed and artifact-less ones, and adopts a run whose artifacts were published but whose
status was not recorded (a kill between the two).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fairssl.config import StudyConfig, save_config
from fairssl.data.dataset import WindowDataset
from fairssl.errors import DataError, RunError
from fairssl.experiments.executors import Outcome, Task, dataset_for, execute, make_backend
from fairssl.experiments.grid import RunSpec, Variant, expand, unique_runs, variants
from fairssl.experiments.progress import LogProgress, Progress
from fairssl.experiments.store import Store, lock_run_dir
from fairssl.experiments.study_analysis import analyse_study
from fairssl.experiments.workspace import Workspace, artifacts_complete, run_dir_for

Log = Callable[[str], None]


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
        analyse_study(config, ws, groups, specs, log=log)
    return ws.root


__all__ = ["ResumePlan", "execute_grid", "plan_resume", "run_study"]
