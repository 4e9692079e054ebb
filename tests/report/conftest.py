"""Report test fixtures: a hand-made run folder (fast, every table controlled) and one tiny real run."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fairssl.evaluation.compare import aggregate_seeds, compare_to_baseline
from fairssl.evaluation.fairness import PARITY_RATIOS

LAYERS = ("conv1", "conv2", "conv3")
GROUPS = {"sex": ("female", "male"), "race": ("black", "hispanic", "white")}
REFERENCE = {"sex": "male", "race": "white"}


def _results_rows(setup: str, seed: int, run_id: str, rng: np.random.Generator, bias: float) -> list[dict]:
    """Long results rows of one run: overall and per-group AUROC, the six parity ratios, parity deviation."""
    rows: list[dict[str, Any]] = []
    base = {"run_id": run_id, "setup": setup, "seed": seed, "label": "recorded"}

    def add(**kw: Any) -> None:
        est = kw.pop("estimate")
        half = kw.pop("half", 0.05)
        rows.append(
            {
                **base,
                "reference_group": "",
                "n_valid": 50,
                "reason": "",
                **kw,
                "estimate": est,
                "ci_low": est - half if np.isfinite(est) else np.nan,
                "ci_high": est + half if np.isfinite(est) else np.nan,
            }
        )

    add(
        kind="performance",
        attribute="overall",
        group="all",
        n_group=400,
        n_reference=80,
        metric="auroc",
        estimate=0.8 + rng.normal(0, 0.01),
    )
    deviations = []
    for attribute, groups in GROUPS.items():
        for g in groups:
            add(
                kind="performance",
                attribute=attribute,
                group=g,
                n_group=100,
                n_reference=20,
                metric="auroc",
                estimate=0.75 + 0.05 * groups.index(g) + rng.normal(0, 0.01),
            )
            if g == REFERENCE[attribute]:
                continue
            for metric in PARITY_RATIOS:
                ratio = 1.0 + bias * (1 + rng.uniform(-0.3, 0.3))
                deviations.append(abs(1 - ratio))
                add(
                    kind="fairness",
                    attribute=attribute,
                    group=g,
                    reference_group=REFERENCE[attribute],
                    n_group=100,
                    n_reference=200,
                    metric=metric,
                    estimate=ratio,
                )
        add(
            kind="fairness",
            attribute=attribute,
            group="worst",
            reference_group="best",
            n_group=100,
            n_reference=200,
            metric="disparate_impact",
            estimate=5.0,
        )  # never pooled: 'worst' rows
    add(
        kind="fairness",
        attribute="race",
        group="black",
        reference_group="white",
        n_group=3,
        n_reference=200,
        metric="statistical_parity_difference",
        estimate=np.nan,
        half=np.nan,
    )
    rows[-1]["reason"] = "group_too_small"
    add(
        kind="summary",
        attribute="all",
        group="all",
        reference_group="majority",
        n_group=400,
        n_reference=400,
        metric="parity_deviation",
        estimate=float(np.mean(deviations)),
    )
    return rows


def write_run(
    root: Path,
    *,
    setups: Sequence[str] = ("supervised", "0", "1-first", "2-first-last", "3"),
    seeds: Sequence[int] = (0, 1, 2),
    cka: bool = True,
    audit: bool = True,
    bootstrap: bool = True,
    rng_seed: int = 0,
) -> Path:
    """A run folder with hand-made results/, dataset/ and config.toml (no runs/), as ``analyse`` writes it."""
    rng = np.random.default_rng(rng_seed)
    res = root / "results"
    res.mkdir(parents=True, exist_ok=True)
    bias = {"supervised": 0.3, "0": 0.2, "1-first": 0.22, "1-middle": 0.25, "2-first-last": 0.18, "3": 0.35}
    long, summary = [], []
    for seed in seeds:
        for setup in setups:
            run_id = f"ft-{setup}-{seed}"
            rows = _results_rows(setup, seed, run_id, rng, bias.get(setup, 0.25))
            long += rows
            auroc = next(r for r in rows if r["metric"] == "auroc" and r["attribute"] == "overall")
            pdev = next(r for r in rows if r["metric"] == "parity_deviation")
            summary.append(
                {
                    "run_id": run_id,
                    "setup": setup,
                    "seed": seed,
                    "auroc": auroc["estimate"],
                    "auroc_low": auroc["ci_low"] if bootstrap else np.nan,
                    "auroc_high": auroc["ci_high"] if bootstrap else np.nan,
                    "parity_deviation": pdev["estimate"],
                    "pd_low": pdev["ci_low"] if bootstrap else np.nan,
                    "pd_high": pdev["ci_high"] if bootstrap else np.nan,
                }
            )
    results = pd.DataFrame(long)
    summary_df = pd.DataFrame(summary)
    if "supervised" in setups:
        sup = summary_df[summary_df["setup"] == "supervised"].set_index("seed")
        for i, r in summary_df.iterrows():
            if r["setup"] == "supervised":
                continue
            s = sup.loc[r["seed"]]
            rel = (s["parity_deviation"] - r["parity_deviation"]) / s["parity_deviation"]
            summary_df.loc[i, "improvement"] = rel
            for key, value in (
                ("auroc_difference", r["auroc"] - s["auroc"]),
                ("parity_deviation_difference", r["parity_deviation"] - s["parity_deviation"]),
                ("relative_improvement", rel),
            ):
                summary_df.loc[i, f"{key}_diff"] = value
                summary_df.loc[i, f"{key}_diff_low"] = value - 0.1 if bootstrap else np.nan
                summary_df.loc[i, f"{key}_diff_high"] = value + 0.1 if bootstrap else np.nan
    results.to_parquet(res / "results.parquet", index=False)
    summary_df.to_csv(res / "summary.csv", index=False)
    melted = summary_df.melt(
        id_vars=["setup", "seed"],
        value_vars=["auroc", "parity_deviation"],
        var_name="metric",
        value_name="value",
    )
    aggregate_seeds(melted).to_csv(res / "seeds.csv", index=False)
    if "supervised" in setups and len(setups) > 1:
        pd.concat(
            [compare_to_baseline(melted, metric=m) for m in ("auroc", "parity_deviation")], ignore_index=True
        ).to_csv(res / "tests.csv", index=False)
    else:
        pd.DataFrame().to_csv(res / "tests.csv", index=False)
    ssl = [s for s in setups if s != "supervised"]
    if cka and "supervised" in setups and ssl:
        mats, bws, ratios = [], [], []
        for seed in seeds:
            for setup in ssl:
                for i, a in enumerate(LAYERS):
                    for j, b in enumerate(LAYERS):
                        mats.append(
                            {
                                "layer_a": a,
                                "layer_b": b,
                                "cka": 0.9 - 0.2 * abs(i - j) - 0.1 * i,
                                "setup": setup,
                                "seed": seed,
                            }
                        )
                        for attribute, gap, d in (("sex", 0.05, 0.02), ("race", 0.15, 0.2)):
                            groups = GROUPS[attribute]
                            bws.append(
                                {
                                    "attribute": attribute,
                                    "best_group": groups[-1],
                                    "worst_group": groups[0],
                                    "perf_best": 0.8,
                                    "perf_worst": 0.8 - gap,
                                    "perf_gap": gap,
                                    "layer_a": a,
                                    "layer_b": b,
                                    "cka_best": 0.6,
                                    "cka_worst": 0.6 - d,
                                    "diff": d,
                                    "perm_diff_bound": 0.1,
                                    "exceeds": d > 0.1,
                                    "setup": setup,
                                    "seed": seed,
                                }
                            )
                for attribute, gap, d in (("race", 0.15, 0.2), ("sex", 0.05, 0.02)):
                    groups = GROUPS[attribute]
                    ratios.append(
                        {
                            "attribute": attribute,
                            "best_group": groups[-1],
                            "worst_group": groups[0],
                            "perf_gap": gap,
                            "dissimilarity": d,
                            "n_layer_pairs": 9,
                            "n_exceeding": 9 if d > 0.1 else 0,
                            "setup": setup,
                            "seed": seed,
                            "ratio": 10.0,
                            "spearman": np.nan,
                        }
                    )
        pd.DataFrame(mats).to_csv(res / "cka.csv", index=False)
        pd.DataFrame(bws).to_csv(res / "cka_best_worst.csv", index=False)
        pd.DataFrame(ratios).to_csv(res / "cka_ratio.csv", index=False)
        pd.DataFrame({"attribute": ["sex"], "group": ["male"], "cka_mean": [0.5]}).to_csv(
            res / "cka_conditioned.csv", index=False
        )
    if audit:
        ds = root / "dataset"
        ds.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(
            {
                "split": ["all", "train", "val", "test"],
                "windows": [1000, 600, 200, 200],
                "subjects": [100, 60, 20, 20],
                "labelled": [1000, 600, 200, 200],
                "positives": [200, 120, 40, 40],
                "prevalence": [0.2, 0.2, 0.2, 0.2],
                "missing_fraction": [0.0, 0.0, 0.0, 0.0],
            }
        ).to_csv(ds / "sizes.csv", index=False)
        rows = []
        for attribute, groups in GROUPS.items():
            for split in ("all", "test"):
                for g in groups:
                    prev = 0.2 if g == REFERENCE[attribute] else 0.3
                    rows.append(
                        {
                            "attribute": attribute,
                            "group": g,
                            "split": split,
                            "windows": 100,
                            "subjects": 10,
                            "share": 1 / len(groups),
                            "labelled": 100,
                            "positives": int(100 * prev),
                            "negatives": int(100 * (1 - prev)),
                            "prevalence": prev,
                            "mean_difference": prev - 0.2,
                            "disparate_impact": prev / 0.2,
                            "missing_fraction": 0.0,
                            "is_reference": g == REFERENCE[attribute],
                        }
                    )
        pd.DataFrame(rows).to_csv(ds / "groups.csv", index=False)
        pd.DataFrame({"attribute": list(REFERENCE), "reference": list(REFERENCE.values())}).to_csv(
            ds / "references.csv", index=False
        )
        pd.DataFrame({"split_a": ["train"], "split_b": ["test"], "shared_subjects": [0]}).to_csv(
            ds / "overlap.csv", index=False
        )
        pd.DataFrame(
            {"warning": ["attribute 'race' group 'black' has 9 positive test windows (< 30)"]}
        ).to_csv(ds / "warnings.csv", index=False)
    (root / "config.toml").write_text('name = "handmade"\nseeds = [0, 1, 2]\n\n[model]\nwidths = [8, 8, 8]\n')
    return root


@pytest.fixture
def make_run() -> Callable[..., Path]:
    """``make_run(root, **options)`` writes a hand-made run folder (see :func:`write_run`)."""
    return write_run


@pytest.fixture(scope="session")
def handmade_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A hand-made run folder with its report built once (all figure formats); do not modify it."""
    from fairssl.report.html import build_report

    root = write_run(tmp_path_factory.mktemp("handmade") / "run")
    build_report(root)
    return root


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny real study (2 seeds, 3 setups), run once per test session (~20 s on 2 CPU cores)."""
    import torch

    from fairssl.config import build_config
    from fairssl.experiments.runner import run_study

    torch.set_num_threads(1)
    cfg: dict[str, Any] = {
        "name": "tiny-report",
        "seeds": [0, 1],
        "data": {"simulate": {"n_subjects": 80, "windows_per_subject": 5, "pool_fraction": 0.3}},
        "model": {"widths": [8, 8, 8]},
        "pretrain": {"epochs": 2, "batch_size": 32},
        "finetune": {"epochs": 2, "batch_size": 32, "setups": ["supervised", "0", "2-first-last"]},
        "evaluation": {"n_boot": 20, "min_group_size": 5},
        "similarity": {"n_draws": 2, "n_permutations": 2},
    }
    out = tmp_path_factory.mktemp("tiny-report") / "run"
    return run_study(build_config(copy.deepcopy(cfg)), run_dir=out, log=lambda _m: None)


@pytest.fixture
def tiny_run_copy(tiny_run: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny run that a test may change."""
    dst = tmp_path / "run"
    shutil.copytree(tiny_run, dst)
    return dst
