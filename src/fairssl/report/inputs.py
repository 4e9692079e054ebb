"""Reading a run folder's stored tables for the report (never ``runs/``: no model, prediction or activation).

:func:`read_stored_results` reads ``results/`` (``comparison.csv``, the one table it needs, and
``summary.csv``, ``results.parquet`` or ``.csv``, ``changes.csv``, ``pool.csv``, the ``cka*.csv`` and
``probes*.csv`` tables) and
:func:`read_audit` reads ``dataset/`` (the audit's groups, sizes, references, overlap and warnings). A
missing or empty file reads as an empty frame (its section says what is missing); group-like columns are
read as text, since a CSV round trip turns setup ``0`` or group ``1`` into numbers (``results/`` through
:func:`fairssl.results_schema.read_result`, typed by the tables' declarations; a stored table that lacks a
required column is a DataError naming the file and ``fairssl analyse``). :func:`layer_names` and
:func:`variant_links` read what the page needs from ``config.toml`` and a grid study's ``variants/``.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fairssl.checksums import check_manifest
from fairssl.errors import DataError
from fairssl.report.analysis_record import read_analysis_record, reanalyse_hint, status_sentence
from fairssl.results_schema import read_result

TEXT_COLUMNS = (
    "variant",
    "setup",
    "attribute",
    "group",
    "reference_group",
    "best_group",
    "worst_group",
    "reason",
    "label",
)
"""Columns read as text wherever they appear."""


def read_csv_table(path: Path) -> pd.DataFrame:
    """A stored CSV, or an empty frame when it is absent or has no columns."""
    if not path.is_file() or path.stat().st_size <= 1:
        return pd.DataFrame()
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def text_columns(frame: pd.DataFrame, columns: Sequence[str] = TEXT_COLUMNS) -> pd.DataFrame:
    """``frame`` with those of ``columns`` it has as text (missing values as ``""``)."""
    if frame.empty:
        return frame
    out = frame.copy()
    for c in columns:
        if c in out.columns:
            out[c] = out[c].astype(object).where(out[c].notna(), "").astype(str)
    return out


@dataclass
class StoredResults:
    """The tables of a run folder's ``results/`` (empty frames for absent files)."""

    summary: pd.DataFrame
    """One row per run (``summary.csv``); empty when absent."""
    comparison: pd.DataFrame
    """One row per setup with the evaluation's intervals, tests and verdicts (``comparison.csv``)."""
    results: pd.DataFrame
    tests: pd.DataFrame
    """Every paired change against supervised and controls (``changes.csv``), long: setup x quantity."""
    cka: pd.DataFrame
    best_worst: pd.DataFrame
    ratio: pd.DataFrame
    conditioned: pd.DataFrame
    probes_demographic: pd.DataFrame = field(default_factory=pd.DataFrame)
    probes_task: pd.DataFrame = field(default_factory=pd.DataFrame)
    probes_relation: pd.DataFrame = field(default_factory=pd.DataFrame)
    label_amplification: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Clean-label vs recorded-label vs model disparity (``label_amplification.csv``; simulator only)."""
    accuracy_curve: pd.DataFrame = field(default_factory=pd.DataFrame)
    """The supervised models' group-blind accuracy-fairness curve (``accuracy_curve.csv``)."""
    pool: pd.DataFrame = field(default_factory=pd.DataFrame)
    """The pre-training pools' group shares (``pool.csv``; a grid's has a ``variant`` column)."""
    missing: list[str] = field(default_factory=list)
    """Names of the optional inputs (summary.csv, results.parquet, changes.csv, cka.csv) that are absent."""


