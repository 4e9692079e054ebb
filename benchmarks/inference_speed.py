"""Benchmark: stage 5 (inference: every model on shared resamples of test subjects, comparisons, curves)
of one variant of a finished study, the previous path against the current one, in the same process
(issue 23, target 2).

The previous path is kept here as private reference functions patched into the package for its run:

- ``_as_sensitive_frame_reference``: the attribute frame normalised (every value converted to text,
  stripped, re-categorised) on every call, also when it is already the normalised frame of an earlier
  call; now a normalised frame (:func:`fairssl.evaluation.counts.is_normalised`) is copied as it is;
- ``_encode_groups_reference``: each column's group codes by factorising its N values as text; now read
  from the normalised frame's categorical codes;
- ``_elements_per_resample_reference``: resample chunks sized as if every model's arrays were in memory
  at once (models x windows x (1 + attributes) elements per resample), which left one resample per chunk
  in a study of tens of models; now sized by one model's arrays (the models are evaluated one after
  another), so every metric runs on (b, ...) arrays of many resamples.

Each :class:`~fairssl.evaluation.replicator.ModelReplicator` (one per model and per resampling: 40 models
on the shared resamples, plus every degradation step and trajectory epoch of the accuracy curve)
normalised and encoded the same test set's attributes four times; the string work dominated the stage.

Both paths read the same stored runs (never written) and write their tables into private temporary
folders; the benchmark then reads every written table back and prints, per table, whether the rows and
text columns agree and the max abs difference of each numeric column (0 expected: the same integer codes
feed the same arithmetic). Timings: wall seconds (``time.perf_counter``) and CPU seconds of this process
(``time.process_time``); ``--repeat`` alternates old and new and keeps each one's best. On a machine
shared with other jobs run it at normal priority and read the ratio, not the absolute seconds.

    python benchmarks/inference_speed.py RUN_DIR [--variant 0] [--repeat 1]

``RUN_DIR``: a finished study's folder (``config.toml``, ``runs/``, ``variants/<slug>/results/`` with a
grid, else ``results/``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import fairssl.evaluation.amplification as amplification
import fairssl.evaluation.counts as counts
import fairssl.evaluation.fairness as fairness
import fairssl.evaluation.performance as performance
import fairssl.evaluation.replicator as replicator
import fairssl.evaluation.resampling as resampling
from fairssl.config import load_config
from fairssl.data.dataset import MISSING, normalise_attributes
from fairssl.errors import DataError
from fairssl.evaluation.counts import GroupCodes
from fairssl.experiments.artifacts import load_predictions
from fairssl.experiments.executors import dataset_for
from fairssl.experiments.grid import expand, specs_by_variant, variants
from fairssl.experiments.stage_inference import infer_study
from fairssl.experiments.workspace import Workspace
from fairssl.results_schema import read_result

TABLES = (
    "summary",
    "setups",
    "changes",
    "accuracy_curve",
    "checkpoint_match",
    "label_amplification",
    "pool",
    "comparison",
)


# ------------------------------------------------------------------------------------ the previous path
def _as_sensitive_frame_reference(sensitive_features: pd.DataFrame | pd.Series, n: int) -> pd.DataFrame:
    """The previous ``counts.as_sensitive_frame``: checks, then always :func:`normalise_attributes`."""
    if isinstance(sensitive_features, pd.Series):
        sensitive_features = sensitive_features.to_frame(name=str(sensitive_features.name or "attribute"))
    if not isinstance(sensitive_features, pd.DataFrame):
        raise DataError("sensitive_features must be a pandas DataFrame")
    if len(sensitive_features) != n:
        raise DataError(f"sensitive_features has {len(sensitive_features)} rows but there are {n}")
    if sensitive_features.shape[1] == 0:
        raise DataError("sensitive_features has no columns")
    if len(set(map(str, sensitive_features.columns))) != sensitive_features.shape[1]:
        raise DataError("sensitive_features has duplicate column names")
    return normalise_attributes(sensitive_features.reset_index(drop=True))


def _encode_groups_reference(
    sensitive_features: pd.DataFrame | pd.Series, *, include_missing: bool = False
) -> list[GroupCodes]:
    """The previous ``counts.encode_groups``: each column's N values factorised as text."""
    frame = _as_sensitive_frame_reference(sensitive_features, len(sensitive_features))
    out = []
    for col in frame.columns:
        values = np.asarray(frame[col].astype(str), dtype=object)
        codes, uniques = pd.factorize(values, sort=True)
        groups = [str(u) for u in uniques]
        codes = codes.astype(np.int64)
        if not include_missing and MISSING in groups:
            drop = groups.index(MISSING)
            codes = np.where(codes == drop, -1, np.where(codes > drop, codes - 1, codes))
            groups.pop(drop)
        sizes = np.bincount(codes[codes >= 0], minlength=len(groups)).astype(np.int64)
        out.append(GroupCodes(attribute=str(col), groups=tuple(groups), codes=codes, sizes=sizes))
    return out


