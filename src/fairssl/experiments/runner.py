"""Run a study: load data, execute the grid's runs (resuming finished ones), analyse, report.


Run folder layout: :mod:`fairssl.experiments.workspace`; one run: :mod:`fairssl.experiments.training`;
progress display: :mod:`fairssl.experiments.progress`; stages 4-5: :mod:`fairssl.experiments.study_analysis`.


Resume: the same command skips runs the store marks done (and whose artifacts are intact), redoes
interrupted, failed and artifact-less ones, and adopts a run whose artifacts were published but whose
status was not recorded (a kill between the two). A run whose files no longer match the sizes and
checksums recorded when it was published, or that was trained with another torch thread count, is
re-run (one log line each); a damaged pre-training checkpoint is discarded (the run restarts); a
malformed results store is rebuilt from the published runs (:func:`~fairssl.experiments.store.open_store`).

Determinism: every run uses ``runtime.threads`` torch threads (default 1) whatever ``--workers`` is,
and the analysis runs with the same count, so the worker count never changes a result.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fairssl.config import StudyConfig, save_config
from fairssl.errors import DataError, MachineError, RunError
from fairssl.experiments.executors import (
    Backend,
    LocalBackend,
    Outcome,
    Task,
    dataset_for,
    execute,
    make_backend,
    pinned_torch,
)
from fairssl.experiments.grid import RunSpec, Variant, expand, unique_runs, variants
from fairssl.experiments.integrity import check_run, checkpoint_problem
from fairssl.experiments.progress import LogProgress, Progress
from fairssl.experiments.stacking import stack_key
from fairssl.experiments.store import Store, lock_run_dir, open_store
from fairssl.experiments.workspace import Workspace, run_dir_for, study_digest, study_label
from fairssl.loader_options import window_key
from fairssl.runtime import threads_per_run

if TYPE_CHECKING:  # the study's heavy modules (torch, the analysis) load when a study runs
    from collections.abc import Iterator

    from fairssl.config import RuntimeConfig
    from fairssl.data.dataset import WindowDataset

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
    damaged: dict[str, str] = field(default_factory=dict)
    """``run_id -> why`` of published runs re-run because a file no longer matches its checksum."""
    mismatched: dict[str, str] = field(default_factory=dict)
    """``run_id -> why`` of intact runs re-run because they were trained with another thread count."""
    legacy: list[str] = field(default_factory=list)
    """Runs published before checksums were recorded, kept because every artifact decodes."""
    checkpoints: dict[str, str] = field(default_factory=dict)
    """``run_id -> why`` of pre-training checkpoints discarded (the run restarts from epoch 1)."""

    def messages(self, total: int) -> list[str]:
        """One line per fact worth logging, in a fixed order."""
        out = []
        if len(self.todo) < total:
            out.append(f"resuming: {total - len(self.todo)} of {total} runs already done")
        if self.adopted:
            out.append(f"recovered {len(self.adopted)} finished run(s) from their artifacts")
        if self.redo_missing:
            out.append(f"redoing {len(self.redo_missing)} run(s) whose artifacts are missing")
        out += [f"re-running damaged run {rid}: {why}" for rid, why in self.damaged.items()]
        out += [f"re-running run {rid}: {why}" for rid, why in self.mismatched.items()]
        if self.legacy:
            out.append(
                f"kept {len(self.legacy)} run(s) published before checksums and thread counts were "
                "recorded (they decode); delete their runs/<id>/ folders to retrain them reproducibly"
            )
        out += [
            f"discarded the damaged pre-training checkpoint of {rid} ({why}); it restarts from epoch 1"
            for rid, why in self.checkpoints.items()
        ]
        return out


def plan_resume(store: Store, ws: Workspace, runs: Sequence[RunSpec]) -> ResumePlan:
    """Register ``runs`` in the store and decide what to (re)do; call it while holding the run-folder lock.

    - done in the store with intact artifacts: skipped;
    - done in the store without artifacts: redone;
    - published but damaged (a file missing, truncated or changed since it was published, see
      :func:`~fairssl.experiments.integrity.check_run`), or trained with another thread count: redone;
    - not done in the store but intact published artifacts (killed between the rename and the status
      update, a rebuilt store, a folder from before the store existed): adopted as done, not recomputed;
    - running (no live worker: the lock is ours) or failed: redone.

    A run to redo whose pre-training checkpoint does not load is given a fresh start (checkpoint deleted).
    """
    store.add_runs(runs)
    records = {r.run_id: r for r in store.records()}
    plan = ResumePlan(todo=[], done=set())
    reset = []
    for spec in runs:
        rec = records[spec.run_id]
        check = check_run(ws, spec)
        if check.usable and rec.status == "done":
            plan.done.add(spec.run_id)
            if check.state == "legacy":
                plan.legacy.append(spec.run_id)
            continue
        if check.usable:
            summary = (check.record or {}).get("summary", {})
            numbers = {k: float(v) for k, v in summary.items() if isinstance(v, int | float)}
            store.mark_done(
                spec.run_id,
                seconds=numbers.get("seconds"),
                metrics=numbers,
                finished_at=(ws.run(spec.run_id) / "done.json").stat().st_mtime,
                threads=(check.record or {}).get("threads"),
            )
            plan.done.add(spec.run_id)
            plan.adopted.append(spec.run_id)
            if check.state == "legacy":
                plan.legacy.append(spec.run_id)
            continue
        if check.state == "damaged":
            plan.damaged[spec.run_id] = check.reason or "damaged"
        elif check.state == "mismatch":
            plan.mismatched[spec.run_id] = check.reason or "trained with another thread count"
        elif rec.status == "done":
            plan.redo_missing.append(spec.run_id)
        elif rec.status in ("running", "failed"):
            plan.retried.append(spec.run_id)
        if rec.status != "pending":
            reset.append(spec.run_id)
        checkpoint = ws.partial(spec.run_id) / "checkpoint.pt"
        problem = checkpoint_problem(checkpoint, threads=spec.threads)
        if problem:
            checkpoint.unlink(missing_ok=True)
            plan.checkpoints[spec.run_id] = problem
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


@dataclass(frozen=True)
class DataFacts:
    """What the checks before training need from one dataset, read once per distinct ``data`` section
    (the process keeps only the last two datasets loaded)."""

    n_channels: int
    n_steps: int
    attribute_names: tuple[str, ...]
    test_key: str
    """sha256 of the sorted test subjects, the test window count and the first 64 test windows."""


def data_facts(ds: WindowDataset) -> DataFacts:
    """:class:`DataFacts` of ``ds``."""
    test = ds.indices("test")
    digest = hashlib.sha256()
    digest.update("\n".join(sorted(set(ds.subject[test].astype(str).tolist()))).encode())
    digest.update(str(len(test)).encode())
    digest.update(np.ascontiguousarray(ds.X[test[:64]]).tobytes())
    return DataFacts(ds.n_channels, ds.n_steps, tuple(ds.attribute_names), digest.hexdigest())


def check_mitigation_attributes(config: StudyConfig, ds: WindowDataset | DataFacts) -> None:
    """DataError (one line, before any training) when ``finetune.mitigation_attributes`` names an
    attribute the dataset does not have; nothing to check without a mitigation."""
    if config.finetune.mitigation != "none":
        from fairssl.finetune.mitigation import check_target_attributes

        check_target_attributes(config.finetune.mitigation_attributes, ds.attribute_names)


def check_replicates_differ(groups: Sequence[Variant], facts: Mapping[str, DataFacts] | None = None) -> None:
    """DataError when a replicate's test set is its point's replicate 0's (same test subjects, same
    windows): the source ignored the redrawn seed (e.g. the files give their own split), so the
    replicates would repeat one experiment and their pooled interval would be meaningless. ``facts``:
    :class:`DataFacts` by data digest (read from each dataset when not given)."""

    def key(v: Variant) -> str:
        digest = v.config.digest("data")
        return facts[digest].test_key if facts else data_facts(dataset_for(v.config)).test_key

    first = {v.point: v for v in groups if v.replicate == 0}
    for v in groups:
        if v.replicate == 0 or v.point not in first:
            continue
        if key(first[v.point]) == key(v):
            raise DataError(
                f"replicate {v.replicate} of {v.point} has the same test set as replicate 0: data source "
                f"'{v.config.data.source}' did not redraw its split (the data gives its own split?); "
                "set replicates = 1 or let the loader draw the split"
            )


def execute_grid(
    config: StudyConfig,
    ws: Workspace,
    store: Store,
    specs: Sequence[RunSpec],
    *,
    log: Log = print,
    progress: Progress | None = None,
    task_fn: Callable[[Task], Outcome] | None = None,
    backend: Backend | None = None,
) -> tuple[ResumePlan, dict[str, str]]:
    """Resume-plan and execute the unique runs of ``specs`` on ``config.runtime``'s executor (on
    ``backend`` when given: one :func:`started_backend` made, closed here when nothing is left to run).

    Returns the plan and ``run_id -> error`` of the runs that failed (or were blocked) now.
    """
    from fairssl.experiments.executors import run_task

    groups = {v.name: v for v in variants(config)}
    runs = unique_runs(list(specs))
    plan = plan_resume(store, ws, runs)
    for line in plan.messages(len(runs)):
        log(line)
    progress = progress or LogProgress(log)
    if not plan.todo:
        if backend is not None:
            backend.close(cancel=True)
        return plan, {}
    if backend is None:
        backend, _ = make_backend(config.runtime, fn=task_fn or run_task)
    threads = threads_per_run(config.runtime)
    where = f"{backend.name}, {backend.slots} worker{'s' if backend.slots > 1 else ''}"
    where += f" x {threads} thread{'s' if threads > 1 else ''}"
    if config.runtime.stack_runs > 1:
        where += f", fine-tuning up to {config.runtime.stack_runs} runs as one stacked model"
    kinds = {k: sum(s.kind == k for s in plan.todo) for k in dict.fromkeys(s.kind for s in plan.todo)}
    progress.start(total=len(runs), done=len(plan.done), todo=len(plan.todo), where=where, kinds=kinds)
    stack = {s.run_id: stack_key(s, groups[s.variant].config) for s in plan.todo}
    try:
        result = execute(
            plan.todo,
            backend=backend,
            store=store,
            make_task=lambda spec: Task(
                spec, groups[spec.variant].config, str(ws.root.resolve()), spec.threads
            ),
            already_done=plan.done,
            on_finish=progress.finished,
            stack=stack,
            stack_size=config.runtime.stack_runs,
        )
    finally:
        progress.close()
    return plan, result.failed


def check_same_study(config: StudyConfig, run_dir: Path) -> None:
    """:class:`DataError` if ``run_dir`` holds another study's ``config.toml``: one whose training
    settings (:func:`~fairssl.experiments.workspace.study_digest`) differ. Analysis and runtime settings
    may differ (the same models are re-analysed)."""
    from fairssl.config import load_config
    from fairssl.errors import FairsslError

    existing = run_dir / "config.toml"
    if not existing.is_file():
        return
    fix = "use another --out folder, or --force (force=True) to overwrite it"
    try:
        other = load_config(existing)
    except (FairsslError, OSError, ValueError) as exc:
        raise DataError(
            f"--out {run_dir} holds a config.toml that cannot be read ({' '.join(str(exc).split())[:200]}), "
            f"so it may be another study's; this study is {study_label(config)}: {fix}"
        ) from None
    if study_digest(other) != study_digest(config):
        raise DataError(
            f"--out {run_dir} holds another study ({study_label(other)}, in {existing}); this config is "
            f"{study_label(config)}: {fix}"
        )


ENVIRONMENT_ERRORS = (
    "[Errno 28]",  # No space left on device
    "[Errno 122]",  # Disk quota exceeded
    "[Errno 30]",  # Read-only file system
    "[Errno 13]",  # Permission denied
)
"""Markers of a run that failed because of the machine (a worker's one-line error keeps the errno)."""


def _environment(error: str) -> bool:
    return any(marker in error for marker in ENVIRONMENT_ERRORS)


def run_study(
    config: StudyConfig,
    *,
    run_dir: Path | None = None,
    log: Log = print,
    progress: Progress | None = None,
    force: bool = False,
) -> Path:
    """Run (or resume) the whole study and write results and the report; returns the run folder.

    A ``run_dir`` holding another study's ``config.toml`` (other training settings) is refused with a
    :class:`DataError` unless ``force``. Raises :class:`RunError` after the grid if any run failed (the
    others are kept; the same call retries the failed ones).
    """
    ws = Workspace(Path(run_dir) if run_dir is not None else run_dir_for(config))
    ws.root.mkdir(parents=True, exist_ok=True)
    with lock_run_dir(ws.root):
        if not force:
            check_same_study(config, ws.root)
        with (
            started_backend(config.runtime) as backend,
            open_store(ws.store_path, log=log) as store,
            pinned_torch(threads_per_run(config.runtime)),
        ):
            _run_locked(config, ws, store, log=log, progress=progress, backend=backend)
    return ws.root


@contextmanager
def started_backend(runtime: RuntimeConfig) -> Iterator[Backend | None]:
    """The local pool of ``runtime.workers`` processes, started now (None for the inline and Ray
    executors): its workers spawn and import torch and the training code while this process loads the
    data and checks the study, so the first runs start at once. Closed (cancelled) on leaving; the grid
    closes it itself when it is done with it."""
    if runtime.executor != "local":
        yield None
        return
    backend, _ = make_backend(runtime)
    if not isinstance(backend, LocalBackend):  # one worker: runs inline, nothing to start
        yield None
        return
    backend.start()
    try:
        yield backend
    finally:
        backend.close(cancel=True)


def _run_locked(
    config: StudyConfig,
    ws: Workspace,
    store: Store,
    *,
    log: Log,
    progress: Progress | None,
    backend: Backend | None = None,
) -> None:
    from fairssl.experiments.analyse import write_audit
    from fairssl.experiments.study_analysis import analyse_study
    from fairssl.ssl.encoder import check_input_length

    save_config(config, ws.root / "config.toml")
    groups = variants(config)
    specs = expand(config)
    distinct = _distinct_data(groups)
    facts: dict[str, DataFacts] = {}
    for i, v in enumerate(distinct):
        ds = dataset_for(v.config)
        _check_binary(ds)
        facts[v.config.digest("data")] = data_facts(ds)
        which = "" if len(distinct) == 1 else f" ({v.name})"
        log(
            f"data{which}: {ds.name}, {ds.X.shape[0]} windows x {ds.n_channels} channels x {ds.n_steps} steps"
        )
        if i == 0:
            write_audit(ds, v.config, ws.root / "dataset")
    if config.replicates > 1:
        check_replicates_differ(groups, facts)
    for v in groups:  # every variant's encoder must fit its windows: one line before any training
        d = facts[v.config.digest("data")]
        check_mitigation_attributes(v.config, d)
        if v.config.pretrain.weights is not None:  # a given encoder must fit [model]: DataError now
            from fairssl.experiments.training import load_encoder_weights

            load_encoder_weights(v.config.pretrain.weights, v.config, d.n_channels, d.n_steps)
        check_input_length(v.config.model, d.n_steps, window_key=window_key(v.config.data))
    if len(groups) > 1:
        reps = f" ({config.replicates} data replicates each)" if config.replicates > 1 else ""
        log(
            f"grid: {len(groups)} variants{reps} x {len(config.seeds)} seeds x "
            f"{len(config.finetune.setups)} setups"
        )
    _plan, failed = execute_grid(config, ws, store, specs, log=log, progress=progress, backend=backend)
    if failed:
        records = {r.run_id: r for r in store.records()}
        for run_id, error in failed.items():
            log(f"failed: {records[run_id].label}: {error}")
        first = next(iter(failed))
        more = f" (and {len(failed) - 1} more, listed above)" if len(failed) > 1 else ""
        kind: type[RunError] = MachineError if all(map(_environment, failed.values())) else RunError
        raise kind(
            f"{len(failed)} of {len(unique_runs(specs))} runs failed, e.g. {records[first].label}: "
            f"{failed[first]}{more}; fix the cause and run the same command again to retry them "
            "(finished runs are kept)"
        )
    analyse_study(config, ws, groups, specs, log=log)


__all__ = [
    "DataFacts",
    "ResumePlan",
    "check_mitigation_attributes",
    "check_replicates_differ",
    "check_same_study",
    "data_facts",
    "execute_grid",
    "plan_resume",
    "run_study",
    "started_backend",
]
