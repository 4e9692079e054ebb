"""How a grid's progress is shown: one log line per finished run, or a live bar on a terminal, with an
ETA that knows pre-training runs take longer than fine-tuning runs."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from fairssl.experiments.executors import Outcome
from fairssl.experiments.grid import RunSpec

Log = Callable[[str], None]


class Progress(Protocol):
    """Reports a grid's progress: ``start`` once, ``finished`` per run, ``close`` at the end."""

    def start(
        self, *, total: int, done: int, todo: int, where: str, kinds: Mapping[str, int] | None = None
    ) -> None: ...

    def finished(self, spec: RunSpec, outcome: Outcome) -> None: ...

    def close(self) -> None: ...


def _eta(start: float, finished: int, remaining: int) -> float:
    """Seconds left at the throughput so far (wall clock per finished run x runs remaining)."""
    return (time.perf_counter() - start) / max(finished, 1) * remaining


def eta_by_kind(
    elapsed: float, seconds: Mapping[str, Sequence[float]], remaining: Mapping[str, int]
) -> float:
    """Seconds left when runs of different kinds take very different times (a pre-training run can take
    as long as twenty fine-tuning runs).

    Remaining work = sum over kinds of (runs left of that kind) x (mean run time of that kind so far; the
    mean over all finished runs for a kind not seen yet); it is divided by the concurrency observed so far
    (run seconds finished / wall seconds elapsed, 2 with two busy workers).
    """
    done = [t for ts in seconds.values() for t in ts]
    if not done or elapsed <= 0:
        return float("nan")
    overall = sum(done) / len(done)
    work = sum(
        n * (sum(seconds[k]) / len(seconds[k]) if seconds.get(k) else overall) for k, n in remaining.items()
    )
    concurrency = max(sum(done) / elapsed, 1e-9)
    return work / concurrency


def _clock(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def describe_outcome(spec: RunSpec, outcome: Outcome) -> str:
    """``setup 0  seed 1 [variant]: 12 epochs, val AUROC 0.712 (3.1 s)`` or ``... FAILED: error``."""
    variant = "" if spec.variant == "base" else f" [{spec.variant}]"
    head = f"{spec.label:<22} seed {spec.seed}{variant}"
    if not outcome.ok:
        return f"{head}: FAILED: {outcome.error}"
    epochs = int(outcome.summary.get("epochs", 0))
    auroc = outcome.summary.get("val_auroc")
    extra = f", val AUROC {auroc:.3f}" if auroc is not None else ""
    return f"{head}: {epochs} epochs{extra} ({outcome.seconds:.1f} s)"


class LogProgress:
    """One plain line per finished run (``[i/n] ... ETA h:mm:ss``): logs, CI, no terminal."""

    def __init__(self, log: Log = print) -> None:
        self.log = log
        self._start = time.perf_counter()
        self._todo = 0
        self._finished = 0
        self._left: dict[str, int] | None = None
        self._seconds: dict[str, list[float]] = {}

    def start(
        self, *, total: int, done: int, todo: int, where: str, kinds: Mapping[str, int] | None = None
    ) -> None:
        self._start, self._todo, self._finished = time.perf_counter(), todo, 0
        self._left, self._seconds = (dict(kinds) if kinds else None), {}
        if todo:
            self.log(f"grid: {total} runs, {todo} to run on {where}")

    def finished(self, spec: RunSpec, outcome: Outcome) -> None:
        self._finished += 1
        if self._left is not None:
            self._left[spec.kind] = max(self._left.get(spec.kind, 0) - 1, 0)
            self._seconds.setdefault(spec.kind, []).append(outcome.seconds)
            eta = eta_by_kind(time.perf_counter() - self._start, self._seconds, self._left)
        else:
            eta = _eta(self._start, self._finished, self._todo - self._finished)
        left = f", ETA {_clock(eta)}" if self._finished < self._todo and math.isfinite(eta) else ""
        self.log(f"[{self._finished}/{self._todo}] {describe_outcome(spec, outcome)}{left}")

    def close(self) -> None:
        return None


class RichProgress:
    """A live bar (runs done / total, elapsed, ETA) on a terminal; failures are printed above it."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self._bar: Any = None
        self._task: Any = None

    def start(
        self, *, total: int, done: int, todo: int, where: str, kinds: Mapping[str, int] | None = None
    ) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        if not todo:
            return
        self._bar = Progress(
            TextColumn("[bold]runs[/] ({task.fields[where]})"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._bar.start()
        self._task = self._bar.add_task("runs", total=todo, where=where)

    def finished(self, spec: RunSpec, outcome: Outcome) -> None:
        if self._bar is None:
            return
        if not outcome.ok:
            self._bar.console.print(describe_outcome(spec, outcome), highlight=False, markup=False)
        self._bar.advance(self._task)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


__all__ = ["LogProgress", "Progress", "RichProgress", "describe_outcome", "eta_by_kind"]
