"""The Ray backend: runs as remote tasks with ``num_cpus = threads`` on the cluster at
``runtime.ray_address`` or ``$RAY_ADDRESS`` (a local instance when neither is set); the run folder must
be on a path every node shares. Follows :class:`fairssl.experiments.executors.Backend`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from fairssl.errors import MissingDependencyError
from fairssl.experiments.executor_tasks import Outcome, Task, TaskFn, one_line, run_task


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
