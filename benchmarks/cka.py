"""Benchmark: feature-space debiased CKA matrix vs the example-space (Gram-matrix) formula.

Setting: n windows, two models with three conv layers each, flattened activations of MIMIC-like widths
(800, 640, 288 features: 32x25, 64x10, 96x3), the full 3 x 3 debiased CKA matrix.

- speed: :func:`cka_matrix` (feature space, O(n d^2)) vs :func:`cka_gram` called per layer pair, the way
  the reference code computes it (two n x n Gram matrices per pair, O(n^2 d) time and O(n^2) memory);
  both in the same run, values checked to agree.
- memory: tracemalloc peak of the feature-space path at n = N/4, N/2, N (linear growth expected), and of
  the Gram path at n = N/4 (quadratic).
- conditioned-CKA regime: 200 draws of n = 60 windows (a small group; p > n for every layer): cka_matrix,
  which switches to n x n kernels for wide layers, vs feature-space products for every pair
  (:func:`feature_space_only`, the formula cka_matrix used for all sizes before).
- conditioned CKA of one model pair on N = 1,500 windows (three attributes, balanced groups, 10 draws per
  group, 20 permutation draws): every draw gathered from N x N kernels computed once vs each draw's own
  features (``KERNEL_BYTES_LIMIT = 0``).

    python benchmarks/cka.py            # n = 10,000 (Gram baseline needs ~4 GB and a minute or two)
    python benchmarks/cka.py --quick    # n = 1,000 smoke run
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from typing import TypeVar

import numpy as np
import pandas as pd

from fairssl.similarity.cka import cka_gram, cka_matrix

T = TypeVar("T")

WIDTHS = {"conv1": 800, "conv2": 640, "conv3": 288}


def make_activations(n: int, seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Random float32 activations (n, width) for models a and b; b's layers partly depend on a's."""
    rng = np.random.default_rng(seed)
    acts_a = {k: np.maximum(rng.standard_normal((n, w), dtype=np.float32), 0) for k, w in WIDTHS.items()}
    acts_b = {}
    for k, w in WIDTHS.items():
        mix = rng.standard_normal((64, w), dtype=np.float32)
        shared = acts_a["conv1"][:, :64] @ mix  # (n, w): a low-rank shared part
        acts_b[k] = np.maximum(shared + rng.standard_normal((n, w), dtype=np.float32) * 4, 0)
    return acts_a, acts_b


def gram_matrix(acts_a: dict[str, np.ndarray], acts_b: dict[str, np.ndarray]) -> np.ndarray:
    """The baseline: cka_gram (n x n kernels) for every layer pair."""
    return np.array([[cka_gram(xa, xb, debiased=True) for xb in acts_b.values()] for xa in acts_a.values()])


