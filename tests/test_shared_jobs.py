"""Jobs shared between this process and a spawned pool (:class:`fairssl.shared_jobs.SharedJobs`)."""

from __future__ import annotations

import operator
import time

import pytest

from fairssl.shared_jobs import SharedJobs


def test_results_come_in_job_order(workers_gone) -> None:
    """``fn(*job)`` of every job, in job order, with a pool or without, each job run once."""
    jobs = [(i, i + 1) for i in range(12)]
    expected = [a * b for a, b in jobs]
    assert SharedJobs(operator.mul, jobs, 0).results() == expected  # no pool: all here
    shared = SharedJobs(operator.mul, jobs, 1)
    assert shared.in_background and len(shared.futures) == len(jobs)
    assert shared.results() == expected
    assert not shared.in_background
    assert list(shared.claimed) == [1] * len(jobs)  # each job claimed by exactly one process
    assert workers_gone()


def test_the_pool_and_this_process_share_the_work(workers_gone) -> None:
    """The worker takes jobs from the front while this process takes the rest from the back; none runs
    twice. (This process's first job waits until the worker has claimed one, however slowly it starts.)"""
    here: list[int] = []
    box: list[SharedJobs] = []

    def counted(call):
        if not here:
            deadline = time.monotonic() + 60
            while sum(box[0].claimed) < 2 and time.monotonic() < deadline:  # ours and one of the worker's
                time.sleep(0.01)
        here.append(1)
        return call()

    shared = SharedJobs(time.sleep, [(0.2,)] * 8, 1, local=counted)
    box.append(shared)
    assert shared.results() == [None] * 8
    assert 1 <= len(here) <= 7  # both sides ran jobs
    ran_by_pool = sum(f.result()[0] for f in shared.futures)
    assert ran_by_pool + len(here) == 8  # every job ran once
    assert workers_gone()


def test_one_job_or_no_worker_starts_no_pool() -> None:
    for jobs, workers in (([(2, 3)], 4), ([(2, 3), (4, 5)], 0)):
        shared = SharedJobs(operator.mul, jobs, workers)
        assert not shared.in_background
        assert shared.results() == [a * b for a, b in jobs]


def test_a_failing_job_raises_and_close_stops_the_pool(workers_gone) -> None:
    """A job's exception is raised by results(); the caller's close() cancels what has not started."""
    shared = SharedJobs(operator.truediv, [(1, 1), (1, 0), (4, 2), (9, 3)], 1)
    with pytest.raises(ZeroDivisionError):
        shared.results()
    shared.close()
    assert not shared.in_background and workers_gone()


def test_a_dead_worker_leaves_its_jobs_to_this_process(workers_gone) -> None:
    """A worker killed mid-way (out of memory, a kill) breaks the pool: the jobs that had not returned
    run here instead, and the results are the same."""
    jobs = [(0.5,)] * 4  # time.sleep: the pool is busy long enough to be killed
    shared = SharedJobs(time.sleep, jobs, 1)
    assert shared.pool is not None
    deadline = time.monotonic() + 30
    while not shared.pool._processes and time.monotonic() < deadline:
        time.sleep(0.01)
    for process in list(shared.pool._processes.values()):
        process.kill()
    assert shared.results() == [None] * 4
    assert workers_gone()


def test_no_worker_reads_the_claims_after_results(workers_gone) -> None:
    """Jobs this process ran stay queued in the worker, which skips them once it starts. results() returns
    only after those skips: the claims' shared memory is freed with the object and a later pool may get
    it, where a late skip marked that pool's jobs taken (it then waited forever for jobs nobody ran)."""
    for _ in range(3):
        shared = SharedJobs(operator.mul, [(i, 2) for i in range(4)], 1)  # tiny: this process runs them all
        assert shared.results() == [0, 2, 4, 6]
        assert all(f.done() for f in shared.futures)  # nothing left for a worker to read the claims for
        assert not shared.in_background
    assert workers_gone()
