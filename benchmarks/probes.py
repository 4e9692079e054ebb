"""Benchmark: the linear probes of one model (demographic + group task probe), old vs new implementation.

Setting (the default ``fairssl run``'s shape): N = 1,500 test windows of 150 subjects (10 each), three
attributes (race: 4 groups, sex: 2, age_group: 3), conv layers of 32 x 24, 64 x 12 and 96 x 6 flattened
features plus a 96-feature pooled layer, ``max_features=64`` (PCA), 5 subject folds, ``n_boot=200``.

The baseline is :mod:`fairssl.similarity.probes` as of a pinned commit (``--baseline``, read with
``git show`` into a temporary module); both run in this process on the same inputs, the new one first
and last (the better time counts) to soften drift on a shared machine. Checks:

- demographic and task probe with ``solver="sklearn"``: every estimate and interval equal to
  floating-point noise (``--atol``); with the default ``solver="newton"`` (the same optimum, reached
  more precisely than lbfgs's ``tol=1e-4``): estimates within 0.01, the worst difference printed;
- ``group_pca="pooled"`` (the group probes reuse the fold's pooled PCA; another estimator, not the
  default): its difference from the old estimates is printed next to the old estimator's own
  seed-to-seed difference (old code, seed 0 vs seed 1), which the subject-bootstrap intervals leave out.

    python benchmarks/probes.py                 # default shapes (~20 s with the old code, 2 busy cores)
    python benchmarks/probes.py --quick         # 60 subjects, n_boot 50
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from fairssl.similarity import probes as new_probes

T = TypeVar("T")
BASELINE = "703e6fd"  # the commit before the probes were split and the group probes shared PCA
LAYERS = {"conv1": (32, 24), "conv2": (64, 12), "conv3": (96, 6)}


def make_inputs(
    n_subjects: int = 150, per_subject: int = 10, seed: int = 0
) -> tuple[dict[str, np.ndarray], pd.DataFrame, np.ndarray, np.ndarray]:
    """(acts {layer: (N, C*T) float32}, attributes (N, 3), task labels (N,), subject ids (N,)).

    Subject-level attributes; a weak race and label signal in 8 features of every conv layer, rectified.
    """
    rng = np.random.default_rng(seed)
    n = n_subjects * per_subject
    subjects = np.repeat([f"s{i:04d}" for i in range(n_subjects)], per_subject)
    draw = {
        "race": rng.choice(["a", "b", "c", "d"], size=n_subjects, p=[0.5, 0.25, 0.15, 0.1]),
        "sex": rng.choice(["F", "M"], size=n_subjects),
        "age_group": rng.choice(["<40", "40-65", ">=65"], size=n_subjects),
    }
    frame = pd.DataFrame({k: np.repeat(v, per_subject) for k, v in draw.items()})
    race = pd.factorize(frame["race"], sort=True)[0]
    y = (rng.random(n) < 0.3 + 0.1 * (frame["sex"] == "F").to_numpy()).astype(int)
    acts: dict[str, np.ndarray] = {}
    for name, (c, t) in LAYERS.items():
        base = rng.standard_normal((n, c * t)).astype(np.float32)
        base[:, :8] += (0.3 * race[:, None] + 0.5 * y[:, None]).astype(np.float32)
        acts[name] = np.maximum(base, 0)
    acts["pooled"] = acts["conv3"].reshape(n, 96, 6).max(axis=2)
    return acts, frame, y, subjects


def load_baseline(commit: str) -> ModuleType:
    """The probes module as of ``commit``, imported from a temporary file."""
    root = Path(__file__).resolve().parents[1]
    text = subprocess.run(
        ["git", "show", f"{commit}:src/fairssl/similarity/probes.py"],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "probes_baseline.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("probes_baseline", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["probes_baseline"] = module
    spec.loader.exec_module(module)
    return module


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """(process CPU seconds, result): CPU time is less sensitive to other processes on a shared machine
    than wall time (the probes' small fits run on one BLAS thread); wall time is printed as well."""
    start, wall = time.process_time(), time.perf_counter()
    out = fn()
    cpu = time.process_time() - start
    print(f"    ({cpu:.2f} s CPU, {time.perf_counter() - wall:.2f} s wall)")
    return cpu, out


def run_both(
    module: Any,
    inputs: tuple[Any, ...],
    n_boot: int,
    seed: int = 0,
    solver: str | None = None,
    **task_options: Any,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(demographic_probe, group_task_probe) tables of ``module`` on ``inputs`` (``solver``: the new code's
    logistic-regression solver; None = its default, or the baseline, which has no such option)."""
    acts, frame, y, subjects = inputs
    options: dict[str, Any] = {"subjects": subjects, "n_boot": n_boot, "seed": seed, "max_features": 64}
    if solver is not None:
        options["solver"] = solver
    demo = module.demographic_probe(acts, frame, **options)
    task = module.group_task_probe(acts, y, frame, **options, **task_options)
    return demo, task


def compare(old: pd.DataFrame, new: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Old and new estimates and intervals side by side, one row per key."""
    cols = ["estimate", "ci_low", "ci_high"]
    merged = old[keys + cols].merge(new[keys + cols], on=keys, suffixes=("_old", "_new"), validate="1:1")
    assert len(merged) == len(old) == len(new), "old and new tables have different rows"
    for c in cols:
        merged[f"d_{c}"] = (merged[f"{c}_new"] - merged[f"{c}_old"]).abs()
    half = (merged["ci_high_old"] - merged["ci_low_old"]) / 2
    merged["d_over_halfwidth"] = merged["d_estimate"] / half.where(half > 0)
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="60 subjects, n_boot 50")
    parser.add_argument("--baseline", default=BASELINE, help="git commit of the old probes.py")
    parser.add_argument("--atol", type=float, default=1e-6, help="agreement required where exact")
    args = parser.parse_args()
    inputs = make_inputs(n_subjects=60 if args.quick else 150)
    n_boot = 50 if args.quick else 200
    old_module = load_baseline(args.baseline)
    t_new1, (demo_new, task_new) = timed(lambda: run_both(new_probes, inputs, n_boot))
    t_old, (demo_old, task_old) = timed(lambda: run_both(old_module, inputs, n_boot))
    t_new2, _ = timed(lambda: run_both(new_probes, inputs, n_boot))
    t_sk, (demo_sk, task_sk) = timed(lambda: run_both(new_probes, inputs, n_boot, solver="sklearn"))
    t_pool, (_, task_pool) = timed(lambda: run_both(new_probes, inputs, n_boot, group_pca="pooled"))
    t_new = min(t_new1, t_new2)
    n = len(inputs[3])
    print(f"probes of one model, N = {n} windows, n_boot = {n_boot}, layers {list(inputs[0])}")
    print("CPU seconds (the better of two runs for the new code):")
    print(f"  old ({args.baseline}):        {t_old:7.2f} s")
    print(
        f"  new:                     {t_new:7.2f} s   {t_old / t_new:.2f}x (runs {t_new1:.2f}, {t_new2:.2f})"
    )
    print(f"  new, solver='sklearn':   {t_sk:7.2f} s   {t_old / t_sk:.2f}x")
    print(f"  new, group_pca='pooled': {t_pool:7.2f} s   {t_old / t_pool:.2f}x")

    cols = ["d_estimate", "d_ci_low", "d_ci_high"]
    keys = ["layer", "attribute", "group", "metric"]
    demo = compare(demo_old, demo_sk, ["layer", "attribute", "metric"])
    worst_demo = float(demo[cols].to_numpy().max())
    print(f"demographic probe, solver='sklearn': {len(demo)} rows, max |new - old| = {worst_demo:.2e}")
    task = compare(task_old, task_sk, keys)
    worst_task = float(task[cols].to_numpy().max())
    print(f"task probe, solver='sklearn': {len(task)} rows, max |new - old| = {worst_task:.2e}")
    # the default Newton solver reaches the optimum lbfgs stops short of (tol=1e-4): within 0.01
    demo_n = compare(demo_old, demo_new, ["layer", "attribute", "metric"])
    task_n = compare(task_old, task_new, keys)
    worst_newton = max(float(demo_n["d_estimate"].max()), float(task_n["d_estimate"].max()))
    print(
        f"solver='newton' (default): max |new - old| estimate {worst_newton:.4f} (demographic "
        f"{demo_n['d_estimate'].max():.4f}, task {task_n['d_estimate'].max():.4f}); interval ends "
        f"{max(float(demo_n[cols[1:]].to_numpy().max()), float(task_n[cols[1:]].to_numpy().max())):.4f}"
    )
    # group_pca="pooled" is another estimator: compare with the old estimator's own variability (the
    # same old code with another seed: other folds and PCA draws), which the intervals leave out
    pool = compare(task_old, task_pool, keys)
    _, task_old_seed1 = run_both(old_module, inputs, n_boot, seed=1)
    seed_to_seed = compare(task_old, task_old_seed1, keys)
    for metric in ("auroc_pooled_probe", "auroc_group_probe", "gap"):
        part, ref = pool[pool["metric"] == metric], seed_to_seed[seed_to_seed["metric"] == metric]
        covered = part["estimate_new"].between(part["ci_low_old"], part["ci_high_old"])
        print(
            f"group_pca='pooled', {metric}: |pooled - old| mean {part['d_estimate'].mean():.4f}, max "
            f"{part['d_estimate'].max():.4f}; old seed 0 vs seed 1: mean {ref['d_estimate'].mean():.4f}, "
            f"max {ref['d_estimate'].max():.4f}; old interval covers: {covered.mean():.0%}"
        )
    ok = worst_demo <= args.atol and worst_task <= args.atol and worst_newton <= 0.01
    print(
        "agreement of old and new (group_pca='own'; sklearn solver exact, Newton estimates within 0.01):",
        "OK" if ok else f"FAILED (atol {args.atol})",
    )
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
