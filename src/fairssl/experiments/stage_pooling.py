"""Stage 5 across data replicates: each grid point's replicates pooled into one comparison.

After every replicate was analysed in its own folder (``variants/<slug>/results/``), this stage reads
each replicate's ``setups.csv`` and ``changes.csv``, pools them per grid point
(:func:`~fairssl.evaluation.pooling.pool_replicates`) and writes the study's ``results/``:

- ``comparison.csv``, ``setups.csv``, ``changes.csv``: the POOLED tables (a ``variant`` column names the
  grid point, ``base`` without a grid), so the report's headline and verdicts rest on the replicates;
- ``replicate_comparison.csv``, ``replicate_setups.csv``, ``replicate_changes.csv``: each replicate's own
  tables stacked (``variant`` names the replicate), for reading one replicate;
- ``replicates.json``: the number of replicates, the setting each redraws, and each point's family.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from fairssl.atomic import write_json_atomic
from fairssl.config import StudyConfig
from fairssl.errors import DataError
from fairssl.evaluation.inference import StudyInference
from fairssl.evaluation.pooling import pool_replicates
from fairssl.evaluation.verdicts import setup_table
from fairssl.experiments.grid import Variant
from fairssl.experiments.stage_inference import inference_settings
from fairssl.loader_options import REPLICATE_STRIDE, replicate_key
from fairssl.results_schema import read_result, write_result

POOLED_TABLES = ("comparison", "setups", "changes")
"""Tables of ``results/`` that hold pooled values in a study with replicates."""
REPLICATES_NAME = "replicates.json"


def replicate_inference(results: Path) -> StudyInference:
    """One replicate's stored inference (``setups.csv``, ``changes.csv``, ``family.json``) from its
    results folder; a DataError when its inference did not complete."""
    setups = read_result(results, "setups")
    if setups.empty:
        raise DataError(f"{results} has no setups.csv: that replicate's inference did not complete")
    family_path = results / "family.json"
    family = json.loads(family_path.read_text()) if family_path.is_file() else {}
    return StudyInference(setups, read_result(results, "changes"), pd.DataFrame(), family)


def pool_study(
    config: StudyConfig, out: Path, analysed: Sequence[tuple[Variant, Path]]
) -> dict[str, pd.DataFrame]:
    """Pool each grid point's replicates and write the tables listed in the module docstring to ``out``
    (whose comparison/setups/changes tables, as stacked per replicate, are kept as ``replicate_*``).

    ``analysed``: (variant, its results folder) of every replicate analysed. Returns the pooled tables.
    """
    for name in POOLED_TABLES:
        stacked = out / f"{name}.csv"
        if stacked.is_file():
            stacked.replace(out / f"replicate_{name}.csv")
    by_point: dict[str, list[tuple[Variant, Path]]] = {}
    for variant, folder in analysed:
        by_point.setdefault(variant.point, []).append((variant, folder))
    pooled: dict[str, list[pd.DataFrame]] = {name: [] for name in POOLED_TABLES}
    families: dict[str, object] = {}
    for point, members in by_point.items():
        parts = []
        for _variant, folder in members:
            try:
                parts.append(replicate_inference(folder))
            except DataError:
                continue  # that replicate's analysis says why; pool the rest
        if len(parts) < 2:
            families[point] = {"replicates": len(parts), "reason": "fewer than 2 replicates analysed"}
            continue
        inference = pool_replicates(parts, inference_settings(members[0][0].config))
        families[point] = inference.family
        tables = {
            "comparison": setup_table(inference),
            "setups": inference.estimates,
            "changes": inference.changes,
        }
        for name, frame in tables.items():
            pooled[name].append(frame.assign(variant=point))
    key, base = replicate_key(config.data)
    write_json_atomic(
        out / REPLICATES_NAME,
        {"replicates": config.replicates, "redraws": key, "base": base, "stride": REPLICATE_STRIDE}
        | {"points": families},
    )
    written: dict[str, pd.DataFrame] = {}
    for name in reversed(POOLED_TABLES):  # comparison last: it marks a complete inference
        frames = [f for f in pooled[name] if not f.empty]
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        if "variant" in frame:
            frame = frame[["variant", *[c for c in frame.columns if c != "variant"]]]
        written[name] = write_result(out, name, frame)
    return written


__all__ = ["POOLED_TABLES", "REPLICATES_NAME", "pool_study", "replicate_inference"]
