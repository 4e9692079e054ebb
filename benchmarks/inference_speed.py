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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

import fairssl.evaluation.amplification as amplification
import fairssl.evaluation.counts as counts
import fairssl.evaluation.fairness as fairness
import fairssl.evaluation.performance as performance
import fairssl.evaluation.replicator as replicator
import fairssl.evaluation.resampling as resampling
from fairssl.data.dataset import MISSING, normalise_attributes
from fairssl.errors import DataError
from fairssl.evaluation.counts import GroupCodes
from fairssl.experiments.stage_inference import infer_study
from fairssl.experiments.workspace import Workspace
from fairssl.results_schema import read_result
from stage_inputs import compare_tables, old_vs_new, variant_inputs

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
def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run_dir", type=Path, help="a finished study's folder (read only)")
    parser.add_argument("--variant", type=int, default=0, help="index of the grid variant (default 0)")
    parser.add_argument("--repeat", type=int, default=1, help="alternate old/new this many times (best kept)")
    args = parser.parse_args()
    root = args.run_dir.resolve()
    config, runs, specs, preds, results, attributes = variant_inputs(root, args.variant)
    with tempfile.TemporaryDirectory(prefix="inference_speed_") as tmp:
        out = {name: Workspace(Path(tmp) / name, runs_root=root / "runs") for name in ("old", "new")}

        def run(name: str) -> None:
            out[name].results.mkdir(parents=True, exist_ok=True)
            infer_study(config, out[name], runs, specs, preds, results, attributes)

        old_vs_new("inference", run, _previous_path, args.repeat)
        for table in TABLES:
            old, new = read_result(out["old"].results, table), read_result(out["new"].results, table)
            print(f"  {table}: {compare_tables(old, new)}")
        family = [json.loads((out[n].results / "family.json").read_text()) for n in ("old", "new")]
        print(f"  family.json: {'equal' if family[0] == family[1] else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
