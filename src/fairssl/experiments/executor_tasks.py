"""One run as a worker executes it: the :class:`Task` it receives, the :class:`Outcome` it sends back,
the per-process dataset cache and the deterministic torch settings every run uses.

:func:`run_task` is the function every backend calls (in this process, in a spawned worker or as a Ray
task): it pins torch to ``spec.threads`` threads with deterministic algorithms, loads the dataset once
per process (:func:`dataset_for`), executes the run (:func:`fairssl.experiments.training.execute_run`)
and returns an :class:`Outcome`; an exception becomes a failed outcome with a one-line error, never a
raise.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fairssl.config import StudyConfig

if TYPE_CHECKING:
    from fairssl.data.dataset import WindowDataset
    from fairssl.experiments.grid import RunSpec


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
    callers that built tasks before specs carried their thread count). ``also``: further fine-tuning runs
    trained with ``spec`` as one stacked model (``runtime.stack_runs``, :mod:`fairssl.experiments.stacking`).
    """

    spec: RunSpec
    config: StudyConfig
    run_dir: str
    threads: int | None = None
    also: tuple[RunSpec, ...] = ()

    @property
    def specs(self) -> tuple[RunSpec, ...]:
        """Every run of the task, ``spec`` first."""
        return (self.spec, *self.also)


@dataclass(frozen=True)
class Outcome:
    """What a worker sends back: success, run-level summary numbers, seconds, or a one-line error.

    A task of several runs sends one outcome per run in ``parts`` (its own fields then describe the task:
    ``ok`` False with an ``error`` and no parts when the stacked training itself failed)."""

    run_id: str
    ok: bool
    summary: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None
    worker: str = ""
    parts: tuple[Outcome, ...] = ()


TaskFn = Callable[[Task], Outcome]


def one_line(exc: BaseException) -> str:
    """``Type: message`` on one line (the message's lines joined)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


_DATASETS: OrderedDict[str, WindowDataset] = OrderedDict()
_DATASET_CACHE_SIZE = 2
FINGERPRINT_MAX_FILES = 10_000
"""Files of a data folder whose size and modification time enter :func:`input_fingerprint` (a bounded
walk: a folder with more files is fingerprinted by its first ones, in sorted order, and its count)."""


def _stat_entries(path: Path) -> list[str]:
    """``relative path, size, mtime_ns, inode`` of ``path`` (a file) or of the files under it (a
    folder; sorted walk, at most :data:`FINGERPRINT_MAX_FILES`), or ``missing``."""
    if path.is_file():
        st = path.stat()
        return [f"{path.name}\t{st.st_size}\t{st.st_mtime_ns}\t{st.st_ino}"]
    if not path.is_dir():
        return [f"{path}\tmissing"]
    rows: list[str] = []
    for folder, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            if len(rows) >= FINGERPRINT_MAX_FILES:
                return [*rows, "truncated"]
            st = os.stat(os.path.join(folder, name))
            rel = os.path.relpath(os.path.join(folder, name), path)
            rows.append(f"{rel}\t{st.st_size}\t{st.st_mtime_ns}\t{st.st_ino}")
    return rows


def input_fingerprint(config: StudyConfig) -> str:
    """A cheap fingerprint of the files ``config.data`` reads: size, modification time (ns) and inode of
    ``data.path`` (each file under it, for a folder) and of every string option naming an existing path
    (``demographics = "demo.csv"``). "" for the simulator and sources without a path (the config says
    everything). Rewriting or replacing an input file changes it; reading the data does not."""
    import hashlib

    data = config.data
    if data.source == "simulate" or not data.path:
        return ""
    paths = [Path(data.path)]
    paths += [Path(v) for v in data.options.values() if isinstance(v, str) and v and Path(v).exists()]
    h = hashlib.sha256()
    for path in paths:
        h.update("\n".join([str(path), *_stat_entries(path)]).encode() + b"\x1e")
    return h.hexdigest()


def dataset_for(config: StudyConfig) -> WindowDataset:
    """The dataset of ``config.data``, loaded once per process (the last two kept).

    Keyed on the data section's digest and :func:`input_fingerprint`, so a file rewritten between two
    studies in one process (a notebook) is read again, never served from the cache."""
    from fairssl.experiments.workspace import load_study_data

    key = f"{config.digest('data')}:{input_fingerprint(config)}"
    if key in _DATASETS:
        _DATASETS.move_to_end(key)
        return _DATASETS[key]
    ds = load_study_data(config)
    _DATASETS[key] = ds
    while len(_DATASETS) > _DATASET_CACHE_SIZE:
        _DATASETS.popitem(last=False)
    return ds


def clear_dataset_cache() -> None:
    """Forget every dataset :func:`dataset_for` holds in this process (a library call ends with it, so a
    notebook keeps no dataset, and no state, of a finished study)."""
    _DATASETS.clear()


def _failure(run_id: str, exc: BaseException, seconds: float, worker: str) -> Outcome:
    """A failed outcome whose error is ``exc`` on one line, with the line of code that raised it."""
    detail = traceback.format_exception(exc, limit=-1)
    lines = "".join(detail).strip().splitlines()
    where = lines[-3].strip() if len(lines) >= 3 else ""
    error = one_line(exc) + (f" [{where}]" if where.startswith("File") else "")
    return Outcome(run_id, False, seconds=seconds, error=error, worker=worker)


def _summary_numbers(summary: dict[str, object]) -> dict[str, float]:
    return {k: float(v) for k, v in summary.items() if isinstance(v, int | float)}


def run_task(task: Task) -> Outcome:
    """Execute one task (in any process); an exception becomes a failed :class:`Outcome`, never a raise.

    A task of several runs (``task.also``) trains them as one stacked model and returns one outcome per
    run in ``parts``."""
    from fairssl.experiments.training import execute_run
    from fairssl.experiments.workspace import Workspace

    me = f"{socket.gethostname()}:{os.getpid()}"
    start = time.perf_counter()
    ws = Workspace(Path(task.run_dir))
    try:
        pin_torch(task.spec.threads)
        ds = dataset_for(task.config)
        if not task.also:
            summary = execute_run(task.spec, ds, task.config, ws)
            return Outcome(
                task.spec.run_id, True, _summary_numbers(summary), time.perf_counter() - start, worker=me
            )
        from fairssl.experiments.stacking import execute_stacked

        done = execute_stacked(task.specs, ds, task.config, ws)
    except Exception as exc:
        return _failure(task.spec.run_id, exc, time.perf_counter() - start, me)
    parts = tuple(
        _failure(spec.run_id, item, 0.0, me)
        if isinstance(item, Exception)
        else Outcome(spec.run_id, True, _summary_numbers(item), float(item.get("seconds", 0.0)), worker=me)
        for spec, item in zip(task.specs, done, strict=True)
    )
    ok = all(o.ok for o in parts)
    return Outcome(task.spec.run_id, ok, seconds=time.perf_counter() - start, worker=me, parts=parts)
