"""Benchmark: the analysis stages (similarity: CKA, conditioned CKA, ratio null; linear probes) against the
training they analyse, new code against a baseline commit, on the same stored study (issue 23, target 2).

Setting: the default ``fairssl run`` (simulator, 8 runs: SimCLR pre-training and seven fine-tunings),
run once into ``--run-dir`` (reused when it already holds a finished study). Training seconds are read
from the store (``runs.seconds``: pre-training and the sum over fine-tunings, as the workers measured
them; with 2 workers the wall time of training is shorter than their sum, so the ratio against the sum
is the favourable one and the ratio against wall time is printed too).

Each analysis path runs in its own subprocess on a private copy of the run folder, the same driver
for both: the new code (this checkout's ``src``) and the baseline (``git archive <commit> src/fairssl``
into a temporary folder, the rest unchanged), timing ``similarity_stage`` and ``run_probes`` alone
(no evaluation, no report). Then it checks the outputs agree:

- similarity tables (``cka``, ``cka_conditioned``, ``cka_best_worst``, ``cka_ratio``, ``cka_ratio_null``):
  same rows and text columns, numbers equal to float64 rounding (max abs difference printed);
- probe tables: same rows and text columns; max abs difference of estimates and interval ends and the
  number of flags (``above_chance``, ``above_reference``) that differ printed (the Newton solver reaches
  the optimum lbfgs stops short of at ``tol=1e-4``: estimates within 0.01).

Timings are CPU seconds of the analysing process (``time.process_time``; the stages are single-threaded
apart from BLAS, which the probes hold to one thread), with wall seconds beside them: on a shared, busy
machine wall time mostly measures the other processes. ``--repeat`` runs both paths alternately and
keeps each one's best.

    python benchmarks/analysis.py                           # default study in /tmp/fairssl_bench_analysis
    python benchmarks/analysis.py --run-dir DIR --baseline 1a1dfe8 --repeat 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "1a1dfe8"  # the commit before the batched CKA draws and the Newton probe solver
SIMILARITY_TABLES = ("cka", "cka_conditioned", "cka_best_worst", "cka_ratio", "cka_ratio_null")
PROBE_TABLES = ("probes_demographic", "probes_task")

DRIVER = r'''
"""Time stage 4 (similarity) and the probes of a finished run folder with whichever fairssl is imported."""
import json, sys, time
from pathlib import Path
import pandas as pd
from fairssl.config import load_config
from fairssl.experiments.artifacts import load_predictions
from fairssl.experiments.executor_tasks import dataset_for
from fairssl.experiments.grid import RunSpec
from fairssl.experiments.probing import run_probes
from fairssl.experiments.stage_similarity import similarity_stage
from fairssl.experiments.workspace import Workspace

root = Path(sys.argv[1])
config = load_config(root / "config.toml")
ws = Workspace(root)
ds = dataset_for(config)
specs = [RunSpec(**json.loads((d / "spec.json").read_text())) for d in sorted((root / "runs").glob("ft-*"))]
preds = {s.run_id: load_predictions(ws, s.run_id, ds) for s in specs}
results = pd.read_parquet(root / "results" / "results.parquet")
attributes = list(config.evaluation.attributes or ds.attribute_names)
quiet = lambda message: None
w0, c0 = time.perf_counter(), time.process_time()
tables = similarity_stage(config, ws, specs, preds, results, attributes, gaps=[], log=quiet)
w1, c1 = time.perf_counter(), time.process_time()
best_worst = tables.get("cka_best_worst")
run_probes(config, ws, specs, preds, attributes, cka_best_worst=best_worst, gaps=[], log=quiet)
w2, c2 = time.perf_counter(), time.process_time()
times = {"similarity": c1 - c0, "probes": c2 - c1, "similarity_wall": w1 - w0, "probes_wall": w2 - w1}
print(json.dumps(times))
'''


def ensure_study(run_dir: Path) -> None:
    """Run the default study into ``run_dir`` unless it already holds a finished one."""
    if (run_dir / "results" / "results.parquet").is_file():
        print(f"reusing the study in {run_dir}")
        return
    print(f"running the default study into {run_dir} (a few minutes on 2 cores)")
    fairssl = Path(sys.executable).with_name("fairssl")
    subprocess.run([str(fairssl), "run", "--out", str(run_dir)], check=True, stdout=subprocess.DEVNULL)


def training_seconds(run_dir: Path) -> dict[str, float]:
    """Seconds per run kind from the store (``runs.seconds``) and the training wall time."""
    from fairssl.experiments.store import Store

    with Store(run_dir / "results.sqlite", readonly=True) as store:
        records = [r for r in store.records() if r.status == "done" and r.seconds is not None]
    out = {"pretrain": 0.0, "finetune": 0.0}
    for r in records:
        out[r.kind] = out.get(r.kind, 0.0) + float(r.seconds or 0.0)
    starts = [r.started_at for r in records if r.started_at is not None]
    ends = [r.finished_at for r in records if r.finished_at is not None]
    out["wall"] = (max(ends) - min(starts)) if starts and ends else float("nan")
    return out


def baseline_src(commit: str, into: Path) -> Path:
    """``src/`` of ``commit`` extracted into ``into`` (``git archive``; the working tree is untouched)."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "src/fairssl"], check=True, capture_output=True
    ).stdout
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def time_path(src: Path, run_dir: Path, work: Path, name: str) -> tuple[dict[str, float], Path]:
    """Run the driver with ``src`` first on the path, on a fresh copy of the run folder."""
    copy = work / name
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("report*", "*.html"))
    driver = work / "driver.py"
    driver.write_text(DRIVER)
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run([sys.executable, str(driver), str(copy)], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{name} analysis failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), copy / "results"


