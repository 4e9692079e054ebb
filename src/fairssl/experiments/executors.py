"""Executors: run a grid's runs in this process, in local worker processes, or on a Ray cluster.

The scheduling is the same for all of them (:func:`execute`): a fine-tuning run is submitted only
after its pre-training run is done; a failed run is recorded with its one-line error and the others go
on; runs that depend on a failed pre-training are marked failed (blocked) without running. At most
``backend.slots`` tasks are in flight, so a run marked ``running`` in the store is really running. A task
is one run, or with ``runtime.stack_runs`` > 1 several fine-tuning runs trained as one stacked model
(:mod:`fairssl.experiments.stacking`).

Only the calling process writes the results store; workers load the dataset from the config once per
process (:func:`dataset_for`), execute one run, publish its artifacts under ``<run_dir>/runs/<id>/`` and
return an :class:`Outcome`. Nothing big is pickled per task.

- ``inline``: one run at a time in this process (the local executor with one worker).
- ``local``: a ``ProcessPoolExecutor`` (spawn context) of N workers.
- ``ray``: remote tasks with ``num_cpus = threads`` on the cluster at ``runtime.ray_address`` or
  ``$RAY_ADDRESS`` (a local instance when neither is set); the run folder must be on a shared path.

Determinism: every run uses exactly ``spec.threads`` torch intra-op threads (``runtime.threads``,
default :data:`fairssl.runtime.DEFAULT_THREADS_PER_RUN` = 1) and torch's deterministic algorithms,
whichever backend and however many workers run it, so ``--workers 1`` and ``--workers 2`` give
bit-identical weights, predictions and tables. The worker count only decides how many runs go in
parallel (default: cores // threads).

This module holds the scheduling (:func:`execute`), the :class:`Backend` protocol and the choice of
backend (:func:`make_backend`); one run as a worker executes it is
:mod:`fairssl.experiments.executor_tasks`, the backends are :mod:`fairssl.experiments.backend_local`
and :mod:`fairssl.experiments.backend_ray` (all re-exported here).
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from fairssl.config import RuntimeConfig
from fairssl.errors import ConfigError
from fairssl.experiments.backend_local import InlineBackend, LocalBackend
from fairssl.experiments.backend_ray import RayBackend
from fairssl.experiments.executor_tasks import (
    Outcome,
    Task,
    TaskFn,
    dataset_for,
    one_line,
    pin_torch,
    pinned_torch,
    run_task,
)
from fairssl.experiments.stacking import stack_batches
from fairssl.runtime import available_cores, threads_per_run

if TYPE_CHECKING:
    from fairssl.experiments.grid import RunSpec
    from fairssl.experiments.store import Store


class Backend(Protocol):
    """Where runs execute. ``submit`` returns a handle; ``wait`` blocks until at least one finishes."""

    name: str
    slots: int

    def submit(self, task: Task) -> Any: ...

    def wait(self, handles: Sequence[Any]) -> list[tuple[Any, Outcome]]: ...

    def close(self, *, cancel: bool = False) -> None: ...


def resolve_workers(runtime: RuntimeConfig, *, cores: int | None = None) -> tuple[int, int]:
    """``(workers, threads per run)``: threads = :func:`threads_per_run` (never derived from the cores or
    the workers); workers = runtime.workers or max(1, cores // threads)."""
    threads = threads_per_run(runtime)
    n = cores or available_cores()
    workers = runtime.workers or max(1, n // threads)
    return workers, threads


def make_backend(runtime: RuntimeConfig, *, fn: TaskFn = run_task) -> tuple[Backend, int]:
    """The backend named by ``runtime.executor`` and the torch threads each of its runs uses."""
    if runtime.executor == "ray":
        threads = threads_per_run(runtime)
        return RayBackend(threads, address=runtime.ray_address, fn=fn), threads
    if runtime.executor != "local":
        raise ConfigError(f"runtime.executor must be local or ray; got {runtime.executor!r}")
    workers, threads = resolve_workers(runtime)
    if workers == 1:
        return InlineBackend(fn), threads
    return LocalBackend(workers, fn), threads


# ---------------------------------------------------------------------------------------------- scheduling
@dataclass
class GridResult:
    """What :func:`execute` did: ids done now, and ``run_id -> error`` of the failed (and blocked) runs."""

    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def execute(
    runs: Sequence[RunSpec],
    *,
    backend: Backend,
    store: Store,
    make_task: Callable[[RunSpec], Task],
    already_done: set[str] | None = None,
    on_start: Callable[[RunSpec], None] | None = None,
    on_finish: Callable[[RunSpec, Outcome], None] | None = None,
    stack: Mapping[str, Hashable | None] | None = None,
    stack_size: int = 1,
) -> GridResult:
    """Run ``runs`` on ``backend`` respecting dependencies; record every state change in ``store``.

    ``already_done`` are the ids whose results exist (dependencies satisfied). A dependency that is
    neither done nor among ``runs`` blocks its dependents (they fail with a message). ``stack`` (run id
    -> :func:`~fairssl.experiments.stacking.stack_key`) and ``stack_size``: ready runs of one key go to
    one task, at most ``stack_size`` at a time, trained as one stacked model.
    """
    done = set(already_done or ())
    result = GridResult()
    pending = list(runs)
    todo_ids = {r.run_id for r in runs}
    in_flight: dict[Any, list[RunSpec]] = {}
    me = f"{socket.gethostname()}:{os.getpid()}"

    def finish(spec: RunSpec, outcome: Outcome) -> None:
        if outcome.ok:
            store.mark_done(
                spec.run_id, seconds=outcome.seconds, metrics=outcome.summary, worker=outcome.worker
            )
            done.add(spec.run_id)
            result.done.append(spec.run_id)
        else:
            error = outcome.error or "unknown error"
            store.mark_failed(spec.run_id, error)
            result.failed[spec.run_id] = error
        if on_finish is not None:
            on_finish(spec, outcome)

    try:
        while pending or in_flight:
            for spec in list(pending):
                dep = spec.depends_on
                if dep is not None and (dep in result.failed or (dep not in done and dep not in todo_ids)):
                    pending.remove(spec)
                    why = result.failed.get(dep, "it is not part of this grid")
                    msg = f"blocked: its pre-training run {dep} failed ({why})"
                    finish(spec, Outcome(spec.run_id, False, error=msg[:500]))
            ready = [s for s in pending if s.depends_on is None or s.depends_on in done]
            tasks = stack_batches(ready, stack or {}, stack_size)
            for batch in tasks[: max(0, backend.slots - len(in_flight))]:
                for spec in batch:
                    pending.remove(spec)
                    store.mark_running(spec.run_id, worker=me, threads=spec.threads)
                    if on_start is not None:
                        on_start(spec)
                task = make_task(batch[0])
                if len(batch) > 1:
                    task = replace(task, also=tuple(batch[1:]))
                in_flight[backend.submit(task)] = batch
            if not in_flight:
                if pending and not any(s.depends_on is None or s.depends_on in done for s in pending):
                    raise RuntimeError(f"scheduler stalled with {len(pending)} runs waiting")  # a bug
                continue  # everything left was blocked this round
            for handle, outcome in backend.wait(list(in_flight)):
                parts = {o.run_id: o for o in outcome.parts}
                for spec in in_flight[handle]:
                    one = parts.get(spec.run_id, outcome)
                    if one.run_id != spec.run_id:  # a task that failed as a whole
                        one = Outcome(spec.run_id, False, error=outcome.error)
                    finish(spec, one)
                del in_flight[handle]  # after its records are written: a failed write leaves it in flight
    except BaseException:
        backend.close(cancel=True)
        if in_flight:
            # the store itself may be what failed (a full disk): keep that error; the run-folder lock makes
            # a "running" row left behind mean "interrupted", and the next resume redoes it
            with contextlib.suppress(Exception):
                store.mark_pending(s.run_id for batch in in_flight.values() for s in batch)
        raise
    backend.close()
    return result


__all__ = [
    "Backend",
    "GridResult",
    "InlineBackend",
    "LocalBackend",
    "Outcome",
    "RayBackend",
    "Task",
    "TaskFn",
    "available_cores",
    "dataset_for",
    "execute",
    "make_backend",
    "one_line",
    "pin_torch",
    "pinned_torch",
    "resolve_workers",
    "run_task",
]
