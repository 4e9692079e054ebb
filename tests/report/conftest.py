"""Report test fixtures: a hand-made run folder (fast, every table controlled) and one tiny real run."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fairssl.evaluation.inference import StudyDraws, StudyInference, study_inference
from fairssl.evaluation.parity import PARITY_RATIOS
from fairssl.evaluation.resampling import ModelDraws
from fairssl.evaluation.verdicts import setup_table
from fairssl.experiments.stage_inference import run_summary

LAYERS = ("conv1", "conv2", "conv3")
GROUPS = {"sex": ("female", "male"), "race": ("black", "hispanic", "white")}
REFERENCE = {"sex": "male", "race": "white"}
BIAS = {"supervised": 0.3, "0": 0.2, "1-first": 0.22, "1-middle": 0.25, "2-first-last": 0.18, "3": 0.35}
"""Default deviation from parity of each setup's ratios: 2-first-last is the fairest, 3 the least fair."""


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
    deviations: dict[str, list[float]] = {a: [] for a in GROUPS}
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
                ratio = 1.0 + bias * (1 + rng.uniform(-0.1, 0.1))
                deviations[attribute].append(abs(1 - ratio))
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
        estimate=float(np.mean([np.mean(d) for d in deviations.values()])),  # attributes weigh equally
    )
    return rows


QUANTITIES = ("auroc", "parity_deviation", "parity_deviation:sex", "parity_deviation:race")
"""The study-level quantities of the hand-made runs (as :func:`resample_models` names them)."""


def _run_values(rows: list[dict]) -> list[float]:
    """A run's (auroc, parity_deviation, parity_deviation:sex, parity_deviation:race) from its long rows."""
    auroc = next(r["estimate"] for r in rows if r["metric"] == "auroc" and r["attribute"] == "overall")
    pdev = next(r["estimate"] for r in rows if r["metric"] == "parity_deviation")
    per = [_attribute_pd(rows, attribute) for attribute in GROUPS]
    return [float(auroc), float(pdev), *per]


def _attribute_pd(rows: list[dict], attribute: str) -> float:
    """Mean |1 - ratio| over the attribute's defined parity ratios (``worst`` rows left out)."""
    devs = [
        abs(1 - r["estimate"])
        for r in rows
        if r["metric"] in PARITY_RATIOS
        and r["attribute"] == attribute
        and r["group"] != "worst"
        and np.isfinite(r["estimate"])
    ]
    return float(np.mean(devs))


def hand_inference(
    setups: Sequence[str],
    seeds: Sequence[int],
    values: np.ndarray,
    *,
    quantities: Sequence[str] = QUANTITIES,
    n_boot: int = 100,
    rng: np.random.Generator | None = None,
    noise: float = 0.003,
) -> StudyInference:
    """:func:`study_inference` of K hand-made models (``setups[k]``, ``seeds[k]``) with plug-in ``values``
    (K, Q).

    The B = ``n_boot`` draws are the values plus a shift per resample and quantity shared by every model
    (they are scored on the same resampled subjects) and each model's own noise, both of sd ``noise``;
    ``n_boot`` = 0: draws of shape (0, K, Q), plug-in values without intervals.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    k, q = values.shape
    shared = rng.normal(0.0, noise, (n_boot, 1, q))
    own = rng.normal(0.0, noise, (n_boot, k, q))
    draws = np.clip(values[None] + shared + own, 0.0, None)  # (B, K, Q); PD and AUROC are >= 0
    model_draws = ModelDraws(quantities=tuple(quantities), values=values, draws=draws, n_subjects=20)
    return study_inference(StudyDraws(tuple(setups), tuple(seeds), model_draws))


def hand_comparison(
    spec: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    n_boot: int = 100,
    seed: int = 0,
    seeds: Mapping[str, Sequence[int]] | None = None,
) -> pd.DataFrame:
    """``comparison.csv`` (:func:`setup_table`) of {setup: ([AUROC per seed], [PD per seed])}; value i of
    every setup is seed i (paired) unless ``seeds`` gives a setup's seeds."""
    setups, run_seeds, values = [], [], []
    for setup, (auroc, pdev) in spec.items():
        own = list((seeds or {}).get(setup, range(len(auroc))))
        for i, a, p in zip(own, auroc, pdev, strict=True):
            setups.append(setup)
            run_seeds.append(i)
            values.append([a, p])
    inference = hand_inference(
        setups,
        run_seeds,
        np.array(values, dtype=np.float64),
        quantities=("auroc", "parity_deviation"),
        n_boot=n_boot,
        rng=np.random.default_rng(seed),
    )
    return setup_table(inference)


