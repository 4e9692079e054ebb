"""``fairssl run`` with its fine-tuning runs trained one by one against ``runtime.stack_runs`` (issue #23,
target 3: batched training of many small models), measured in the same session.

    python benchmarks/stacked_study.py                            # stack 3, seeds 0-2, 2 rounds
    python benchmarks/stacked_study.py --stack 6 --seeds 5 --workers 1 --repeats 3

Both settings run ``fairssl run --set runtime.stack_runs=K --set seeds=[...]`` (the built-in simulator,
quick profile) in fresh folders, alternately (one by one, stacked, one by one, ...: a drift in the
machine's load hits both). Per run it prints the phases of :mod:`default_run` (the training phase is
what stacking changes) and the fine-tuning CPU time (the sum of the fine-tuning runs' ``seconds``; a
stacked run records its share of its task). Then the medians, the ratio stacked / one by one (below 1:
faster), and the largest difference between the two settings' test predictions and the number of
``results/*.csv`` that differ in any byte (stacking must not change a number beyond float rounding).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from default_run import REPO, same_tables, timed_run

ROWS = ("training", "fine-tuning CPU", "total")


def finetune_seconds(run_dir: Path) -> float:
    """The sum of the fine-tuning runs' recorded seconds in ``run_dir``."""
    records = [json.loads(p.read_text()) for p in run_dir.glob("runs/*/done.json")]
    return sum(r["summary"]["seconds"] for r in records if r["kind"] == "finetune")


def largest_difference(a: Path, b: Path) -> float:
    """max |prob_1(a) - prob_1(b)| over every fine-tuning run's test predictions."""
    worst = 0.0
    for pred in a.glob("runs/*/predictions.parquet"):
        x = pd.read_parquet(pred)["prob_1"].to_numpy()
        y = pd.read_parquet(b / pred.relative_to(a))["prob_1"].to_numpy()
        worst = max(worst, float(np.abs(x - y).max()))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stack", type=int, default=3, help="runtime.stack_runs of the stacked runs")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..n-1 (7 fine-tuning runs each)")
    parser.add_argument("--repeats", type=int, default=2, help="rounds (each runs both settings once)")
    parser.add_argument("--workers", type=int, default=None, help="--workers of both (default: cores)")
    args = parser.parse_args()
    seeds = f"seeds={list(range(args.seeds))}"
    settings = {"one by one": 1, f"stacked {args.stack}": args.stack}
    times: dict[str, list[dict[str, float]]] = {name: [] for name in settings}
    folders: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="fairssl-stacked-") as tmp:
        for r in range(args.repeats):
            for i, (name, k) in enumerate(settings.items()):
                extra = ["--set", seeds, "--set", f"runtime.stack_runs={k}"]
                phases, folders[name] = timed_run(REPO / "src", Path(tmp) / f"{i}-{r}", args.workers, extra)
                phases["fine-tuning CPU"] = finetune_seconds(folders[name])
                times[name].append(phases)
                print(
                    f"round {r + 1} {name:12s}  " + "  ".join(f"{p} {phases[p]:6.1f}" for p in ROWS),
                    flush=True,
                )
        alone, stacked = folders.values()
        n, differ = same_tables(alone, stacked)
        print(
            f"\nlast round: max |test prob difference| {largest_difference(alone, stacked):.1e}; "
            f"{n} results/*.csv in both, {len(differ)} differ {differ or ''}"
        )
    print(f"\nmedians over {args.repeats} rounds (seconds; ratio stacked / one by one, below 1 is faster):")
    base_name, new_name = settings
    for p in ROWS:
        base = statistics.median(t[p] for t in times[base_name])
        new = statistics.median(t[p] for t in times[new_name])
        print(f"  {p:16s} one by one {base:7.1f}  {new_name} {new:7.1f}  ratio {new / base:5.2f}")


if __name__ == "__main__":
    main()
