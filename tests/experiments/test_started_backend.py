"""The local pool started before the data is loaded (:func:`fairssl.experiments.runner.started_backend`)."""

from __future__ import annotations

import multiprocessing
import sys
import time

import pytest

from fairssl.config import RuntimeConfig
from fairssl.experiments.backend_local import LocalBackend
from fairssl.experiments.runner import started_backend


def _wait_for(condition, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_the_workers_are_spawned_before_any_run_is_submitted(workers_gone) -> None:
    """Two workers: both processes exist (and import the training code) before the first submit; leaving
    the block without running anything shuts them down."""
    with started_backend(RuntimeConfig(workers=2)) as backend:
        assert isinstance(backend, LocalBackend) and backend.slots == 2
        pool = backend._pool
        assert pool is not None
        assert _wait_for(lambda: len(pool._processes) == 2)  # spawned now, not at the first submit
    assert backend._pool is None
    assert workers_gone()


def test_one_worker_and_ray_start_nothing() -> None:
    """One worker runs inline and Ray has its own workers: no pool is started for them."""
    with started_backend(RuntimeConfig(workers=1)) as backend:
        assert backend is None
    with started_backend(RuntimeConfig(workers=2, executor="ray")) as backend:
        assert backend is None
    assert not multiprocessing.active_children()


def test_an_error_before_the_grid_closes_the_started_pool(workers_gone) -> None:
    """A user error raised while the data is checked (before any run) leaves no worker behind."""
    seen: list = []
    with pytest.raises(ValueError, match="bad data"), started_backend(RuntimeConfig(workers=2)) as backend:
        seen.append(backend)
        assert backend is not None and backend._pool is not None
        raise ValueError("bad data")
    (backend,) = seen
    assert backend._pool is None
    assert workers_gone()


def test_importing_the_runner_leaves_torch_and_the_analysis_for_later() -> None:
    """What makes the early start pay: ``fairssl run`` reaches the pool's start before importing torch
    (the workers import it meanwhile). Checked in a fresh interpreter."""
    import subprocess

    heavy = "('torch', 'fairssl.experiments.study_analysis', 'sklearn')"
    code = f"import sys, fairssl.experiments.runner; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