def write_inference(res: Path, runs: Sequence[Any], inference: StudyInference) -> None:
    """The study's tables as ``analyse`` writes them: ``summary.csv`` (:func:`run_summary`; ``runs`` are
    objects with ``run_id``, ``setup`` and ``seed``), ``setups.csv``, ``changes.csv``, ``comparison.csv``
    (:func:`setup_table`) and ``family.json``."""
    run_summary(list(runs), inference).to_csv(res / "summary.csv", index=False)
    inference.estimates.to_csv(res / "setups.csv", index=False)
    inference.changes.to_csv(res / "changes.csv", index=False)
    setup_table(inference).to_csv(res / "comparison.csv", index=False)
    (res / "family.json").write_text(json.dumps(inference.family, indent=2) + "\n")


def stack_variants(root: Path, parts: Sequence[tuple[str, Path]]) -> Path:
    """A grid study at ``root``: each part's (variant name, run folder) ``results/`` tables stacked with a
    leading ``variant`` column into ``root/results`` (as ``fairssl run`` does for a grid, with its
    ``_stack_tables``); ``dataset/`` and ``config.toml`` are the first part's."""
    from fairssl.experiments.study_analysis import stack_tables as _stack_tables

    root.mkdir(parents=True, exist_ok=True)
    first = parts[0][1]
    if (first / "dataset").is_dir() and not (root / "dataset").exists():
        shutil.copytree(first / "dataset", root / "dataset")
    if (first / "config.toml").is_file() and not (root / "config.toml").exists():
        shutil.copy(first / "config.toml", root / "config.toml")
    _stack_tables(root / "results", [(name, folder / "results") for name, folder in parts])
    return root


def write_run(
    root: Path,
    *,
    setups: Sequence[str] = ("supervised", "0", "1-first", "2-first-last", "3"),
    seeds: Sequence[int] = (0, 1, 2),
    cka: bool = True,
    audit: bool = True,
    bootstrap: bool = True,
    rng_seed: int = 0,
    bias: Mapping[str, float] | None = None,
) -> Path:
    """A run folder with hand-made results/, dataset/ and config.toml (no runs/), as ``analyse`` writes it.

    Each run's parity ratios deviate from 1 by about ``bias[setup]`` (default :data:`BIAS`; 0.25 for other
    setups); the study's inference (:func:`write_inference`) runs on the runs' values with 100 hand-made
    resamples (none with ``bootstrap=False``).
    """
    rng = np.random.default_rng(rng_seed)
    res = root / "results"
    res.mkdir(parents=True, exist_ok=True)
    biases = {**BIAS, **(bias or {})}
    long: list[dict] = []
    runs, values = [], []
    for seed in seeds:
        for setup in setups:
            run_id = f"ft-{setup}-{seed}"
            rows = _results_rows(setup, seed, run_id, rng, biases.get(setup, 0.25))
            long += rows
            runs.append(SimpleNamespace(run_id=run_id, setup=setup, seed=seed))
            values.append(_run_values(rows))
    pd.DataFrame(long).to_parquet(res / "results.parquet", index=False)
    inference = hand_inference(
        [r.setup for r in runs],
        [r.seed for r in runs],
        np.array(values),
        n_boot=100 if bootstrap else 0,
        rng=rng,
    )
    write_inference(res, runs, inference)
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


@pytest.fixture
def make_grid() -> Callable[..., Path]:
    """``make_grid(root, [(variant, run folder), ...])`` stacks run folders into a grid study (see
    :func:`stack_variants`)."""
    return stack_variants


@pytest.fixture
def make_comparison() -> Callable[..., pd.DataFrame]:
    """``make_comparison({setup: ([AUROC per seed], [PD per seed])})``: the evaluation's per-setup table of
    hand-made values (see :func:`hand_comparison`)."""
    return hand_comparison


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
        "data": {
            "simulate": {
                "n_subjects": 80,
                "windows_per_subject": 5,
                "pool_fraction": 0.3,
                "labelled_fraction": 1.0,
            }
        },
        "model": {"widths": [8, 8, 8]},
        "pretrain": {"epochs": 2, "batch_size": 32},
        "finetune": {"epochs": 2, "batch_size": 32, "setups": ["supervised", "0", "2-first-last"]},
        "evaluation": {"n_boot": 20, "min_group_size": 5, "min_subjects": 1, "min_positives": 1},
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


