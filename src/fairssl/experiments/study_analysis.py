"""Stages 4-5 of a whole study, every variant, over the stored runs: after training, and again whenever
only an analysis setting changed (no retraining)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from fairssl.config import StudyConfig
from fairssl.experiments.analyse import analyse, write_audit
from fairssl.experiments.executors import dataset_for
from fairssl.experiments.grid import RunSpec, Variant, specs_by_variant
from fairssl.experiments.workspace import Workspace, write_json

Log = Callable[[str], None]


def analyse_study(
    config: StudyConfig, ws: Workspace, groups: list[Variant], specs: list[RunSpec], *, log: Log
) -> None:
    """Stages 4-5 per variant; every results table gets a ``variant`` column.

    With one variant the analysis writes to the run folder itself. With several, each variant is
    analysed in ``variants/<slug>/`` (its own results and report, sharing ``runs/``) and the run
    folder's ``results/`` holds their tables stacked, with the report built over them.
    """
    by_variant = specs_by_variant(specs)
    if len(groups) == 1:
        (v,) = groups
        analyse(dataset_for(v.config), v.config, ws, by_variant[v.name], log=log)
        stack_tables(ws.results, [(v.name, ws.results)])
        return
    parts = []
    for v in groups:
        sub = Workspace(ws.root / "variants" / v.slug, runs_root=ws.runs)
        ds = dataset_for(v.config)
        write_audit(ds, v.config, sub.root / "dataset")
        write_json(sub.root / "variant.json", {"name": v.name, "settings": v.settings})
        log(f"variant {v.name}:")
        analyse(ds, v.config, sub, by_variant[v.name], log=log)
        parts.append((v.name, sub.results))
    stack_tables(ws.results, parts)
    from fairssl.report.html import build_report

    log(f"report: {build_report(ws.root)}")


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path) if path.stat().st_size > 1 else pd.DataFrame()


def stack_tables(out: Path, parts: Sequence[tuple[str, Path]]) -> None:
    """Each results table of ``parts`` (variant name, results folder) with a leading ``variant`` column,
    stacked into ``out`` (which may be one of the parts' folders)."""
    names = sorted(
        {p.name for _, folder in parts for p in folder.iterdir() if p.suffix in (".csv", ".parquet")}
    )
    stacked: dict[str, pd.DataFrame] = {}
    for name in names:
        frames = []
        for variant, folder in parts:
            path = folder / name
            if not path.is_file():
                continue
            frame = _read_table(path)
            if frame.empty:
                continue
            if "variant" in frame.columns:
                frame = frame.drop(columns="variant")
            frame.insert(0, "variant", variant)
            frames.append(frame)
        stacked[name] = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in stacked.items():
        if name.endswith(".parquet"):
            frame.to_parquet(out / name, index=False)
        else:
            frame.to_csv(out / name, index=False)


__all__ = ["analyse_study", "stack_tables"]