def feature_space_only(acts_a: dict[str, np.ndarray], acts_b: dict[str, np.ndarray]) -> np.ndarray:
    """Debiased CKA matrix from p x q feature-space products for every pair (the baseline at small n)."""

    def stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z = x.astype(np.float64) - x.astype(np.float64).mean(axis=0)
        return z, np.einsum("ij,ij->i", z, z)

    def hsic(frob: float, de: float, sd: float, se: float, n: int) -> float:
        return (frob - de + sd * se / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * de) / (n * (n - 3))

    sa, sb = {k: stats(v) for k, v in acts_a.items()}, {k: stats(v) for k, v in acts_b.items()}
    n = next(iter(acts_a.values())).shape[0]

    def h(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
        c = a[0].T @ b[0]
        return hsic(float(np.sum(c * c)), float(a[1] @ b[1]), float(a[1].sum()), float(b[1].sum()), n)

    self_a, self_b = {k: h(v, v) for k, v in sa.items()}, {k: h(v, v) for k, v in sb.items()}
    return np.array([[h(sa[i], sb[j]) / np.sqrt(self_a[i] * self_b[j]) for j in sb] for i in sa])


def timed(fn: Callable[[], T]) -> tuple[float, float, T]:
    """(wall seconds, process CPU seconds, result); CPU time is less sensitive to other processes."""
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - start, time.process_time() - cpu, out


def peak_mb(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke size (n = 1,000)")
    parser.add_argument("--n", type=int, default=10_000, help="number of windows (default 10,000)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the feature-space timing")
    args = parser.parse_args()
    n = 1_000 if args.quick else args.n

    acts_a, acts_b = make_activations(n)
    input_mb = sum(a.nbytes for a in (*acts_a.values(), *acts_b.values())) / 2**20
    print(
        f"n = {n:,} windows, layers {WIDTHS} per model, debiased 3 x 3 CKA; inputs {input_mb:.0f} MB float32"
    )

    walls: list[float] = []
    cpus: list[float] = []
    feature = pd.DataFrame()
    for _ in range(args.repeats):
        wall, cpu, feature = timed(lambda: cka_matrix(acts_a, acts_b, debiased=True))
        walls.append(wall)
        cpus.append(cpu)
    t_feature, c_feature = float(np.median(walls)), float(np.median(cpus))
    print(
        f"feature space (cka_matrix):  wall {t_feature:8.2f} s  cpu {c_feature:8.2f} s  "
        f"(median of {args.repeats}; best wall {min(walls):.2f} s)"
    )
    t_gram, c_gram, gram = timed(lambda: gram_matrix(acts_a, acts_b))
    print(f"Gram formula (cka_gram x 9): wall {t_gram:8.2f} s  cpu {c_gram:8.2f} s  (one run)")
    max_abs = float(np.max(np.abs(feature.to_numpy() - gram)))
    print(
        f"speed-up: {t_gram / t_feature:.1f}x wall (median), {t_gram / min(walls):.1f}x wall (best), "
        f"{c_gram / c_feature:.1f}x cpu time; max |difference| = {max_abs:.1e}"
    )
    print(feature)

    print("\npeak memory (tracemalloc), feature-space path:")
    sizes = [n // 4, n // 2, n]
    peaks = []
    for m in sizes:
        sub_a = {k: v[:m] for k, v in acts_a.items()}
        sub_b = {k: v[:m] for k, v in acts_b.items()}
        peaks.append(peak_mb(partial(cka_matrix, sub_a, sub_b, debiased=True)))
        print(f"  n = {m:6,}: {peaks[-1]:8.1f} MB   ({peaks[-1] / m * 1000:.2f} MB per 1,000 windows)")
    print(f"  growth n/4 -> n: {peaks[-1] / peaks[0]:.2f}x for 4x the windows (linear = 4x)")
    m = sizes[0]
    gram_peak = peak_mb(lambda: cka_gram(acts_a["conv1"][:m], acts_b["conv1"][:m], debiased=True))
    print(
        f"  Gram path, one layer pair at n = {m:,}: {gram_peak:.1f} MB "
        f"(quadratic: ~{gram_peak * (n / m) ** 2 / 1024:.1f} GB at n = {n:,})"
    )

    rng = np.random.default_rng(1)
    draws = [np.sort(rng.choice(n, size=60, replace=False)) for _ in range(200)]
    subsets = [({k: v[i] for k, v in acts_a.items()}, {k: v[i] for k, v in acts_b.items()}) for i in draws]
    t_small, c_small, small = timed(lambda: [cka_matrix(a, b, debiased=True).to_numpy() for a, b in subsets])
    t_base, c_base, base = timed(lambda: [feature_space_only(a, b) for a, b in subsets])
    diff = max(float(np.max(np.abs(x - y))) for x, y in zip(small, base, strict=True))
    print(
        f"\nconditioned-CKA regime, 200 draws of n = 60: cka_matrix wall {t_small:.2f} s "
        f"cpu {c_small:.2f} s; "
        f"feature-space-only wall {t_base:.2f} s cpu {c_base:.2f} s; speed-up {t_base / t_small:.1f}x wall, "
        f"{c_base / c_small:.1f}x cpu; max |difference| = {diff:.1e}"
    )
    conditioned_regime(acts_a, acts_b)


def conditioned_regime(acts_a: dict[str, np.ndarray], acts_b: dict[str, np.ndarray]) -> None:
    """Time conditioned_cka with and without its N x N kernels on the first 1,500 windows."""
    import fairssl.similarity.conditioned as conditioned

    m = min(1_500, next(iter(acts_a.values())).shape[0])
    sub_a = {k: v[:m] for k, v in acts_a.items()}
    sub_b = {k: v[:m] for k, v in acts_b.items()}
    rng = np.random.default_rng(2)
    groups = pd.DataFrame(
        {
            "sex": rng.choice(["f", "m"], m),
            "age_group": rng.choice(["<65", ">=65"], m),
            "race": rng.choice(["a", "b", "c", "d", "e"], m),
        }
    )
    kwargs = {"n_draws": 10, "n_permutations": 20, "seed": 0}
    t_kernel, c_kernel, fast = timed(lambda: conditioned.conditioned_cka(sub_a, sub_b, groups, **kwargs))
    limit = conditioned.KERNEL_BYTES_LIMIT
    conditioned.KERNEL_BYTES_LIMIT = 0
    try:
        t_draw, c_draw, slow = timed(lambda: conditioned.conditioned_cka(sub_a, sub_b, groups, **kwargs))
    finally:
        conditioned.KERNEL_BYTES_LIMIT = limit
    diff = float(np.max(np.abs(fast["cka"].to_numpy() - slow["cka"].to_numpy())))
    print(
        f"\nconditioned CKA, N = {m:,}, {len(fast):,} values: kernels wall {t_kernel:.2f} s "
        f"cpu {c_kernel:.2f} s; per-draw features wall {t_draw:.2f} s cpu {c_draw:.2f} s; "
        f"speed-up {t_draw / t_kernel:.1f}x wall, {c_draw / c_kernel:.1f}x cpu; max |difference| = {diff:.1e}"
    )


if __name__ == "__main__":
    main()