_PATCHED = (counts, replicator, performance, fairness, amplification)
"""Modules that bound ``as_sensitive_frame`` / ``encode_groups`` at import."""


def _elements_per_resample_reference(n_models: int, n_windows: int, n_attributes: int) -> int:
    return n_models * n_windows * (1 + n_attributes)


@contextmanager
def _previous_path() -> Iterator[None]:
    """The package with the reference functions patched in, restored on exit."""
    saved_chunking = resampling.elements_per_resample
    resampling.elements_per_resample = _elements_per_resample_reference
    saved = [(m, m.__dict__.get("as_sensitive_frame"), m.__dict__.get("encode_groups")) for m in _PATCHED]
    for m in _PATCHED:
        if "as_sensitive_frame" in m.__dict__:
            m.as_sensitive_frame = _as_sensitive_frame_reference  # type: ignore[attr-defined]
        if "encode_groups" in m.__dict__:
            m.encode_groups = _encode_groups_reference  # type: ignore[attr-defined]
    try:
        yield
    finally:
        resampling.elements_per_resample = saved_chunking
        for m, frame_fn, encode_fn in saved:
            if frame_fn is not None:
                m.as_sensitive_frame = frame_fn  # type: ignore[attr-defined]
            if encode_fn is not None:
                m.encode_groups = encode_fn  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------ driver
def _inputs(root: Path, variant: int) -> tuple[Any, ...]:
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


def _time(run: Callable[[], None]) -> tuple[float, float]:
    w0, c0 = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - w0, time.process_time() - c0


def _compare(old: pd.DataFrame, new: pd.DataFrame) -> str:
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run_dir", type=Path, help="a finished study's folder (read only)")
    parser.add_argument("--variant", type=int, default=0, help="index of the grid variant (default 0)")
    parser.add_argument("--repeat", type=int, default=1, help="alternate old/new this many times (best kept)")
    args = parser.parse_args()
    root = args.run_dir.resolve()
    config, runs, specs, preds, results, attributes = _inputs(root, args.variant)
    best: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="inference_speed_") as tmp:
        out = {name: Workspace(Path(tmp) / name, runs_root=root / "runs") for name in ("old", "new")}

        def run(name: str) -> None:
            out[name].results.mkdir(parents=True, exist_ok=True)
            infer_study(config, out[name], runs, specs, preds, results, attributes)

        for r in range(args.repeat):
            for name in ("old", "new"):
                if name == "old":
                    with _previous_path():
                        wall, cpu = _time(lambda: run("old"))
                else:
                    wall, cpu = _time(lambda: run("new"))
                print(f"round {r + 1}: {name} path {wall:.1f} s wall, {cpu:.1f} s CPU")
                prev = best.get(name, (np.inf, np.inf))
                best[name] = (min(prev[0], wall), min(prev[1], cpu))
        (ow, oc), (nw, nc) = best["old"], best["new"]
        print(f"inference stage, old path: {ow:.1f} s wall ({oc:.1f} s CPU)")
        print(f"inference stage, new path: {nw:.1f} s wall ({nc:.1f} s CPU)")
        print(f"ratio old/new: {ow / nw:.2f}x wall, {oc / nc:.2f}x CPU")
        for table in TABLES:
            old, new = read_result(out["old"].results, table), read_result(out["new"].results, table)
            print(f"  {table}: {_compare(old, new)}")
        family = [json.loads((out[n].results / "family.json").read_text()) for n in ("old", "new")]
        print(f"  family.json: {'equal' if family[0] == family[1] else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
