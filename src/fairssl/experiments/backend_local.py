"""Backends on this machine: :class:`InlineBackend` (one run at a time in this process) and
:class:`LocalBackend` (a pool of spawned worker processes, each of which exits when the study process
dies). Both follow :class:`fairssl.experiments.executors.Backend`.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence
from typing import Any

from fairssl.experiments.executor_tasks import Outcome, Task, TaskFn, one_line, run_task


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:  # the study process is gone (killed): stop, do not finish orphaned work
            os._exit(1)


def _init_worker(parent: int) -> None:
    """Pool worker start-up: leave Ctrl-C to the parent and exit when the parent dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _warm_up() -> None:
    """A worker's first task: import what every run needs (torch, the training code)."""
    import fairssl.experiments.training  # noqa: F401


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

    def start(self) -> None:
        """Spawn every worker now and have it import the training code (about 2 s each), so the first
        runs do not wait for that; without it the pool starts at the first :meth:`submit`."""
        pool = self._ensure_pool()
        for _ in range(self.slots):  # one spawned process per submit while none is idle
            pool.submit(_warm_up)

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
        else:  # every run has returned: the workers exit on their own (about 0.5 s) while this process
            # goes on to the analysis; interpreter exit still joins them
            pool.shutdown(wait=False)
