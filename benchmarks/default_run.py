"""Wall time of the default ``fairssl run`` (the built-in simulator, quick profile) by phase, against a pinned
earlier commit measured in the same session (issue #23, target: under 40 s on 2 idle cores).

    python benchmarks/default_run.py                      # against 06aec38 (before this change), 2 rounds
    python benchmarks/default_run.py --baseline dc62839 --repeats 3 --workers 2

The baseline commit is checked out into a temporary git worktree; both versions run ``fairssl run`` with
no arguments in fresh empty folders, alternately (baseline, current, baseline, ...: a drift in the
machine's load hits both), with ``PYTHONPATH`` pointing at their ``src/`` (the worker processes inherit
it). Every output line is time-stamped as it arrives, and the phases are read from the log:

- *start-up*: process start to the ``grid:`` line (imports, data, audit);
- *training*: ``grid:`` to the last ``[k/k]`` line (pre-training and fine-tuning, 2 worker processes);
- *hand-over*: to the ``evaluation:`` line (the worker pool closes, the analysis starts);
- *analysis*: to ``probes done`` (evaluation, inference, CKA, probes);
- *report*: to the ``report:`` line (figures, tables, HTML).

Printed: each run's phases, then per version the median of each phase and the total, and the ratio
current / baseline (below 1: faster). The two versions' ``results/*.csv`` are compared byte for byte on
the last round (a speed-up must not change a number; tables the baseline does not write are skipped).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PHASES = ("start-up", "training", "hand-over", "analysis", "report", "total")
MARKS = ("grid:", "training-end", "evaluation:", "probes done", "report:")


def timed_run(
    src: Path, folder: Path, workers: int | None, extra: Sequence[str] = ()
) -> tuple[dict[str, float], Path]:
    """``fairssl run [extra]`` from ``src`` in ``folder``: seconds per phase, and the run folder."""
    folder.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONUNBUFFERED": "1"}
    args = ["run", *extra] + ([] if workers is None else ["--workers", str(workers)])
    code = f"import sys; from fairssl.cli import main; sys.argv = ['fairssl'] + {args!r}; sys.exit(main())"
    start = time.monotonic()
    stamps: dict[str, float] = {}
    with subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            now = time.monotonic() - start
            text = line.strip()
            if text.startswith("grid:"):
                stamps.setdefault("grid:", now)
            elif text.startswith("[") and "/" in text.split("]")[0]:
                done, total = text[1:].split("]")[0].split("/")
                if done == total:
                    stamps["training-end"] = now
            for mark in ("evaluation:", "probes done", "report:"):
                if text.startswith(mark):
                    stamps.setdefault(mark, now)
    end = time.monotonic() - start
    if proc.returncode != 0 or any(m not in stamps for m in MARKS):
        raise SystemExit(f"fairssl run from {src} failed (exit {proc.returncode}, saw {sorted(stamps)})")
    edges = [0.0] + [stamps[m] for m in MARKS]
    phases = {name: edges[i + 1] - edges[i] for i, name in enumerate(PHASES[:-1])}
    phases["total"] = end
    (run_dir,) = (folder / "fairssl-runs").iterdir()
    return phases, run_dir


def same_tables(a: Path, b: Path) -> tuple[int, list[str]]:
    """How many of ``a``'s ``results/*.csv`` ``b`` also has, and which of those differ in any byte."""
    shared = [f for f in sorted((a / "results").glob("*.csv")) if (b / "results" / f.name).is_file()]
    return len(shared), [f.name for f in shared if f.read_bytes() != (b / "results" / f.name).read_bytes()]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", default="06aec38", help="git commit to compare against")
    parser.add_argument("--repeats", type=int, default=2, help="rounds (each runs both versions once)")
    parser.add_argument("--workers", type=int, default=None, help="--workers of both runs (default: cores)")
    args = parser.parse_args()
    times: dict[str, list[dict[str, float]]] = {"baseline": [], "current": []}
    with tempfile.TemporaryDirectory(prefix="fairssl-default-run-") as tmp:
        tree = Path(tmp) / "baseline"
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), args.baseline], check=True
        )
        try:
            sources = {"baseline": tree / "src", "current": REPO / "src"}
            runs: dict[str, Path] = {}
            for r in range(args.repeats):
                for name, src in sources.items():
                    phases, runs[name] = timed_run(src, Path(tmp) / f"{name}-{r}", args.workers)
                    times[name].append(phases)
                    shown = "  ".join(f"{p} {phases[p]:5.1f}" for p in PHASES)
                    print(f"round {r + 1} {name:8s}  {shown}", flush=True)
            n, differ = same_tables(runs["baseline"], runs["current"])
            print(
                f"\nresults/*.csv of the last round: {n} tables in both, {len(differ)} differ {differ or ''}"
            )
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], check=False)
    print(f"\nmedians over {args.repeats} rounds (seconds; ratio current / baseline, below 1 is faster):")
    for p in PHASES:
        base = statistics.median(t[p] for t in times["baseline"])
        cur = statistics.median(t[p] for t in times["current"])
        print(f"  {p:10s} baseline {base:6.1f}  current {cur:6.1f}  ratio {cur / base:5.2f}")


if __name__ == "__main__":
    main()
