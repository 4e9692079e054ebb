"""Grid throughput with 2 local workers against 1, and the results store's overhead per run.

    python benchmarks/grid.py            # 8 fine-tuning runs per grid, 2 rounds
    python benchmarks/grid.py --quick    # smoke size

Throughput: a grid of supervised fine-tuning runs (one per seed; a small encoder on the simulator)
executed by the local executor with 1 worker x 2 torch threads (in this process) and with 2 worker
processes x 1 thread, on 2 cores. "warm" times the grid on a started executor (workers spawned, the
dataset loaded in each); "cold" includes starting the workers (with 1 worker that is this process:
only its first grid pays the imports, so cold figures are rough). The two settings alternate in rounds
(the machine may be shared); each rate is the best over the rounds. Target: 2 workers >= 1.7x 1 worker
(warm).

Store overhead: (a) the store operations one run costs (register, mark running, mark done with 5
metrics; each a transaction on a WAL file); (b) a grid of no-op runs scheduled with the real store
against the same grid with a store that does nothing: the difference per run, and its share of one real
fine-tuning run's time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fairssl.config import StudyConfig, build_config
from fairssl.experiments.executors import (
    Backend,
    InlineBackend,
    Outcome,
    Task,
    available_cores,
    execute,
    make_backend,
)
from fairssl.experiments.grid import RunSpec, expand, unique_runs
from fairssl.experiments.store import Store


def study(n_runs: int, *, epochs: int, workers: int, threads: int, seed0: int = 0) -> StudyConfig:
    return build_config(
        {
            "name": "bench-grid",
            "seeds": list(range(seed0, seed0 + n_runs)),
            "data": {"simulate": {"n_subjects": 300, "windows_per_subject": 6, "pool_fraction": 0.3}},
            "model": {"widths": [16, 16, 16]},
            "finetune": {"epochs": epochs, "patience": 0, "batch_size": 64, "setups": ["supervised"]},
            "runtime": {"workers": workers, "threads": threads},
        }
    )


class KeepOpen:
    """A backend whose ``close()`` (called by ``execute`` at the end of a grid) keeps the workers."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = inner.name
        self.slots = inner.slots

    def submit(self, task: Task) -> Any:
        return self.inner.submit(task)

    def wait(self, handles: Sequence[Any]) -> list[tuple[Any, Outcome]]:
        return self.inner.wait(handles)

    def close(self, *, cancel: bool = False) -> None:
        if cancel:
            self.inner.close(cancel=True)


def run_grid(config: StudyConfig, backend: Backend, threads: int | None, root: Path) -> float:
    """Seconds to execute the config's runs on ``backend`` (a fresh run folder and store)."""
    root.mkdir(parents=True)
    runs = unique_runs(expand(config))
    with Store(root / "results.sqlite") as store:
        store.add_runs(runs)
        start = time.perf_counter()
        result = execute(
            runs, backend=backend, store=store, make_task=lambda s: Task(s, config, str(root), threads)
        )
        seconds = time.perf_counter() - start
    if result.failed:
        raise SystemExit(f"benchmark runs failed: {result.failed}")
    return seconds


def throughput(n_runs: int, epochs: int, rounds: int, tmp: Path) -> dict[str, dict[str, float]]:
    """Best runs/s over the rounds, per setting, warm and cold."""
    settings = {"1 worker x 2 threads": (1, 2), "2 workers x 1 thread": (2, 1)}
    best: dict[str, dict[str, float]] = {name: {"warm": 0.0, "cold": 0.0} for name in settings}
    for r in range(rounds):
        for name, (workers, threads) in settings.items():
            config = study(n_runs, epochs=epochs, workers=workers, threads=threads)
            backend, t = make_backend(config.runtime)
            cold = run_grid(config, backend, t, tmp / f"cold-{r}-{workers}")  # starts (and stops) the workers
            backend, t = make_backend(config.runtime)
            keep = KeepOpen(backend)
            warm_up = study(2 * workers, epochs=1, workers=workers, threads=threads, seed0=1000)
            run_grid(warm_up, keep, t, tmp / f"warmup-{r}-{workers}")
            warm = run_grid(config, keep, t, tmp / f"warm-{r}-{workers}")
            backend.close()
            best[name]["warm"] = max(best[name]["warm"], n_runs / warm)
            best[name]["cold"] = max(best[name]["cold"], n_runs / cold)
            rates = f"warm {n_runs / warm:6.2f} runs/s   cold {n_runs / cold:6.2f} runs/s"
            print(f"  round {r + 1} {name:<22} {rates}")
    return best