PAPER_SETUPS = ("supervised", "0", "1-first", "1-middle", "2-first-middle", "2-first-last", "3")
"""Every setup of the paper's grid: with two controls, the per-group table is wider than a 1,280 px page."""

THIN_ROWS = [
    {
        "stage": "evaluation",
        "setup": "",
        "attribute": "sex",
        "group": "",
        "quantity": "parity_deviation",
        "reason": "too_few_groups",
        "detail": "Attribute 'sex' has 1 test group of 30+ windows; lower evaluation.min_group_size.",
    },
    *[
        {
            "stage": "evaluation",
            "setup": setup,
            "attribute": "race",
            "group": "black",
            "quantity": "auroc",
            "reason": "too_few_positives",
            "detail": "Group 'black' has 2 positive test windows (evaluation.min_positives = 5).",
        }
        for setup in ("0", "3")
    ],
    {
        "stage": "similarity",
        "setup": "",
        "attribute": "",
        "group": "",
        "quantity": "cka_conditioned",
        "reason": "stage_failed",
        "detail": "The similarity stage failed; see results/analysis.json.",
    },
]
"""unavailable.csv of :func:`write_partial_analysis`: a thin attribute, a group without positives in two
setups (one reason, two rows) and a failed similarity stage."""

SIMILARITY_ERROR = "MemoryError: unable to allocate 3.2 GiB for the Gram matrices"


def write_partial_analysis(root: Path) -> Path:
    """Turn a hand-made run folder into one whose analysis partly failed: ``analysis.json`` with the
    similarity stage failed (:data:`SIMILARITY_ERROR`) and the probes skipped, ``unavailable.csv``
    (:data:`THIN_ROWS`), no CKA tables; setup ``3`` at chance (comparison AUROC 0.52 [0, 1], verdict
    ``at_chance``) and its race/black AUROC 0.3, 0.5, 0.7 over seeds 0-2 (mean 0.5, a wide interval)."""
    res = root / "results"
    for name in ("cka.csv", "cka_best_worst.csv", "cka_ratio.csv", "cka_conditioned.csv"):
        (res / name).unlink(missing_ok=True)
    stages = {
        "evaluation": {"status": "completed", "reason": "", "seconds": 2.5},
        "inference": {"status": "completed", "reason": "", "seconds": 1.5},
        "similarity": {"status": "failed", "reason": SIMILARITY_ERROR, "seconds": 9.0},
        "probes": {"status": "skipped", "reason": "disabled (probes.enabled = false)", "seconds": 0.0},
    }
    record = {"fairssl_version": "test", "settings": {}, "stages": stages, "finished_at": 1.0}
    (res / "analysis.json").write_text(json.dumps(record))
    pd.DataFrame(THIN_ROWS).to_csv(res / "unavailable.csv", index=False)
    comp = pd.read_csv(res / "comparison.csv", dtype={"setup": str})
    at = comp["setup"] == "3"
    comp.loc[at, ["auroc", "auroc_low", "auroc_high"]] = [0.52, 0.0, 1.0]
    comp.loc[at, "verdict"] = "at_chance"
    comp.loc[at, "verdict_reason"] = "auroc_interval_includes_0.5:3"
    comp.to_csv(res / "comparison.csv", index=False)
    results = pd.read_parquet(res / "results.parquet")
    for seed, value in ((0, 0.3), (1, 0.5), (2, 0.7)):
        row = (
            (results["setup"] == "3")
            & (results["seed"] == seed)
            & (results["metric"] == "auroc")
            & (results["group"] == "black")
        )
        results.loc[row, ["estimate", "ci_low", "ci_high"]] = [value, np.nan, np.nan]
    results.to_parquet(res / "results.parquet", index=False)
    return root


@pytest.fixture(scope="session")
def partial_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A hand-made run of the paper's setups (and two controls) whose similarity stage failed, with its
    report built once (PNG only); do not modify it."""
    from fairssl.report.html import build_report

    root = write_run(
        tmp_path_factory.mktemp("partial") / "run", setups=(*PAPER_SETUPS, "random:0", "random:3"), cka=False
    )
    build_report(write_partial_analysis(root), formats=("png",))
    return root
