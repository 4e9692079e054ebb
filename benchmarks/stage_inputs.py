"""Shared driver of the analysis-stage benchmarks (``inference_speed.py``, ``similarity_speed.py``): one
variant's stored inputs, a timer, and a table comparison. Run those scripts, not this module."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairssl.config import load_config
from fairssl.experiments.artifacts import load_predictions
from fairssl.experiments.executors import dataset_for
from fairssl.experiments.grid import expand, specs_by_variant, variants
from fairssl.experiments.workspace import Workspace


def variant_inputs(root: Path, variant: int) -> tuple[Any, ...]:
    """(config, runs, all specs, predictions, results, attributes) of one variant of ``root``."""
    config = load_config(root / "config.toml")
    groups = variants(config)
    v = groups[variant]
    specs = specs_by_variant(expand(config))[v.name]
    runs = [s for s in specs if s.kind == "finetune"]
    origin = Workspace(root / "variants" / v.slug if len(groups) > 1 else root, runs_root=root / "runs")
    ds = dataset_for(v.config)
    preds = {s.run_id: load_predictions(origin, s.run_id, ds) for s in runs}
    results = pd.read_parquet(origin.results / "results.parquet")
    attributes = list(v.config.evaluation.attributes or ds.attribute_names)
    print(f"variant {v.name}: {len(runs)} fine-tuned models, attributes {attributes}")
    return v.config, runs, specs, preds, results, attributes


def timed(run: Callable[[], None]) -> tuple[float, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - w0, time.process_time() - c0


def compare_tables(old: pd.DataFrame, new: pd.DataFrame) -> str:
    """Rows, text columns and the max abs difference of the numeric columns of two written tables."""
    if list(old.columns) != list(new.columns) or len(old) != len(new):
        return f"DIFFERENT shape/columns: {old.shape} {list(old.columns)} vs {new.shape} {list(new.columns)}"
    numeric = [c for c in old.columns if pd.api.types.is_numeric_dtype(old[c]) and old[c].dtype != bool]
    text = [c for c in old.columns if c not in numeric]
    same_text = all(old[c].astype(str).equals(new[c].astype(str)) for c in text)
    worst = 0.0
    for c in numeric:
        a, b = old[c].to_numpy(dtype=float), new[c].to_numpy(dtype=float)
        if not np.array_equal(np.isnan(a), np.isnan(b)) or not np.array_equal(np.isinf(a), np.isinf(b)):
            return f"DIFFERENT NaN/inf pattern in {c}"
        finite = np.isfinite(a)
        if finite.any():
            worst = max(worst, float(np.max(np.abs(a[finite] - b[finite]))))
    bits = all(
        old[c].to_numpy(dtype=float).tobytes() == new[c].to_numpy(dtype=float).tobytes() for c in numeric
    )
    return (
        f"{len(old)} rows, text/bool columns {'equal' if same_text else 'DIFFERENT'}, "
        f"max abs diff {worst:.3g}{' (bit-identical)' if bits else ''}"
    )


def old_vs_new(
    stage: str,
    run: Callable[[str], None],
    previous_path: Callable[[], AbstractContextManager[None]],
    repeat: int,
) -> None:
    """Run ``run("old")`` inside ``previous_path()`` and ``run("new")`` alternately ``repeat`` times;
    print each round and the best wall and CPU seconds of each path with their ratio."""
    best: dict[str, tuple[float, float]] = {}
    for r in range(repeat):
        for name in ("old", "new"):
            if name == "old":
                with previous_path():
                    wall, cpu = timed(lambda: run("old"))
            else:
                wall, cpu = timed(lambda: run("new"))
            print(f"round {r + 1}: {name} path {wall:.1f} s wall, {cpu:.1f} s CPU")
            prev = best.get(name, (np.inf, np.inf))
            best[name] = (min(prev[0], wall), min(prev[1], cpu))
    (ow, oc), (nw, nc) = best["old"], best["new"]
    print(f"{stage} stage, old path: {ow:.1f} s wall ({oc:.1f} s CPU)")
    print(f"{stage} stage, new path: {nw:.1f} s wall ({nc:.1f} s CPU)")
    print(f"ratio old/new: {ow / nw:.2f}x wall, {oc / nc:.2f}x CPU")
