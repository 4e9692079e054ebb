"""Executors: run a grid's runs in this process, in local worker processes, or on a Ray cluster.

The scheduling is the same for all of them (:func:`execute`): a fine-tuning run is submitted only
after its pre-training run is done; a failed run is recorded with its one-line error and the others go
on; runs that depend on a failed pre-training are marked failed (blocked) without running. At most
``backend.slots`` runs are in flight, so a run marked ``running`` in the store is really running.

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
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import signal
import socket
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from fairssl.config import RuntimeConfig, StudyConfig
from fairssl.errors import ConfigError, MissingDependencyError
from fairssl.runtime import threads_per_run

if TYPE_CHECKING:
    from fairssl.data.dataset import WindowDataset
    from fairssl.experiments.grid import RunSpec
    from fairssl.experiments.store import Store


def pin_torch(threads: int) -> None:
    """Set this process's torch intra-op threads and ask torch for deterministic kernels (a kernel that
    has none warns instead of failing)."""
    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS, if CUDA is used
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)


@contextlib.contextmanager
def pinned_torch(threads: int) -> Iterator[None]:
    """:func:`pin_torch` for the ``with`` block, then restore the previous settings (the study's own
    analysis runs inside it, so its tables do not depend on the worker count either)."""
    import torch

    before = (
        torch.get_num_threads(),
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    pin_torch(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        torch.use_deterministic_algorithms(before[1], warn_only=before[2])


@dataclass(frozen=True)
class Task:
    """What a worker needs for one run: the spec, the (variant's) config, the run folder.

    The run uses ``spec.threads`` torch threads (``threads``, when given, must agree: it is kept for
    callers that built tasks before specs carried their thread count)."""

    spec: RunSpec
    config: StudyConfig
    run_dir: str
    threads: int | None = None


@dataclass(frozen=True)
class Outcome:
    """What a worker sends back: success, run-level summary numbers, seconds, or a one-line error."""

    run_id: str
    ok: bool
    summary: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None
    worker: str = ""


TaskFn = Callable[[Task], Outcome]


def one_line(exc: BaseException) -> str:
    """``Type: message`` on one line (the message's lines joined)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# ---------------------------------------------------------------------------------------------- workers
_DATASETS: OrderedDict[str, WindowDataset] = OrderedDict()
_DATASET_CACHE_SIZE = 2


def dataset_for(config: StudyConfig) -> WindowDataset:
    """The dataset of ``config.data``, loaded once per process (the last two kept)."""
    from fairssl.experiments.workspace import load_study_data

    key = config.digest("data")
    if key in _DATASETS:
        _DATASETS.move_to_end(key)
        return _DATASETS[key]
    ds = load_study_data(config)
    _DATASETS[key] = ds
    while len(_DATASETS) > _DATASET_CACHE_SIZE:
        _DATASETS.popitem(last=False)
    return ds


def run_task(task: Task) -> Outcome:
    """Execute one run (in any process); an exception becomes a failed :class:`Outcome`, never a raise."""
    from fairssl.experiments.training import execute_run
    from fairssl.experiments.workspace import Workspace

    me = f"{socket.gethostname()}:{os.getpid()}"
    start = time.perf_counter()
    try:
        pin_torch(task.spec.threads)
        ds = dataset_for(task.config)
        summary = execute_run(task.spec, ds, task.config, Workspace(Path(task.run_dir)))
    except Exception as exc:
        detail = traceback.format_exc(limit=-1).strip().splitlines()
        where = detail[-3].strip() if len(detail) >= 3 else ""
        return Outcome(
            task.spec.run_id,
            False,
            seconds=time.perf_counter() - start,
            error=one_line(exc) + (f" [{where}]" if where.startswith("File") else ""),
            worker=me,
        )
    numbers = {k: float(v) for k, v in summary.items() if isinstance(v, int | float)}
    return Outcome(task.spec.run_id, True, numbers, time.perf_counter() - start, worker=me)


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:  # the study process is gone (killed): stop, do not finish orphaned work
            os._exit(1)


def _init_worker(parent: int) -> None:
    """Pool worker start-up: leave Ctrl-C to the parent and exit when the parent dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


# ---------------------------------------------------------------------------------------------- backends
class Backend(Protocol):
    """Where runs execute. ``submit`` returns a handle; ``wait`` blocks until at least one finishes."""

    name: str
    slots: int

    def submit(self, task: Task) -> Any: ...

    def wait(self, handles: Sequence[Any]) -> list[tuple[Any, Outcome]]: ...

    def close(self, *, cancel: bool = False) -> None: ...


class InlineBackend:
    """One run at a time in this process (``submit`` queues, ``wait`` runs the oldest)."""

    name = "inline"
    slots = 1

    def __init__(self, fn: TaskFn = run_task) -> None:
        self.fn = fn
        self._queued: dict[int, Task] = {}
        self._next = 0

    def submit(self, task: Task) -> int:
        self._next += 1
        self._queued[self._next] = task
        return self._next

    def wait(self, handles: Sequence[Any]) -> list[tuple[Any, Outcome]]:
        handle = min(h for h in handles if h in self._queued)
        task = self._queued.pop(handle)
        try:
            return [(handle, self.fn(task))]
        except Exception as exc:  # a task function that raises instead of returning a failure
            return [(handle, Outcome(task.spec.run_id, False, error=one_line(exc)))]

    def close(self, *, cancel: bool = False) -> None:
        self._queued.clear()


class LocalBackend:
    """A pool of ``workers`` spawned processes (each exits if this process dies).

    A worker that dies (killed, out of memory) breaks the pool: every run in flight at that moment is
    failed with "a worker process died", the grid goes on in a fresh pool, and the next invocation
    retries them.
    """

    name = "local"

    def __init__(self, workers: int, fn: TaskFn = run_task) -> None:
        self.slots = workers
        self.fn = fn
        self._pool: cf.ProcessPoolExecutor | None = None

    def _ensure_pool(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(
                max_workers=self.slots,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(os.getpid(),),
            )
        return self._pool

    def submit(self, task: Task) -> cf.Future[Outcome]:
        try:
            return self._ensure_pool().submit(self.fn, task)
        except cf.process.BrokenProcessPool:  # broke since the last wait: start a fresh pool
            self.close(cancel=True)
            return self._ensure_pool().submit(self.fn, task)

    def wait(self, handles: Sequence[Any]) -> list[tuple[Any, Outcome]]:
        done, _ = cf.wait(handles, return_when=cf.FIRST_COMPLETED)
        out = []
        broken = False
        for fut in done:
            try:
                outcome = fut.result()
            except cf.process.BrokenProcessPool:
                broken = True
                outcome = Outcome("", False, error="a worker process died (killed or out of memory)")
            except Exception as exc:
                outcome = Outcome("", False, error=one_line(exc))
            out.append((fut, outcome))
        if broken:  # every future of a broken pool fails; the next submit starts a fresh pool
            self.close(cancel=True)
        return out

    def close(self, *, cancel: bool = False) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if cancel:
            processes = list(getattr(pool, "_processes", {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in processes:  # running runs are abandoned (they resume as interrupted)
                proc.terminate()
            for proc in processes:
                proc.join(timeout=5)
        else:
            pool.shutdown(wait=True)


class RayBackend:
    """Ray remote tasks (``num_cpus = threads``); at most as many in flight as the cluster has slots."""

    name = "ray"

    def __init__(self, threads: int, *, address: str | None = None, fn: TaskFn = run_task) -> None:
        try:
            import ray
        except ImportError:
            raise MissingDependencyError(
                'the ray executor needs Ray; install it with `pip install "fairssl[ray]"`'
            ) from None
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            target = address or os.environ.get("RAY_ADDRESS") or None
            ray.init(address=target, include_dashboard=False, log_to_driver=False)
            self._started = True
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        self.slots = max(1, int(cpus // threads))
        self._remote = ray.remote(num_cpus=threads, max_retries=0)(fn)

    def submit(self, task: Task) -> Any:
        return self._remote.remote(task)

    def wait(self, handles: Sequence[Any]) -> list[tuple[Any, Outcome]]:
        ready, _ = self._ray.wait(list(handles), num_returns=1)
        out = []
        for ref in ready:
            try:
                outcome = self._ray.get(ref)
            except Exception as exc:  # a crashed worker or node: the run failed, the grid goes on
                outcome = Outcome("", False, error=one_line(exc).splitlines()[0][:500])
            out.append((ref, outcome))
        return out

    def close(self, *, cancel: bool = False) -> None:
        if self._started:
            self._ray.shutdown()
            self._started = False


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


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
) -> GridResult:
    """Run ``runs`` on ``backend`` respecting dependencies; record every state change in ``store``.

    ``already_done`` are the ids whose results exist (dependencies satisfied). A dependency that is
    neither done nor among ``runs`` blocks its dependents (they fail with a message).
    """
    done = set(already_done or ())
    result = GridResult()
    pending = list(runs)
    todo_ids = {r.run_id for r in runs}
    in_flight: dict[Any, RunSpec] = {}
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
            for spec in ready[: max(0, backend.slots - len(in_flight))]:
                pending.remove(spec)
                store.mark_running(spec.run_id, worker=me, threads=spec.threads)
                if on_start is not None:
                    on_start(spec)
                in_flight[backend.submit(make_task(spec))] = spec
            if not in_flight:
                if pending and not any(s.depends_on is None or s.depends_on in done for s in pending):
                    raise RuntimeError(f"scheduler stalled with {len(pending)} runs waiting")  # a bug
                continue  # everything left was blocked this round
            for handle, outcome in backend.wait(list(in_flight)):
                spec = in_flight[handle]
                finish(spec, outcome if outcome.run_id else Outcome(spec.run_id, False, error=outcome.error))
                del in_flight[handle]  # after its record is written: a failed write leaves it in flight
    except BaseException:
        backend.close(cancel=True)
        if in_flight:
            # the store itself may be what failed (a full disk): keep that error; the run-folder lock makes
            # a "running" row left behind mean "interrupted", and the next resume redoes it
            with contextlib.suppress(Exception):
                store.mark_pending(s.run_id for s in in_flight.values())
        raise
    backend.close()
    return result
