"""Fixed costs of one fine-tuning run: what a run pays besides its training loop (issue #23, target: under
10% of a quick fine-tuning run).

    python benchmarks/run_overhead.py            # the default study (quick profile), setups supervised and 3
    python benchmarks/run_overhead.py --labelled-fraction 1.0
    python benchmarks/run_overhead.py --setups supervised 3 1-first --val-cache both --repeats 4

Each run executes as a worker executes it (:func:`fairssl.experiments.executor_tasks.run_task`: dataset from
the worker's cache, the run, its artifacts, its record) under ``cProfile``; printed per run: the total, the
training loop (:func:`fairssl.finetune.train.finetune`) and inside it the per-epoch validation (the
:class:`fairssl.finetune.val_cache.PrefixCachedScorer` calls scoring the validation split, and the
supervised run's recorded test trajectory, every epoch, plus ``prob_metrics``), and what is left outside
the loop: test predictions, activations, artifact writes and the fingerprint of the record. The dataset is
built once before (the worker's cache: every later run of the same data reads it from memory); its cold
build is printed too. Every run executes once unmeasured first (a worker imports torch and the package
once, not per run), then again under the profiler. Shares are of the run's own total, measured in the same
process (the machine may be shared); the profiler's own per-call overhead is inside every number
(``--no-profile``: totals only, without it).

``--val-cache``: ``on`` (the default, as a study runs), ``off`` (every epoch scores the whole validation
split, ``val_cache.MAX_CACHE_BYTES = 0``) or ``both``: each run measured without and with the cache, back
to back (in the order off, on, then on, off, ... over ``--repeats``, so a drift in the machine's load
cancels), then per setup the medians and the ratio of the totals (scores, histories and selected models
are bit-identical either way: ``tests/finetune/test_val_cache.py``).
"""

from __future__ import annotations

import argparse
import cProfile
import math
import pstats
import tempfile
import time
from pathlib import Path

import numpy as np

from fairssl.config import StudyConfig, build_config
from fairssl.experiments.executor_tasks import Task, clear_dataset_cache, dataset_for, run_task
from fairssl.experiments.grid import RunSpec, expand, unique_runs
from fairssl.experiments.workspace import Workspace
from fairssl.finetune import val_cache


