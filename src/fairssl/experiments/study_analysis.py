"""Stages 4-5 of a whole study, every variant, over the stored runs, and the report: after training,
and again (:func:`reanalyse`) whenever only an analysis setting changed, without retraining."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from fairssl.atomic import write_json_atomic
from fairssl.checksums import MANIFEST_NAME, write_manifest
from fairssl.config import StudyConfig, load_config, save_config
from fairssl.errors import ConfigError, DataError, RunError
from fairssl.experiments.analyse import analyse, write_audit
from fairssl.experiments.executors import dataset_for, pinned_torch, resolve_workers
from fairssl.experiments.grid import RunSpec, Variant, expand, specs_by_variant, unique_runs, variants
from fairssl.experiments.record import RECORD_NAME, AnalysisRecord
from fairssl.experiments.store import Store, lock_run_dir
from fairssl.experiments.workspace import ANALYSIS_SECTIONS, Workspace
from fairssl.results_schema import TABLES, UndeclaredColumnWarning, read_result, table_for_file, write_result
from fairssl.runtime import threads_per_run

Log = Callable[[str], None]


def analyse_study(
    config: StudyConfig, ws: Workspace, groups: list[Variant], specs: list[RunSpec], *, log: Log
) -> Path:
    """Stages 4-5 per variant, the stacked results tables, then the report; returns the report's path.

    With one variant the analysis writes to the run folder itself. With several, each variant is
    analysed in ``variants/<slug>/`` (its own results and report, sharing ``runs/``) and the run
    folder's ``results/`` holds their tables stacked (every table gets a ``variant`` column). The report
    is built last, from what was written, so ``report.html`` and a later ``fairssl report`` agree.

    Thin data never stops it (see :func:`~fairssl.experiments.analyse.analyse`). If a stage failed on
    an error, the report is still built from what was computed and then :class:`RunError` (an internal
    error, exit 1) or the user error that caused it is raised, naming the stage and the log.
    """
    from fairssl.report.html import build_report as build_html

    # the report's figures are shared with the spare worker processes (as many as the runs had, less this)
    build_report = partial(build_html, workers=resolve_workers(config.runtime)[0] - 1)
    by_variant = specs_by_variant(specs)
    records: list[AnalysisRecord] = []
    (ws.results / MANIFEST_NAME).unlink(missing_ok=True)  # the tables are about to change
    if len(groups) == 1:
        (v,) = groups
        _, record = analyse(dataset_for(v.config), v.config, ws, by_variant[v.name], log=log)
        records.append(record)
        stack_tables(ws.results, [(v.name, ws.results)])
    else:
        parts = []
        analysed: list[tuple[Variant, Path]] = []
        for v in groups:
            sub = Workspace(ws.root / "variants" / v.slug, runs_root=ws.runs)
            ds = dataset_for(v.config)
            write_audit(ds, v.config, sub.root / "dataset")
            write_json_atomic(sub.root / "variant.json", {"name": v.name, "settings": v.settings})
            log(f"variant {v.name}:")
            _, record = analyse(ds, v.config, sub, by_variant[v.name], log=log)
            records.append(record)
            _report(build_report, sub.root, log)
            parts.append((v.name, sub.results))
            analysed.append((v, sub.results))
        stack_tables(ws.results, parts)
        _merge_records(ws.results, records)
        if config.replicates > 1:
            from fairssl.experiments.stage_pooling import pool_study

            log(f"pooling {config.replicates} replicates")
            pool_study(config, ws.results, analysed)
    write_manifest(ws.results)  # every table as written: the report refuses tables changed since
    _report(build_report, ws.root, log)
    _raise_failures(records)
    return ws.root / "report.html"


def _report(build: Callable[[Path], Path], root: Path, log: Log) -> None:
    try:
        log(f"report: {build(root)}")
    except DataError as exc:  # no comparison table: the inference failed, said by _raise_failures
        log(f"report not built: {exc}")


def _merge_records(folder: Path, records: Sequence[AnalysisRecord]) -> None:
    """A grid's own ``analysis.json``: a stage is failed if it failed in any variant, skipped if skipped
    in all; ``unavailable.csv`` was stacked with the other tables."""
    merged = AnalysisRecord(folder, settings=records[0].settings, digest=records[0].digest)
    for stage in records[0].stages:
        infos = [r.stages[stage] for r in records if stage in r.stages]
        failed = [i for i in infos if i["status"] == "failed"]
        if failed:
            merged.stages[stage] = failed[0]
        elif all(i["status"] == "skipped" for i in infos):
            merged.stages[stage] = infos[0]
        else:
            merged.stages[stage] = {
                "status": "completed",
                "reason": "",
                "seconds": round(sum(float(i["seconds"]) for i in infos), 2),
            }
    write_json_atomic(folder / RECORD_NAME, merged.to_dict())


def _raise_failures(records: Sequence[AnalysisRecord]) -> None:
    for record in records:
        for stage, info in record.failed.items():
            where = f"; traceback in {record.log_path}"
            if info.get("internal", True):
                raise RunError(
                    f"analysis stage {stage} failed: {info['reason']}{where}; the report lists what was "
                    "computed (please report this as a bug)"
                )
            raise DataError(f"analysis stage {stage} failed: {info['reason']}")


def reanalyse(run_dir: str | Path, settings: Mapping[str, Any], *, log: Log = print) -> Path:
    """Recompute stages 4-5 and the report of a finished study in its own folder, with analysis
    settings changed (``{"evaluation.min_group_size": 10}``), without training anything.

    Only keys of the analysis sections (:data:`~fairssl.experiments.workspace.ANALYSIS_SECTIONS`) may
    change: a training setting is a :class:`ConfigError` (train with ``fairssl run`` instead). The folder's
    ``config.toml`` is updated to the settings used, so the folder always records what produced its
    results (``results/analysis.json`` repeats them). Returns the report's path.
    """
    root = Path(run_dir)
    if not (root / "config.toml").is_file():
        raise DataError(
            f"{root} is not a run folder (no config.toml); give a folder written by `fairssl run`"
        )
    training = sorted(k for k in settings if k.split(".", 1)[0] not in ANALYSIS_SECTIONS)
    if training:
        raise ConfigError(
            f"{training[0]} changes training, not the analysis; re-analysis only takes "
            f"{', '.join(f'{s}.*' for s in ANALYSIS_SECTIONS)} keys: use "
            f"`fairssl run --set {training[0]}=...` to train the models it needs"
        )
    config = load_config(root / "config.toml")
    if settings:
        config = config.with_settings(dict(settings), keep_grid=True)
    ws = Workspace(root)
    specs = expand(config)
    with lock_run_dir(root), pinned_torch(threads_per_run(config.runtime)):  # as after training
        missing = _unfinished(ws, specs)
        if missing:
            raise DataError(
                f"{len(missing)} of {len(unique_runs(specs))} runs of {root} are not finished; finish "
                f"them first with `fairssl run --config {root / 'config.toml'} --out {root}`"
            )
        save_config(config, root / "config.toml")
        return analyse_study(config, ws, variants(config), specs, log=log)


def _unfinished(ws: Workspace, specs: list[RunSpec]) -> list[str]:
    """Run ids the store does not mark done (all of them if there is no store)."""
    runs = {s.run_id for s in unique_runs(specs)}
    if not ws.store_path.is_file():
        return sorted(runs)
    with Store(ws.store_path, readonly=True) as store:
        done = {r.run_id for r in store.records() if r.status == "done"}
    return sorted(runs - done)


def stack_tables(out: Path, parts: Sequence[tuple[str, Path]]) -> None:
    """Each results table of ``parts`` (variant name, results folder) with a leading ``variant`` column,
    stacked into ``out`` (which may be one of the parts' folders).

    Every table is read and written through :mod:`fairssl.results_schema` (typed, validated); a file
    there that no declaration names is an :class:`~fairssl.results_schema.UndeclaredColumnWarning` and is
    left where it is (the study's check in the tests refuses it)."""
    files = {p.name for _, folder in parts for p in folder.iterdir() if p.suffix in (".csv", ".parquet")}
    undeclared = sorted(f for f in files if table_for_file(f) is None)
    if undeclared:
        warnings.warn(
            f"results files {undeclared} are not declared in fairssl.results_schema.TABLES; not stacked",
            UndeclaredColumnWarning,
            stacklevel=2,
        )
    names = [name for name, table in TABLES.items() if any(f in files for f in table.files)]
    stacked: dict[str, pd.DataFrame] = {}
    for name in names:
        frames = []
        for variant, folder in parts:
            frame = read_result(folder, name)
            if frame.empty:
                continue
            if "variant" in frame.columns:
                frame = frame.drop(columns="variant")
            frame.insert(0, "variant", variant)
            frames.append(frame)
        stacked[name] = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    for name, frame in stacked.items():
        write_result(out, name, frame)


__all__ = ["analyse_study", "reanalyse", "stack_tables"]