def read_stored_results(root: Path) -> StoredResults:
    """Read ``<root>/results/``; raises DataError only when ``comparison.csv`` (the core table) is missing.

    Every other table is optional: an analysis that partly failed still gives a report whose sections
    say what is missing and why (:mod:`~fairssl.report.analysis_record`). Tables that differ from the
    analysis's ``manifest.json`` (truncated, damaged or edited afterwards) are a DataError: a report is
    never built from them.
    """
    res = root / "results"
    damaged = check_manifest(res) if res.is_dir() else None
    if damaged:
        raise DataError(
            f"{res} cannot be trusted: {damaged} (the analysis recorded every table it wrote); "
            f"recompute it with {reanalyse_hint(root)}"
        )
    summary = read_result(res, "summary")
    comparison = read_result(res, "comparison")
    if comparison.empty:
        raise DataError(_no_comparison(root, has_summary=not summary.empty))
    return StoredResults(
        summary=summary,
        comparison=comparison,
        results=read_result(res, "results"),
        tests=read_result(res, "changes"),
        cka=read_result(res, "cka"),
        best_worst=read_result(res, "cka_best_worst"),
        ratio=read_result(res, "cka_ratio"),
        conditioned=read_result(res, "cka_conditioned"),
        probes_demographic=read_result(res, "probes_demographic"),
        probes_task=read_result(res, "probes_task"),
        probes_relation=read_result(res, "probes_cka_relation"),
        pool=read_result(res, "pool"),
        accuracy_curve=read_result(res, "accuracy_curve"),
        label_amplification=read_result(res, "label_amplification"),
        missing=[
            name
            for name in ("summary.csv", "results.parquet", "changes.csv", "cka.csv")
            if not ((res / name).is_file() or (name == "results.parquet" and (res / "results.csv").is_file()))
        ],
    )


def _no_comparison(root: Path, *, has_summary: bool) -> str:
    """The one-line error for a run folder without ``results/comparison.csv``: the analysis stage that
    failed (from ``analysis.json``), a folder that predates the table, or no finished run at all."""
    record = read_analysis_record(root)
    broken = [s for s in record.incomplete() if s.stage in ("evaluation", "inference")]
    if broken:
        status = status_sentence(broken[0]).removeprefix("The ").rstrip(".")
        return (
            f"{root} has no results/comparison.csv: its analysis's {status}; fix the cause and re-analyse "
            f"with {reanalyse_hint(root)}"
        )
    if not has_summary and not record.present:
        return f"{root} has no results/summary.csv; run `fairssl run` first (or point at a run folder)"
    return (
        f"{root} has no results/comparison.csv (its analysis did not finish or predates this version of "
        f"fairssl); re-analyse it with {reanalyse_hint(root)}"
    )


@dataclass
class StoredAudit:
    """The dataset audit's tables of a run folder's ``dataset/`` (empty frames for absent files)."""

    groups: pd.DataFrame
    sizes: pd.DataFrame
    references: pd.DataFrame
    overlap: pd.DataFrame
    warnings: list[str]


def read_audit(root: Path) -> StoredAudit:
    """Read ``<root>/dataset/`` (groups, sizes, references, overlap and warnings CSVs)."""
    ds = root / "dataset"
    warn_frame = read_csv_table(ds / "warnings.csv")
    return StoredAudit(
        groups=text_columns(read_csv_table(ds / "groups.csv")),
        sizes=read_csv_table(ds / "sizes.csv"),
        references=text_columns(read_csv_table(ds / "references.csv"), ("attribute", "reference")),
        overlap=read_csv_table(ds / "overlap.csv"),
        warnings=[str(w) for w in warn_frame["warning"]] if "warning" in warn_frame else [],
    )


def layer_names(root: Path, cka: pd.DataFrame) -> list[str]:
    """The encoder's layer names in its order: from the CKA table, else those of the encoder that
    ``config.toml``'s ``[model]`` builds, else conv1-conv3."""
    if not cka.empty and "layer_b" in cka:
        return list(dict.fromkeys(str(v) for v in cka["layer_b"]))  # the encoder's order, as computed
    cfg = root / "config.toml"
    if cfg.is_file():
        try:
            from fairssl.config_training import ModelConfig
            from fairssl.ssl.encoders import encoder_layer_names

            model = ModelConfig.model_validate(tomllib.loads(cfg.read_text()).get("model", {}))
            return list(encoder_layer_names(model))
        except (tomllib.TOMLDecodeError, ValueError):  # ConfigError and pydantic's errors included
            pass
    return ["conv1", "conv2", "conv3"]


def variant_links(root: Path, names: Sequence[str]) -> list[tuple[str, str]]:
    """(variant name, relative link to its report or "") for each variant of a grid study."""
    reports: dict[str, str] = {}
    for info in sorted((root / "variants").glob("*/variant.json")):
        try:
            name = str(json.loads(info.read_text()).get("name", ""))
        except (json.JSONDecodeError, AttributeError):
            continue
        if (info.parent / "report.html").is_file():
            reports[name] = info.parent.relative_to(root).as_posix() + "/report.html"
    return [(name, reports.get(name, "")) for name in names]
