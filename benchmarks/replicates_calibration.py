"""Benchmark: calibration of inference pooled over data replicates (:mod:`fairssl.evaluation.pooling`).

Reuses the data-generating process and exact truths of ``benchmarks/inference_calibration.py``: each
simulated study draws a new test set and new training noise, i.e. one data replicate. A pooled study is
R replicates, each analysed by :func:`~fairssl.evaluation.inference.study_inference` and then pooled by
:func:`~fairssl.evaluation.pooling.pool_replicates` (t on R - 1 df over the replicates' values).

Reported per design (R replicates x n seeds per replicate x null/effect), over --reps pooled studies:
coverage of the 95% intervals (correction none) of the supervised parity deviation and AUROC (exact
population truth) and of the PD and AUROC changes (truth: the two arms' exact difference), and the share
of pooled studies with a non-null verdict under the default policy (Holm, alpha 0.05): the type-I error
for null designs (nominal at most 5%), the power for effect designs.

    python benchmarks/replicates_calibration.py                 # 300 pooled studies per design
    python benchmarks/replicates_calibration.py --reps 100 --replicates 3 --seeds 1
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fairssl.evaluation.inference import InferenceSettings, study_inference
from fairssl.evaluation.pooling import pool_replicates

NON_NULL = {"fairer", "less_fair", "more_accurate", "less_accurate"}


def _calibration_module():  # type: ignore[no-untyped-def]
    path = Path(__file__).with_name("inference_calibration.py")
    spec = importlib.util.spec_from_file_location("inference_calibration", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def run(ic, replicates: int, n_seeds: int, effect: bool, reps: int, boot: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    design = ic.Design(n_seeds=n_seeds, tau=0.2, n_subjects=100, windows=10, effect=effect, n_boot=boot)
    truths = ic.design_truths(design)
    true_change = {q: truths["ssl"][q] - truths["supervised"][q] for q in ("parity_deviation", "auroc")}
    rec = []
    for k in range(reps):
        parts = [
            study_inference(ic.simulate_study(design, np.random.default_rng([77, k, r]), boot_seed=r))
            for r in range(replicates)
        ]
        tested = pool_replicates(parts, InferenceSettings())
        at95 = pool_replicates(parts, InferenceSettings(correction="none"))
        est = at95.estimates.set_index(["setup", "quantity"])
        ch = at95.changes[at95.changes["baseline"] == "supervised"].set_index("quantity")
        row: dict[str, float] = {"any_verdict": float(bool(set(tested.changes["verdict"]) & NON_NULL))}
        for q, short in (("parity_deviation", "pd"), ("auroc", "auroc")):
            sup = est.loc[("supervised", q)]
            row[f"cover_{short}"] = float(sup["ci_low"] <= truths["supervised"][q] <= sup["ci_high"])
            c = ch.loc[q]
            row[f"cover_{short}_change"] = float(c["ci_low"] <= true_change[q] <= c["ci_high"])
        rec.append(row)
    frame = pd.DataFrame(rec)
    out: dict[str, object] = {
        "design": f"R={replicates} seeds={n_seeds} {'effect' if effect else 'null'}",
    }
    for col in frame.columns:
        m = frame[col].mean()
        out[col] = f"{m:.3f} ± {np.sqrt(m * (1 - m) / len(frame)):.3f}"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=300, help="pooled studies per design (default 300)")
    parser.add_argument("--boot", type=int, default=50, help="resamples per replicate (default 50)")
    parser.add_argument("--replicates", type=int, nargs="+", default=[3, 5])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--effects", nargs="+", choices=["null", "effect"], default=["null", "effect"])
    args = parser.parse_args()
    ic = _calibration_module()
    t0 = time.perf_counter()
    rows = [
        run(ic, r, n, e == "effect", args.reps, args.boot)
        for e, r, n in itertools.product(args.effects, args.replicates, args.seeds)
    ]
    with pd.option_context("display.width", 250, "display.max_columns", 20):
        print(pd.DataFrame(rows).to_string(index=False))
    print(
        f"\n{time.perf_counter() - t0:.0f} s. cover_*: share of 95% intervals holding the truth "
        "± Monte-Carlo SE; any_verdict: share of pooled studies with a non-null verdict (Holm, alpha "
        "0.05): type-I error in null designs, power in effect designs."
    )


if __name__ == "__main__":
    main()