class NullStore:
    """The store's interface doing nothing: the baseline for its overhead."""

    def add_runs(self, specs: Sequence[RunSpec]) -> int:
        return 0

    def mark_running(self, run_id: str, *, worker: str | None = None) -> None:
        return None

    def mark_done(self, run_id: str, **kwargs: Any) -> None:
        return None

    def mark_failed(self, run_id: str, error: str) -> None:
        return None

    def mark_pending(self, run_ids: Any) -> None:
        return None


METRICS: Mapping[str, float] = {
    "epochs": 12.0,
    "best_epoch": 9.0,
    "val_auroc": 0.71,
    "seconds": 1.2,
    "stopped": 0.0,
}


def store_ops_per_run(n: int, tmp: Path) -> float:
    """Seconds of the store operations of one run: register, mark running, mark done with metrics."""
    runs = [RunSpec(f"ft-{i:06d}", "finetune", i, setup="supervised", payload={"seed": i}) for i in range(n)]
    with Store(tmp / "ops.sqlite") as store:
        start = time.perf_counter()
        for spec in runs:
            store.add_runs([spec])
            store.mark_running(spec.run_id)
            store.mark_done(spec.run_id, seconds=1.0, metrics=METRICS)
        return (time.perf_counter() - start) / n


def noop_grid(n: int, store_factory: Callable[[], Any]) -> float:
    """Seconds per run of scheduling ``n`` no-op runs inline with the given store."""
    runs = [RunSpec(f"ft-{i:06d}", "finetune", i, setup="supervised") for i in range(n)]
    config = build_config({})
    store = store_factory()
    store.add_runs(runs)

    def noop(task: Task) -> Outcome:
        return Outcome(task.spec.run_id, True, dict(METRICS), 0.0, worker="bench")

    start = time.perf_counter()
    execute(runs, backend=InlineBackend(noop), store=store, make_task=lambda s: Task(s, config, "."))
    seconds = (time.perf_counter() - start) / n
    if isinstance(store, Store):
        store.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke size")
    args = parser.parse_args()
    n_runs, epochs, rounds, n_ops = (4, 2, 1, 100) if args.quick else (8, 6, 2, 500)
    print(
        f"cores available: {available_cores()}; grid: {n_runs} supervised fine-tuning runs, {epochs} epochs"
    )
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        best = throughput(n_runs, epochs, rounds, tmp)
        one, two = best["1 worker x 2 threads"], best["2 workers x 1 thread"]
        print("throughput (best over rounds):")
        for name, rates in best.items():
            print(f"  {name:<22} warm {rates['warm']:6.2f} runs/s   cold {rates['cold']:6.2f} runs/s")
        print(
            f"  ratio 2 workers / 1 worker: warm {two['warm'] / one['warm']:.2f}x (target >= 1.7x), "
            f"cold {two['cold'] / one['cold']:.2f}x"
        )

        ops = store_ops_per_run(n_ops, tmp)
        with_store = noop_grid(n_ops, lambda: Store(tmp / "noop.sqlite"))
        without = noop_grid(n_ops, NullStore)
        run_seconds = 1.0 / one["warm"]  # one real fine-tuning run, 2 threads
        print("store overhead:")
        print(f"  store operations per run (register + running + done with 5 metrics): {ops * 1e3:.2f} ms")
        print(
            f"  no-op grid, per run: with the store {with_store * 1e3:.2f} ms, with a null store "
            f"{without * 1e3:.3f} ms -> overhead {(with_store - without) * 1e3:.2f} ms per run"
        )
        print(
            f"  overhead / one real fine-tuning run ({run_seconds:.2f} s): "
            f"{(with_store - without) / run_seconds:.2%}"
        )


if __name__ == "__main__":
    main()
