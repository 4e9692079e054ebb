"""Benchmark: the probe stage's costs and the choices made for them (issue 23), each new path against the
old one measured in the same run, with the outputs checked equal.

1. ``solver``: the multinomial probe fits of one model (captured from a demographic probe) by the earlier
   L-BFGS (:func:`fairssl.similarity.probe_solver._lbfgs_multinomial`) and by Newton's method (the
   default), one BLAS thread: seconds, ratio, Newton steps per fit, max |P_old - P_new|.
2. ``pca``: the probe's PCA at the shapes the default study fits (printed with their counts) and at larger
   ones: scikit-learn's randomized solver (what the probe uses), ``PCA(svd_solver="full")`` and an exact
   PCA by ``eigh`` of the smaller Gram matrix (top components only): ms per fit and ratio to randomized.
3. ``workers``: ``run_probes`` of the whole study with ``runtime.workers`` 1 (serial, the old path) and 2
   (this process and one spawned worker): wall and CPU seconds, ratio, the tables checked identical, and
   the wall time to expect on 2 idle cores (the jobs' measured CPU seconds scheduled on two).
4. ``figures``: the report's figures of the study, ``savefig`` seconds per format (PNG, SVG, PDF).

``--run-dir`` is a finished default study (``fairssl run --out DIR``); parts 1, 3 and 4 need it, part 2
runs without it. Timings on a shared machine are noisy: compare the ratios, not the seconds.

    python benchmarks/probe_speed.py --run-dir out                 # all four parts
    python benchmarks/probe_speed.py --parts pca                   # PCA shapes only
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg
from sklearn.decomposition import PCA
from threadpoolctl import threadpool_limits

from fairssl.similarity import probe_fit, probe_solver

PAPER_SHAPES = [(1200, 768), (1200, 3072), (4000, 768)]


def study(run_dir: Path) -> tuple[Any, Any, list[Any], dict[str, pd.DataFrame], list[str]]:
    """(config, workspace, fine-tuning specs, predictions with attributes, attributes) of a study."""
    from fairssl.config import load_config
    from fairssl.experiments.artifacts import load_predictions
    from fairssl.experiments.executor_tasks import dataset_for
    from fairssl.experiments.grid import RunSpec
    from fairssl.experiments.workspace import Workspace

    config = load_config(run_dir / "config.toml")
    ws = Workspace(run_dir)
    ds = dataset_for(config)
    specs = [RunSpec(**json.loads((d / "spec.json").read_text())) for d in sorted(ws.runs.glob("ft-*"))]
    preds = {s.run_id: load_predictions(ws, s.run_id, ds) for s in specs}
    return config, ws, specs, preds, list(config.evaluation.attributes or ds.attribute_names)


def capture_model(run_dir: Path) -> tuple[list[tuple[Any, ...]], Counter[tuple[int, int]]]:
    """Probe the study's first model: its multinomial problems (Z1, Y, s, C) and the (n, p) shapes of the
    training rows its PCA is fitted on."""
    from fairssl.experiments.probing import probe_model

    config, ws, specs, preds, attributes = study(run_dir)
    problems: list[tuple[Any, ...]] = []
    shapes: Counter[tuple[int, int]] = Counter()
    newton, prepare = probe_solver._newton_multinomial, probe_fit._prepare

    def keep(Z1: np.ndarray, Y: np.ndarray, s: np.ndarray, C: float) -> Any:
        problems.append((Z1.copy(), Y.copy(), s.copy(), C))
        return newton(Z1, Y, s, C)

    def count(X_train: np.ndarray, X_test: np.ndarray, **kw: Any) -> Any:
        if kw["max_features"] is not None and X_train.shape[1] > min(kw["max_features"], X_train.shape[0]):
            shapes[X_train.shape] += 1
        return prepare(X_train, X_test, **kw)

    setattr(probe_solver, "_newton_multinomial", keep)  # noqa: B010 - patched for one probe, restored below
    setattr(probe_fit, "_prepare", count)  # noqa: B010
    try:
        probe_model(config, ws, specs[0], preds[specs[0].run_id], attributes, "demographic")
        probe_model(config, ws, specs[0], preds[specs[0].run_id], attributes, "task")
    finally:
        setattr(probe_solver, "_newton_multinomial", newton)  # noqa: B010
        setattr(probe_fit, "_prepare", prepare)  # noqa: B010
    return problems, shapes


def part_solver(problems: list[tuple[Any, ...]]) -> None:
    steps = [0]
    system = probe_solver._multinomial_system

    def counted(*args: Any) -> Any:
        steps[0] += 1
        return system(*args)

    setattr(probe_solver, "_multinomial_system", counted)  # noqa: B010 - counts Newton steps
    old = new = worst = 0.0
    with threadpool_limits(limits=1):
        for Z1, Y, s, C in problems:
            t = time.perf_counter()
            a, _ = probe_solver._lbfgs_multinomial(Z1, Y, s, C)
            old += time.perf_counter() - t
            t = time.perf_counter()
            b, _ = probe_solver._newton_multinomial(Z1, Y, s, C)
            new += time.perf_counter() - t
            pa, pb = (probe_solver._probabilities(Z1 @ th, False) for th in (a, b))
            worst = max(worst, float(np.abs(pa - pb).max()))
    setattr(probe_solver, "_multinomial_system", system)  # noqa: B010
    shapes = Counter((p[0].shape[0], p[0].shape[1] - 1, p[1].shape[1]) for p in problems)
    print(f"\n1. multinomial fits of one model: {len(problems)} (n, q, K): {dict(shapes)}")
    print(f"   L-BFGS {old:.2f} s, Newton {new:.2f} s: {old / new:.1f}x faster")
    print(
        f"   Newton steps per fit {steps[0] / max(len(problems), 1):.1f}; "
        f"max |P_lbfgs - P_newton| {worst:.1e}"
    )


def exact_pca(Z: np.ndarray, Z_test: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k PCA scores from eigh of the smaller Gram matrix (float64), signs as sklearn's svd_flip."""
    n, p = Z.shape
    mean = Z.mean(axis=0, dtype=np.float64)
    Zc = Z - mean  # (n, p)
    if n <= p:
        w, U = scipy.linalg.eigh(Zc @ Zc.T, subset_by_index=[n - k, n - 1], driver="evr")  # (n, k)
        V = (Zc.T @ U[:, ::-1]) / np.sqrt(np.maximum(w[::-1], 1e-300))  # (p, k)
    else:
        V = scipy.linalg.eigh(Zc.T @ Zc, subset_by_index=[p - k, p - 1], driver="evr")[1][:, ::-1]
    V *= np.sign(V[np.abs(V).argmax(axis=0), np.arange(k)])  # largest loading positive
    return Zc @ V, (Z_test - mean) @ V


