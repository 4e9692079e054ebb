"""Fixed costs of one fine-tuning run: what a run pays besides its training loop (issue #23, target: under
10% of a quick fine-tuning run).

    python benchmarks/run_overhead.py            # the default study (quick profile), setups supervised and 3
    python benchmarks/run_overhead.py --labelled-fraction 1.0

Each run executes as a worker executes it (:func:`fairssl.experiments.executor_tasks.run_task`: dataset from
the worker's cache, the run, its artifacts, its record) under ``cProfile``; printed per run: the total, the
training loop (:func:`fairssl.finetune.train.finetune`) and inside it the per-epoch validation
(``predict_proba`` and ``prob_metrics``: scoring the validation split every epoch, the supervised run's
recorded test trajectory and the final test predictions), and what is left outside the loop:
test predictions, activations, artifact writes and the fingerprint of the record. The dataset is built
once before (the worker's cache: every later run of the same data reads it from memory); its cold build is
printed too. Every run executes once unmeasured first (a worker imports torch and the package once, not
per run), then again under the profiler. Shares are of the run's own total, measured in the same process
(the machine may be shared).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from pathlib import Path

from fairssl.config import build_config
from fairssl.experiments.executor_tasks import Task, clear_dataset_cache, dataset_for, run_task
from fairssl.experiments.grid import expand, unique_runs
from fairssl.experiments.workspace import Workspace


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
        for spec in runs:  # measured: each run again, as a warm worker runs it
            profiler = cProfile.Profile()
            profiler.enable()
            outcome = run_task(Task(spec, config, str(ws.root)))
            profiler.disable()
            if not outcome.ok:
                raise SystemExit(f"run {spec.run_id} failed: {outcome.error}")
            if spec.kind != "finetune":
                print(f"pretrain seed {spec.seed}: {outcome.seconds:.2f} s (not a fixed-cost subject)")
                continue
            stats = pstats.Stats(profiler)
            total = outcome.seconds
            loop = cumulative(stats, "finetune", "finetune/train.py")
            val = cumulative(stats, "predict_proba", "finetune/train.py") + cumulative(
                stats, "prob_metrics", "finetune/train.py"
            )
            outside = total - loop
            print(
                f"{spec.setup:>10s}: total {total:6.2f} s | training loop {loop:6.2f} s "
                f"({loop / total:5.1%}), "
                f"scoring {val:5.2f} s ({val / total:5.1%}) | outside the loop {outside:5.2f} s "
                f"({outside / total:5.1%}; target < 10%)"
            )
            if args.top:
                stats.sort_stats("cumulative").print_stats("fairssl", args.top)


if __name__ == "__main__":
    main()
