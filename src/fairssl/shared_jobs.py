"""Independent jobs shared between this process and a pool of spawned worker processes.

Used by the probes (:mod:`fairssl.experiments.probing`) and the report's figures
(:mod:`fairssl.report.page`): :class:`SharedJobs` hands every job to a pool of ``workers`` processes at
once, which start on them from the front while this process does other work; :meth:`SharedJobs.results`
then joins in from the back, running here each job no worker has started yet (a claim in shared memory
says who runs it), so no core waits on an idle parent and no job runs twice. Every job must be a pure
function of its arguments (who runs it and when does not change its result); results come back in job
order. If a worker dies (killed, out of memory), the jobs that had not returned run here instead.
Without a pool (``workers`` < 1, or fewer than two jobs) every job runs here, in
:meth:`~SharedJobs.results`.

The workers are spawned: a script that reaches this at import time needs the
``if __name__ == "__main__":`` guard (a notebook and the ``fairssl`` command need nothing). The pool is
shut down when the last result is in (its processes exit on their own, shortly after) or on
:meth:`~SharedJobs.close`, which cancels the jobs not started and waits for the processes.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class SharedJobs(Generic[T]):
    """``fn(*job)`` of every job in ``jobs``, started now on a pool of ``workers`` spawned processes
    (each set up by ``initializer``), collected by :meth:`results` in job order. ``local`` wraps the
    jobs this process runs (e.g. a thread limit matching the workers').

    Who runs a job is decided by a claim in shared memory (one flag per job, under its lock): a worker
    claims a job when it reaches it and skips it if this process claimed it first, and the other way
    round. No future is ever cancelled, so a pool that breaks can always fail its pending futures."""

    def __init__(
        self,
        fn: Callable[..., T],
        jobs: Sequence[tuple[Any, ...]],
        workers: int,
        *,
        initializer: Callable[[], None] | None = None,
        local: Callable[[Callable[[], T]], T] | None = None,
    ) -> None:
        self.fn, self.jobs = fn, list(jobs)
        self.local = local or (lambda call: call())
        self.pool: cf.ProcessPoolExecutor | None = None
        self.futures: list[cf.Future[tuple[bool, T | None]]] = []
        self.claimed: Any = None
        if workers >= 1 and len(self.jobs) >= 2:
            context = multiprocessing.get_context("spawn")
            self.claimed = context.Array("b", len(self.jobs))  # 1: a process has taken the job
            self.pool = cf.ProcessPoolExecutor(
                max_workers=workers,
                mp_context=context,
                initializer=_start,
                initargs=(self.claimed, initializer),
            )
            self.futures = [self.pool.submit(_run_unclaimed, i, fn, job) for i, job in enumerate(self.jobs)]

    @property
    def in_background(self) -> bool:
        """True while the pool is working (until :meth:`results` returns or :meth:`close`)."""
        return self.pool is not None

    def _claim(self, i: int) -> bool:
        """Take job ``i`` for this process; False when a worker has it."""
        if self.claimed is None:
            return True
        lock = self.claimed.get_lock()
        if not lock.acquire(timeout=1.0):  # held by a worker that died holding it: the pool is broken
            return False  # and its futures say so (then every job left runs here, unclaimed)
        try:
            if self.claimed[i]:
                return False
            self.claimed[i] = 1
            return True
        finally:
            lock.release()

    def results(self) -> list[T]:
        """Every job's result, in job order (a job's exception is raised here)."""
        out: list[tuple[T] | None] = [None] * len(self.jobs)
        waiting = dict(enumerate(self.futures))  # futures not read yet
        broken = False
        while any(r is None for r in out):
            mine = next(
                (i for i in reversed(range(len(out))) if out[i] is None and (broken or self._claim(i))), None
            )
            if mine is not None:
                out[mine] = (self.local(partial(self.fn, *self.jobs[mine])),)
                continue
            if not waiting:  # never expected: a job marked taken that no worker returned; run it here
                broken = True
                continue
            cf.wait(list(waiting.values()), return_when=cf.FIRST_COMPLETED)
            for i, future in list(waiting.items()):
                if not future.done():
                    continue
                del waiting[i]
                try:
                    ran, value = future.result()
                except cf.process.BrokenProcessPool:  # a worker died (killed, out of memory)
                    broken = True  # every job not returned runs here
                    continue
                if ran:
                    out[i] = (value,)  # type: ignore[assignment]
        self._release()
        return [r[0] for r in out if r is not None]

    def _release(self) -> None:
        """Shut the pool down without waiting for its processes to exit (they do on their own, while we
        go on), once no worker can read the claims again: every job returned, so what the workers still
        hold are jobs run here, which they skip at once. Waiting for those skips matters: the claims'
        shared memory is freed with this object and a later pool may get the same memory, where a late
        skip would mark that pool's jobs taken (nobody would then run them)."""
        if self.pool is not None:
            self.pool.shutdown(wait=False)  # no cancelling: a future cancelled here never wakes a waiter
            self.pool = None
        cf.wait(self.futures)

    def close(self) -> None:
        """Shut the pool down, cancelling the jobs it has not started, and wait for its processes to
        exit (after an error, or to stop early); idempotent."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


_CLAIMED: list[Any] = []
"""A worker's view of the claims (set once by :func:`_start`; the process is the pool's)."""


def _start(claimed: Any, initializer: Callable[[], None] | None) -> None:
    _CLAIMED.append(claimed)
    if initializer is not None:
        initializer()


def _run_unclaimed(i: int, fn: Callable[..., T], job: tuple[Any, ...]) -> tuple[bool, T | None]:
    """In a worker: ``(True, fn(*job))``, or ``(False, None)`` when the parent already took job ``i``."""
    claimed = _CLAIMED[0]
    with claimed.get_lock():
        if claimed[i]:
            return False, None
        claimed[i] = 1
    return True, fn(*job)
