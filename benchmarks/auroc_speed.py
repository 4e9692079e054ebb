"""Benchmark: scikit-learn's ``roc_auc_score`` against :func:`fairssl.evaluation.auroc.binary_auroc`
(issue 23), both measured in the same run on the same inputs, with the results checked bit-identical.

1. ``per call``: median ms per call at n = 500, 2,000 and 10,000 windows (random scores, and scores
   rounded to 2 decimals for heavy ties), and the ratio sklearn / lean.
2. ``match_auroc``: one accuracy-matching bisection (30 AUROC calls plus the degradation) with each AUROC
   function, the outputs checked identical: ms per match and ratio.

Timings on a shared machine are noisy: compare the ratios, not the milliseconds.

    python benchmarks/auroc_speed.py            # 200 calls per size
    python benchmarks/auroc_speed.py --quick    # 30 calls per size
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from unittest import mock

import numpy as np
from sklearn.metrics import roc_auc_score

from fairssl.evaluation import matching
from fairssl.evaluation.auroc import binary_auroc

SIZES = (500, 2_000, 10_000)


def median_ms(fn: Callable[[], object], calls: int) -> float:
    """Median wall time of ``calls`` calls of ``fn``, in ms (one warm-up call first)."""
    fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def sklearn_auroc(y: np.ndarray, s: np.ndarray) -> float:
    return float(roc_auc_score(y, s))


def inputs(n: int, ties: bool, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels (n,) int64 with ~30% positives and P(y=1)-like scores (n,) float64."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.int64)
    s = 1 / (1 + np.exp(-(rng.standard_normal(n) + 1.2 * y)))
    return y, (np.round(s, 2) if ties else s)


def per_call(calls: int) -> None:
    print(f"{'n':>7} {'scores':>7} {'sklearn ms':>11} {'lean ms':>9} {'ratio':>7}")
    for n in SIZES:
        for ties in (False, True):
            y, s = inputs(n, ties)
            assert binary_auroc(y, s) == sklearn_auroc(y, s)
            old = median_ms(lambda: sklearn_auroc(y, s), calls)  # noqa: B023 (called in this iteration)
            new = median_ms(lambda: binary_auroc(y, s), calls)  # noqa: B023
            label = "ties" if ties else "random"
            print(f"{n:>7} {label:>7} {old:>11.4f} {new:>9.4f} {old / new:>7.1f}")


def match(calls: int) -> None:
    print(f"\n{'n':>7} {'match_auroc sklearn ms':>23} {'lean ms':>9} {'ratio':>7}")
    for n in SIZES:
        y, s = inputs(n, False)
        target = binary_auroc(y, s) - 0.08
        with mock.patch.object(matching, "binary_auroc", sklearn_auroc):
            ref = matching.match_auroc(y, s, target)
            old = median_ms(lambda: matching.match_auroc(y, s, target), calls)  # noqa: B023
        out = matching.match_auroc(y, s, target)
        assert ref[1:] == out[1:] and np.array_equal(ref[0], out[0]), "match_auroc changed"
        new = median_ms(lambda: matching.match_auroc(y, s, target), calls)  # noqa: B023
        print(f"{n:>7} {old:>23.3f} {new:>9.3f} {old / new:>7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 calls per size instead of 200")
    args = parser.parse_args()
    calls = 30 if args.quick else 200
    per_call(calls)
    match(max(5, calls // 10))


if __name__ == "__main__":
    main()