def part_pca(shapes: Counter[tuple[int, int]], max_features: int = 64) -> None:
    rng = np.random.default_rng(0)

    def best(fn: Callable[[], Any], repeat: int = 3) -> float:
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return 1e3 * min(times)

    print(
        f"\n2. PCA to {max_features} components, ms per fit, one BLAS thread; 'probe' = what the probe fits "
        "(sklearn's auto choice: randomized, or full when n <= components), ratios to it; fits = per model"
    )
    head = ["n x p", "fits", "probe", "full", "eigh", "full/probe", "eigh/probe"]
    print("   " + " ".join(f"{h:>11}" for h in head))
    rows = [(shape, count) for shape, count in sorted(shapes.items(), key=lambda kv: -kv[1])[:6]]
    rows += [(shape, 0) for shape in PAPER_SHAPES]
    with threadpool_limits(limits=1):
        for (n, p), count in rows:
            k = min(max_features, n)
            mix = rng.standard_normal((p, p)) * np.exp(-np.arange(p) / 40)[:, None]  # decaying spectrum
            X = np.maximum(rng.standard_normal((n + n // 4, p)) @ mix, 0).astype(np.float32)
            Z, Z_test = probe_fit._standardise(X[:n], X[n:])
            rnd = best(lambda: PCA(k, random_state=0).fit(Z).transform(Z_test))  # noqa: B023
            full = best(lambda: PCA(k, svd_solver="full").fit(Z).transform(Z_test))  # noqa: B023
            eig = best(lambda: exact_pca(Z, Z_test, k))  # noqa: B023
            cells = [f"{n} x {p}", count or "-", f"{rnd:.1f}", f"{full:.1f}", f"{eig:.1f}"]
            cells += [f"{full / rnd:.2f}", f"{eig / rnd:.2f}"]
            print("   " + " ".join(f"{c:>11}" for c in cells))


def part_workers(run_dir: Path) -> None:
    from fairssl.experiments import probing

    config, ws, specs, preds, attributes = study(run_dir)
    job_cpu: list[float] = []
    real_job = probing._one_blas_thread_here

    def timed_job(call: Any) -> Any:  # every job the serial path runs goes through it, in this process
        c = time.process_time()
        frame = real_job(call)
        job_cpu.append(time.process_time() - c)
        return frame

    out: dict[int, dict[str, pd.DataFrame]] = {}
    seconds: dict[int, float] = {}
    cpu: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="fairssl_probe_speed_") as tmp:
        for workers in (1, 2):
            cfg = config.model_copy(
                update={"runtime": config.runtime.model_copy(update={"workers": workers})}
            )
            copy = type(ws)(Path(tmp) / f"w{workers}", runs_root=ws.runs)
            setattr(probing, "_one_blas_thread_here", timed_job if workers == 1 else real_job)  # noqa: B010
            t, c = time.perf_counter(), _cpu()
            out[workers] = probing.run_probes(
                cfg, copy, specs, preds, attributes, gaps=[], log=lambda _: None
            )
            seconds[workers], cpu[workers] = time.perf_counter() - t, _cpu() - c
    setattr(probing, "_one_blas_thread_here", real_job)  # noqa: B010
    for name in ("probes_demographic", "probes_task"):
        pd.testing.assert_frame_equal(out[1][name], out[2][name])
    print(
        f"\n3. run_probes over {len(specs)} models, wall: workers=1 {seconds[1]:.1f} s, "
        f"workers=2 {seconds[2]:.1f} s: {seconds[1] / seconds[2]:.2f}x; tables identical"
    )
    print(
        f"   CPU seconds (this process + its ended children): workers=1 {cpu[1]:.1f}, workers=2 {cpu[2]:.1f} "
        "(the pool's extra is its worker's start-up: imports); on a machine busy with other work the wall "
        "ratio falls towards the CPU ratio"
    )
    start_up = max(0.0, cpu[2] - cpu[1])  # the one spawned worker's extra CPU (imports)
    free = [0.0, start_up]  # this process starts at once, the worker after its imports
    for cost in job_cpu:  # whichever is free first takes the next job
        free[free.index(min(free))] += cost
    idle = max(free) + cpu[1] - sum(job_cpu)
    print(
        f"   on 2 idle cores (the {len(job_cpu)} jobs' measured CPU seconds scheduled, {start_up:.1f} s "
        f"start-up of the worker): workers=2 ~{idle:.1f} s, serial {cpu[1]:.1f} s, {cpu[1] / idle:.2f}x"
    )


def _cpu() -> float:
    """CPU seconds of this process and of its children that have ended (the pool's workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def part_figures(run_dir: Path) -> None:
    from matplotlib.figure import Figure

    from fairssl.report.html import build_report

    cost: dict[str, float] = defaultdict(float)
    real = Figure.savefig

    def timed(self: Figure, fname: Any, *args: Any, **kwargs: Any) -> None:
        t = time.perf_counter()
        real(self, fname, *args, **kwargs)
        cost[Path(str(fname)).suffix.lstrip(".")] += time.perf_counter() - t

    with tempfile.TemporaryDirectory(prefix="fairssl_figs_") as tmp:
        copy = Path(tmp) / "run"
        shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("runs", "figures", "report*"))
        Figure.savefig = timed  # type: ignore[method-assign]
        try:
            t = time.perf_counter()
            build_report(copy, formats=("png", "svg", "pdf"))
            total = time.perf_counter() - t
        finally:
            Figure.savefig = real  # type: ignore[method-assign]
        n = len(list((copy / "figures").glob("*.png")))
    print(f"\n4. report with {n} figures in PNG, SVG and PDF: {total:.1f} s, of which savefig per format:")
    print("   " + ", ".join(f"{fmt} {s:.2f} s" for fmt, s in cost.items()))
    saved = sum(cost.values())
    print(
        f"   default formats (png, pdf) {cost['png'] + cost['pdf']:.2f} s of {saved:.2f} s "
        f"({saved / (cost['png'] + cost['pdf']):.2f}x less savefig time)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run-dir", type=Path, help="a finished default study (fairssl run --out DIR)")
    parser.add_argument("--parts", default="solver,pca,workers,figures", help="comma-separated")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    shapes: Counter[tuple[int, int]] = Counter()
    if args.run_dir is None and parts - {"pca"}:
        raise SystemExit("--run-dir DIR (a finished study) is needed for solver, workers and figures")
    if args.run_dir is not None and parts & {"solver", "pca"}:
        problems, shapes = capture_model(args.run_dir)
        if "solver" in parts:
            part_solver(problems)
    if "pca" in parts:
        part_pca(shapes)
    if "workers" in parts:
        part_workers(args.run_dir)
    if "figures" in parts:
        part_figures(args.run_dir)


if __name__ == "__main__":
    main()