def compare(old: Path, new: Path, names: tuple[str, ...]) -> dict[str, str]:
    """Per table: max abs difference of the numeric columns and how many true/false flags differ; raises
    if rows, text columns or the NaN pattern differ."""
    out = {}
    for name in names:
        a, b = pd.read_csv(old / f"{name}.csv"), pd.read_csv(new / f"{name}.csv")
        if list(a.columns) != list(b.columns) or a.shape != b.shape:
            raise SystemExit(f"{name}: shape/columns differ: {a.shape} {list(a.columns)} vs {b.shape}")
        flags = [c for c in a.columns if a[c].dtype == bool]
        num = [c for c in a.columns if pd.api.types.is_numeric_dtype(a[c]) and c not in flags]
        text = [c for c in a.columns if c not in num and c not in flags]
        if not a[text].astype(str).equals(b[text].astype(str)):
            raise SystemExit(f"{name}: text columns differ")
        x, y = a[num].to_numpy(dtype=float), b[num].to_numpy(dtype=float)
        if not np.array_equal(np.isnan(x), np.isnan(y)):
            raise SystemExit(f"{name}: NaN pattern differs")
        with np.errstate(invalid="ignore"):
            diff = np.abs(np.where(np.isnan(x), 0.0, x) - np.where(np.isnan(y), 0.0, y))
        worst = float(np.nanmax(diff)) if diff.size else 0.0
        flipped = int((a[flags] != b[flags]).to_numpy().sum()) if flags else 0
        out[name] = f"{worst:.1e}" + (f", {flipped} of {a[flags].size} flags differ" if flags else "")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--run-dir", type=Path, default=Path(tempfile.gettempdir()) / "fairssl_bench_analysis"
    )
    parser.add_argument("--baseline", default=BASELINE, help="commit of the old analysis code")
    parser.add_argument("--repeat", type=int, default=1, help="alternate runs of each path; best counts")
    args = parser.parse_args()
    ensure_study(args.run_dir)
    train = training_seconds(args.run_dir)
    with tempfile.TemporaryDirectory(prefix="fairssl_bench_") as tmp:
        work = Path(tmp)
        old_src = baseline_src(args.baseline, work / "baseline")
        best: dict[str, dict[str, float]] = {}
        results: dict[str, Path] = {}
        for _ in range(args.repeat):
            for name, src in (("new", ROOT / "src"), ("old", old_src)):
                started = time.perf_counter()
                times, results[name] = time_path(src, args.run_dir, work, name)
                print(f"  {name}: {times} ({time.perf_counter() - started:.0f} s with start-up)")
                for stage, seconds in times.items():
                    best.setdefault(name, {})[stage] = min(best.get(name, {}).get(stage, np.inf), seconds)
        sim_diff = compare(results["old"], results["new"], SIMILARITY_TABLES)
        probe_diff = compare(results["old"], results["new"], PROBE_TABLES)
    trained = train["pretrain"] + train["finetune"]
    print(
        f"\ntraining (store, worker seconds): pre-training {train['pretrain']:.1f} s, fine-tuning "
        f"{train['finetune']:.1f} s, sum {trained:.1f} s; wall {train['wall']:.1f} s"
    )
    print("CPU seconds of the analysing process (less sensitive to other load than wall seconds):")
    print(f"{'stage':<12}{'old s':>9}{'new s':>9}{'speed-up':>10}{'old wall':>10}{'new wall':>10}")
    for stage in ("similarity", "probes"):
        o, n = best["old"][stage], best["new"][stage]
        ow, nw = best["old"][f"{stage}_wall"], best["new"][f"{stage}_wall"]
        print(f"{stage:<12}{o:>9.1f}{n:>9.1f}{o / n:>9.1f}x{ow:>10.1f}{nw:>10.1f}")
    old_total = best["old"]["similarity"] + best["old"]["probes"]
    new_total = best["new"]["similarity"] + best["new"]["probes"]
    print(f"{'analysis':<12}{old_total:>9.1f}{new_total:>9.1f}{old_total / new_total:>9.1f}x")
    wall = train["wall"]
    print(
        f"analysis CPU s / training (sum of the runs' seconds): old {old_total / trained:.0%}, "
        f"new {new_total / trained:.0%} (target <= 15%)"
    )
    print(f"analysis CPU s / training wall s: old {old_total / wall:.0%}, new {new_total / wall:.0%}")
    print("similarity tables, max abs difference old vs new:", sim_diff)
    print("probe tables, max abs difference old vs new:", probe_diff)


if __name__ == "__main__":
    main()