def cumulative(stats: pstats.Stats, name: str, file_part: str) -> float:
    """Cumulative seconds of the functions called ``name`` in files containing ``file_part``."""
    total = 0.0
    for (filename, _line, func), row in stats.stats.items():  # type: ignore[attr-defined]
        if func == name and file_part in filename:
            total = max(total, row[3])
    return total


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--labelled-fraction", type=float, default=None, help="data.simulate.labelled_fraction"
    )
    parser.add_argument("--setups", nargs="+", default=["supervised", "3"])
    parser.add_argument("--top", type=int, default=0, help="also print the N costliest fairssl functions")
    parser.add_argument(
        "--val-cache",
        choices=["on", "off", "both"],
        default="on",
        help="the frozen-prefix validation cache: on, off, or both (each run without, then with; the ratio)",
    )
    parser.add_argument("--repeats", type=int, default=1, help="measured runs per setup (and mode)")
    parser.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="--no-profile: totals only, without the profiler's per-call overhead (no breakdown)",
    )
    args = parser.parse_args()
    overrides: dict = {"finetune": {"setups": args.setups}}
    if args.labelled_fraction is not None:
        overrides["data"] = {"simulate": {"labelled_fraction": args.labelled_fraction}}
    config = build_config(overrides)
    clear_dataset_cache()
    start = time.perf_counter()
    dataset_for(config)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    dataset_for(config)
    warm = time.perf_counter() - start
    print(f"dataset: cold build {cold:.2f} s, from the worker's cache {warm * 1e3:.1f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp))
        ws.runs.mkdir(parents=True, exist_ok=True)
        runs = unique_runs(expand(config))
        for spec in runs:  # a first pass: the pre-training the fine-tunings need, and the worker's imports
            if not run_task(Task(spec, config, str(ws.root))).ok:
                raise SystemExit(f"run {spec.run_id} failed")
        modes = {"on": [True], "off": [False], "both": [False, True]}[args.val_cache]
        measured: dict[tuple[str, bool], list[tuple[float, float]]] = {}
        for spec in runs:  # measured: each run again, as a warm worker runs it (pre-training once)
            reps, each = (args.repeats, modes) if spec.kind == "finetune" else (1, modes[:1])
            for rep in range(reps):  # off, on, then on, off, ...: a drift in the machine's load cancels
                for cached in each if rep % 2 == 0 else each[::-1]:
                    costs = measure(spec, config, ws, cached, args.top, profile=args.profile)
                    if costs is not None:
                        measured.setdefault((str(spec.setup), cached), []).append(costs)
        summary(measured, [str(spec.setup) for spec in runs if spec.kind == "finetune"], modes)


def summary(
    measured: dict[tuple[str, bool], list[tuple[float, float]]], setups: list[str], modes: list[bool]
) -> None:
    """Per setup: the median total and validation share of each mode, and the ratio of the totals."""
    print("\nmedians over repeats (total s, validation share of the total):")
    for setup in setups:
        cells, totals = [], []
        for cached in modes:
            rows = np.asarray(measured[(setup, cached)])  # (repeats, 2): total, validation seconds
            total, share = float(np.median(rows[:, 0])), float(np.median(rows[:, 1] / rows[:, 0]))
            totals.append(total)
            val = "n/a (unprofiled)" if math.isnan(share) else f"{share:5.1%}"
            cells.append(f"cache {'on' if cached else 'off'}: {total:6.2f} s, validation {val}")
        ratio = f" | without / with: {totals[0] / totals[1]:.2f}x" if len(totals) == 2 else ""
        print(f"{setup:>10s}: {' | '.join(cells)}{ratio}")


def measure(
    spec: RunSpec, config: StudyConfig, ws: Workspace, cached: bool, top: int, *, profile: bool
) -> tuple[float, float] | None:
    """Run ``spec`` once, under the profiler unless ``profile`` is False (validation cache on or off);
    print its costs; return its (total, validation) seconds (validation NaN unprofiled; None for a
    pre-training)."""
    cap = val_cache.MAX_CACHE_BYTES
    val_cache.MAX_CACHE_BYTES = cap if cached else 0
    profiler = cProfile.Profile()
    try:
        if profile:
            profiler.enable()
        outcome = run_task(Task(spec, config, str(ws.root)))
        profiler.disable()
    finally:
        val_cache.MAX_CACHE_BYTES = cap
    if not outcome.ok:
        raise SystemExit(f"run {spec.run_id} failed: {outcome.error}")
    if spec.kind != "finetune":
        print(f"pretrain seed {spec.seed}: {outcome.seconds:.2f} s (not a fixed-cost subject)")
        return None
    total = outcome.seconds
    if not profile:
        print(f"{spec.setup:>10s} (val cache {'on' if cached else 'off'}): total {total:6.2f} s")
        return total, math.nan
    stats = pstats.Stats(profiler)
    loop = cumulative(stats, "finetune", "finetune/train.py")
    val = cumulative(stats, "__call__", "finetune/val_cache.py") + cumulative(
        stats, "prob_metrics", "finetune/train.py"
    )
    outside = total - loop
    print(
        f"{spec.setup:>10s} (val cache {'on' if cached else 'off'}): total {total:6.2f} s | "
        f"training loop {loop:6.2f} s ({loop / total:5.1%}), "
        f"validation {val:5.2f} s ({val / total:5.1%}) | outside the loop {outside:5.2f} s "
        f"({outside / total:5.1%}; target < 10%)"
    )
    if top:
        stats.sort_stats("cumulative").print_stats("fairssl", top)
    return total, val


if __name__ == "__main__":
    main()
