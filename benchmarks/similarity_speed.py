"""Benchmark: stage 4 (similarity: overall CKA, conditioned CKA, ratio null) of one variant of a finished
study, the previous path against the current one, in the same process (issue 23, target 2).

The previous path is kept here as private reference functions patched into the package for its run:

- ``_centred_products_reference``: each draw's (n, n, L) kernel block gathered by two successive
  ``take`` calls (the first copies an (n, N, L) intermediate); now one flat gather of the n^2 chunks;
- ``_kernels_reference``: the two models' kernels handed on as a pair of ``LayerKernels``, so conditioned
  CKA and the ratio null each concatenated them into a fresh array (8 N^2 L bytes per call, 48 MB here:
  its page faults cost about 0.25 s a call); now one ``PairKernels`` per comparison, shared, written
  into the previous comparison's array;
- ``_overall_cka_reference``: the overall (all windows) CKA matrix from the features, ``cka_matrix``
  (O(N p q) per layer pair); now from the comparison's kernels (O(N^2) per layer pair).

Both paths read the same stored runs (never written) and write their tables into private temporary
folders; the benchmark then reads every written table back and prints, per table, whether the rows and
text columns agree and the max abs difference of each numeric column (the draws are the same RNG
streams in the same order, so the only differences are float64 rounding of the overall CKA, about
1e-14). Timings: wall seconds (``time.perf_counter``) and CPU seconds of this process
(``time.process_time``); ``--repeat`` alternates old and new and keeps each one's best. On a machine
shared with other jobs run it at normal priority and read the ratio, not the absolute seconds.

    python benchmarks/similarity_speed.py RUN_DIR [--variant 0] [--repeat 1]

``RUN_DIR``: a finished study's folder (``config.toml``, ``runs/``, ``variants/<slug>/results/`` with a
grid, else ``results/``).
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import fairssl.experiments.stage_similarity as stage
import fairssl.similarity.kernel_draws as kernel_draws
from fairssl.experiments.workspace import Workspace
from fairssl.results_schema import read_result
from fairssl.similarity.cka import cka_matrix
from fairssl.similarity.kernel_draws import LayerKernels
from stage_inputs import compare_tables, old_vs_new, variant_inputs

TABLES = ("cka", "cka_conditioned", "cka_best_worst", "cka_ratio", "cka_ratio_null")


# ------------------------------------------------------------------------------------ the previous path
def _centred_products_reference(G: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The previous ``kernel_draws._centred_products``: the same arithmetic on the same (n, n, L) block,
    gathered by ``take`` along axis 0 (an (n, N, L) copy) and then axis 1."""
    n = idx.size
    sub = G.take(idx, axis=0).take(idx, axis=1)  # (n, n, L)
    row = sub.mean(axis=0)  # (n, L)
    grand = row.mean(axis=0)  # (L,)
    d = sub[np.arange(n), np.arange(n)] - 2.0 * row + grand  # (n, L)
    flat = sub.reshape(n * n, -1)  # (n^2, L)
    return flat.T @ flat - 2.0 * n * (row.T @ row) + n * n * np.outer(grand, grand), d


def _kernels_reference(
    cache: dict[str, LayerKernels],
    base_id: str,
    acts_sup: dict[str, np.ndarray],
    acts_ssl: dict[str, np.ndarray],
    buffer: list[np.ndarray],
) -> tuple[LayerKernels, LayerKernels] | None:
    """The previous ``stage_similarity._kernels``: the supervised kernels cached, the pair not built
    (each of conditioned CKA and the ratio null concatenates it again, into a fresh array); ``buffer``
    unused."""
    n_rows = len(next(iter(acts_sup.values())))
    if n_rows * n_rows * 8 * (len(acts_sup) + len(acts_ssl)) > stage.KERNEL_BYTES_LIMIT:
        return None
    if base_id not in cache:
        cache.clear()
        cache[base_id] = LayerKernels.of(acts_sup)
    return cache[base_id], LayerKernels.of(acts_ssl)


def _overall_cka_reference(
    acts_sup: dict[str, np.ndarray], acts_ssl: dict[str, np.ndarray], kernels: Any, *, debiased: bool
) -> pd.DataFrame:
    """The previous overall CKA: :func:`cka_matrix` from the features, whatever kernels exist."""
    return cka_matrix(acts_sup, acts_ssl, debiased=debiased)


@contextmanager
def _previous_path() -> Iterator[None]:
    """The package with the reference functions patched in, restored on exit."""
    saved = (kernel_draws._centred_products, stage._kernels, stage._overall_cka)
    kernel_draws._centred_products = _centred_products_reference
    stage._kernels = _kernels_reference  # type: ignore[assignment]
    stage._overall_cka = _overall_cka_reference
    try:
        yield
    finally:
        kernel_draws._centred_products, stage._kernels, stage._overall_cka = saved


# ------------------------------------------------------------------------------------ driver
def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run_dir", type=Path, help="a finished study's folder (read only)")
    parser.add_argument("--variant", type=int, default=0, help="index of the grid variant (default 0)")
    parser.add_argument("--repeat", type=int, default=1, help="alternate old/new this many times (best kept)")
    args = parser.parse_args()
    root = args.run_dir.resolve()
    config, runs, _specs, preds, results, attributes = variant_inputs(root, args.variant)
    with tempfile.TemporaryDirectory(prefix="similarity_speed_") as tmp:
        out = {name: Workspace(Path(tmp) / name, runs_root=root / "runs") for name in ("old", "new")}

        def run(name: str) -> None:
            stage.similarity_stage(
                config, out[name], runs, preds, results, attributes, gaps=[], log=lambda m: None
            )

        old_vs_new("similarity", run, _previous_path, args.repeat)
        for table in TABLES:
            old, new = read_result(out["old"].results, table), read_result(out["new"].results, table)
            print(f"  {table}: {compare_tables(old, new)}")


if __name__ == "__main__":
    main()
