"""Benchmark: a null check of the trained accuracy-matched reference ``checkpoint:<setup>``.

On the unbiased simulator (``examples/simulated_bias_none.toml``: balanced groups, no group physiology,
no base-rate shift, no measurement or label bias), shrunk, a model's parity deviation at a given accuracy
should not depend on how it was trained: the PD change of an SSL setup against the supervised model's own
validation-matched checkpoint should scatter around 0, not be systematically signed. Each study redraws
the data (``data.simulate.seed``) and trains every setup; per study and SSL setup the benchmark reads
``comparison.csv`` (``checkpoint_pd_change``, and ``matched_pd_change`` of the degraded reference for
comparison) and ``checkpoint_match.csv`` (how closely the validation AUROCs were matched, and the test
AUROC gap that remains).

Reported per SSL setup over the studies: the mean PD change against each reference, its standard error
and t statistic (|t| well under 2 reads "not systematically signed"), the number of positive changes, the
mean |validation AUROC gap| of the match and the mean test AUROC gap (SSL - checkpoint).

    python benchmarks/checkpoint_match.py                     # 8 studies, about 20 s each on 2 cores
    python benchmarks/checkpoint_match.py --studies 3 --subjects 400
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairssl.config import build_config
from fairssl.experiments.runner import run_study

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "simulated_bias_none.toml"


def shrunk_config(data_seed: int, *, subjects: int, seeds: int, epochs: int) -> dict[str, Any]:
    """The unbiased example at benchmark size: fewer subjects, seeds, epochs; no similarity or probes."""
    cfg = tomllib.loads(EXAMPLE.read_text())
    cfg["profile"] = "quick"
    cfg["name"] = f"checkpoint-null-{data_seed}"
    cfg["seeds"] = list(range(seeds))
    sim = cfg["data"]["simulate"]
    sim.update(n_subjects=subjects, windows_per_subject=6, labelled_fraction=0.5, seed=data_seed)
    cfg["pretrain"] = {"epochs": 3, "batch_size": 64, "seed": 2}
    cfg["model"] = {"widths": [8, 16, 16]}
    cfg["finetune"] = {
        "epochs": epochs,
        "batch_size": 64,
        "optimizer": "adam",
        "lr": 1e-3,
        "setups": ["supervised", "0", "2-first-last"],
    }
    cfg["evaluation"] = {"n_boot": 50}
    cfg["similarity"] = {"enabled": False}
    cfg["probes"] = {"enabled": False}
    cfg["runtime"] = {"workers": 1}
    return cfg


def one_study(data_seed: int, root: Path, **size: int) -> pd.DataFrame:
    out = run_study(
        build_config(shrunk_config(data_seed, **size)), run_dir=root / str(data_seed), log=lambda _m: None
    )
    comp = pd.read_csv(out / "results" / "comparison.csv")
    match = pd.read_csv(out / "results" / "checkpoint_match.csv")
    match["val_gap"] = (match["val_auroc_ssl"] - match["val_auroc_checkpoint"]).abs()
    gaps = match.groupby("setup")[["val_gap"]].mean()
    rows = comp[comp["kind"] == "ssl"][
        ["setup", "auroc", "checkpoint_auroc", "checkpoint_pd_change", "matched_pd_change"]
    ].copy()
    rows["setup"] = rows["setup"].astype(str)
    rows["test_gap"] = rows["auroc"] - rows["checkpoint_auroc"]
    rows["val_gap"] = rows["setup"].map(gaps["val_gap"].rename(index=str))
    rows["study"] = data_seed
    return rows


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    out = []
    for setup, rows in frame.groupby("setup"):
        row: dict[str, Any] = {"setup": setup, "studies": len(rows)}
        for ref in ("checkpoint", "matched"):
            d = rows[f"{ref}_pd_change"].to_numpy(dtype=float)
            d = d[np.isfinite(d)]
            se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else np.nan
            row[f"{ref}_mean"] = d.mean() if len(d) else np.nan
            row[f"{ref}_t"] = row[f"{ref}_mean"] / se if se and np.isfinite(se) else np.nan
            row[f"{ref}_positive"] = f"{int((d > 0).sum())}/{len(d)}"
        row["val_gap"] = rows["val_gap"].mean()
        row["test_gap"] = rows["test_gap"].mean()
        out.append(row)
    return pd.DataFrame(out)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--studies", type=int, default=8)
    parser.add_argument("--subjects", type=int, default=600)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=12)
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        frames = [
            one_study(k, Path(tmp), subjects=args.subjects, seeds=args.seeds, epochs=args.epochs)
            for k in range(args.studies)
        ]
    frame = pd.concat(frames, ignore_index=True)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(frame.round(4).to_string(index=False))
        print()
        print(summarise(frame).round(4).to_string(index=False))
    print(f"\n{args.studies} studies in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
