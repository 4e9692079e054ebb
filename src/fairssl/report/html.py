"""The self-contained HTML report of a run folder: page assembly, built only from the stored tables.

``build_report(run_dir)`` reads ``results/``, ``dataset/`` and ``config.toml`` (never ``runs/``: it needs no
model, prediction or activation; :mod:`~fairssl.report.inputs`), computes the report's tables
(:mod:`~fairssl.report.tables`) and saves them as CSV and JSON under ``results/report_tables/``, lets each
section (:mod:`~fairssl.report.sections`) draw its figures (PNG and PDF under ``figures/``) and
renders ``templates/report.html`` into ``report.html`` with every image embedded as base64 PNG and no
external CSS, JS or font (it opens offline), and writes the headline and key tables as ``report.md``
(:mod:`~fairssl.report.markdown`). Sections (HTML ids): ``summary``, ``audit``, ``performance``,
``groups``, ``parity``, ``supervision``, ``similarity``, ``probes``, ``variants``, ``interventions``
(a grid that varies ``finetune.mitigation``, :mod:`~fairssl.report.sections.interventions`), ``metrics``,
``config``. A missing input leaves its section with a note saying what is missing and why: the analysis
record (``results/analysis.json``, :mod:`~fairssl.report.analysis_record`) says whether its stage failed,
was skipped or did not run. Right under the headline: the "What could not be computed" panel
(:mod:`~fairssl.report.unavailable_panel`) and the caveats (:mod:`~fairssl.report.caveats`), the same in
``report.md``. Wide tables scroll sideways inside their box (marked, with a hint, by the page's script).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from fairssl.report import tables
from fairssl.report.analysis_record import StoredAnalysis, read_analysis_record, stage_note, stale_note
from fairssl.report.caveats import auroc_triples, report_caveats
from fairssl.report.chance import auroc_cell, legend
from fairssl.report.conventions import numeric_column, study_alpha
from fairssl.report.environment import environment_table, software_versions
from fairssl.report.formatting import DASH
from fairssl.report.html_table import Cell, html_table, verdict_cell
from fairssl.report.inputs import layer_names, read_audit, read_stored_results, variant_links
from fairssl.report.markdown import markdown_report
from fairssl.report.page import FigureBlock, ReportWriter, Section
from fairssl.report.plotting import FORMATS, style
from fairssl.report.sections import (
    MAX_METRIC_ROWS,
    audit_section,
    groups_section,
    interventions_section,
    metrics_section,
    parity_section,
    performance_section,
    probes_section,
    similarity_section,
    supervision_section,
    variants_section,
)
from fairssl.report.unavailable_panel import build_panel, panel_html
from fairssl.report.variant_figures import variant_comparison_table

__all__ = [
    "GRID_SECTIONS",
    "MAX_METRIC_ROWS",
    "SECTIONS",
    "Cell",
    "FigureBlock",
    "Section",
    "build_report",
    "html_table",
    "software_versions",
]

SECTIONS = (
    ("summary", "Summary"),
    ("audit", "Dataset audit"),
    ("performance", "Performance"),
    ("groups", "AUROC per group"),
    ("parity", "Parity deviation"),
    ("supervision", "Level of supervision"),
    ("similarity", "Representations (CKA)"),
    ("probes", "Probes"),
    ("variants", "Across variants"),
    ("metrics", "All metrics"),
    ("config", "Configuration"),
)
"""(id, short title) of the report's sections, in the page order of a single study (a grid's page puts
``variants`` right after the audit and points to each variant's own report for the per-setup sections)."""

GRID_SECTIONS = (("interventions", "Interventions"),)
"""(id, short title) of the sections only a grid's page may have, after ``variants``: ``interventions``
when the grid varies ``finetune.mitigation`` (:mod:`~fairssl.report.sections.interventions`)."""


def _summary_section(
    comp: pd.DataFrame,
    label_bias: pd.DataFrame,
    ratios: pd.DataFrame,
) -> tuple[str, list[str], Markup, str]:
    """The summary's headline, its points (caveats apart), the per-setup table (AUROC marked near chance
    or degenerate, a verdict column) and the marks' legend."""
    headline = tables.headline(comp)
    points = tables.summary_points(comp, label_bias=label_bias, ratios=ratios, caveats=False)
    display = tables.summary_table(comp)
    marks = ""
    if not comp.empty:
        display = display.assign(verdict=pd.Series([verdict_cell(v) for v in comp["verdict"]], dtype=object))
        auroc_col = next((c for c in display.columns if str(c).startswith("AUROC [")), None)
        if auroc_col is not None and len(display) == len(comp):
            cells = [auroc_cell(r.auroc, r.auroc_low, r.auroc_high) for r in comp.itertuples()]
            display[auroc_col] = pd.Series(cells, index=display.index, dtype=object)
            marks = legend(cells)
    return headline, points, html_table(display, table_id="summary-table"), marks


def _evaluation_note(record: StoredAnalysis, root: Path, results: pd.DataFrame) -> str:
    """Why the per-run metrics are missing (the evaluation stage's status), "" when they are present."""
    if not results.empty:
        return ""
    return stage_note(record, "evaluation", root=root) or "No results/results.parquet in the run folder."


def _grid_placeholders(n_variants: int, *, replicates: bool = False) -> list[Section]:
    """The result sections of a grid study's page: each points to the variants' own reports."""
    out = []
    for sid, title in SECTIONS[2:-3]:
        sec = Section(sid, title)
        if replicates:
            note = (
                f"This study has {n_variants} data replicates (grid points x replicates): the "
                f"{title.lower()} section of each replicate is in its own report (links in the summary "
                "above); the summary's comparison pools the replicates."
            )
        else:
            note = (
                f"This study is a grid of {n_variants} variants: the {title.lower()} section of each "
                "variant is in its own report (links in the summary above)."
            )
        sec.notes.append(note)
        out.append(sec)
    return out


def build_report(run_dir: str | Path, *, formats: Sequence[str] = FORMATS, workers: int = 0) -> Path:
    """(Re)build ``report.html`` (see :func:`_build`) with the report's matplotlib style applied to its
    figures only (:func:`fairssl.report.plotting.style`): the caller's rcParams and backend are untouched.

    ``workers``: spawned processes that draw figures beside this one (the figures are about as costly as
    the rest of the report; ``fairssl run`` and ``fairssl report`` use the spare cores). A script calling
    this with ``workers`` > 0 needs the ``if __name__ == "__main__":`` guard; 0 (default): all here."""
    with style():
        return _build(run_dir, formats=formats, workers=workers)


def _build(run_dir: str | Path, *, formats: Sequence[str] = FORMATS, workers: int = 0) -> Path:
    """(Re)build ``report.html`` of a run folder from its stored results; returns its path.

    Reads only ``results/``, ``dataset/`` and ``config.toml``; writes ``figures/<name>.{png,pdf}``
    (``formats``), ``results/report_tables/<name>.{csv,json}``, ``report.html`` and ``report.md``.
    Raises DataError only when ``results/comparison.csv`` is missing (no finished analysis); every other
    missing table leaves its section saying why.
    """
    root = Path(run_dir)
    stored = read_stored_results(root)
    summary, results = stored.summary, stored.results

    w = ReportWriter(root, formats, defer=True)
    comp = tables.setup_comparison(stored.comparison)
    w.save_table("setup_comparison", comp)
    gtab = tables.group_auroc_table(results)
    w.save_table("auroc_by_group", gtab)
    gaps = tables.auroc_gap_table(results)
    w.save_table("auroc_gap", gaps)
    cells = tables.parity_cells(results)
    w.save_table("parity_cells", cells)
    levels = tables.supervision_table(comp, gaps, layer_names=layer_names(root, stored.cka))
    w.save_table("supervision_level", levels)
    cka_m = tables.cka_mean(stored.cka)
    bw = tables.best_worst_table(stored.best_worst)
    ratios = tables.dissimilarity_table(stored.ratio)
    if not stored.cka.empty:
        w.save_table("cka_mean", cka_m)
        w.save_table("cka_best_worst_mean", bw)
        w.save_table("dissimilarity", ratios)

    record = read_analysis_record(root)
    panel = build_panel(record, root=root)
    audit, label_bias, warnings = audit_section(w, read_audit(root))
    headline, points, summary_html, marks = _summary_section(comp, label_bias, ratios)
    links = variant_links(root, tables.variant_names(summary if not summary.empty else stored.comparison))
    shown = [(comp, "auroc", "auroc_low", "auroc_high")]  # the AUROC intervals this page shows
    if len(links) <= 1:
        shown += [(summary, "auroc", "auroc_low", "auroc_high"), (gtab, "estimate", "ci_low", "ci_high")]
    caveats = report_caveats(comp, warnings=warnings, record=record, auroc=auroc_triples(*shown))
    variants = variants_section(w, comp, stored.pool)
    eval_note = _evaluation_note(record, root, results)
    if len(links) > 1:  # a grid: each variant has its own full report; never pool them here
        pooled = (root / "results" / "replicates.json").is_file()
        placeholders = _grid_placeholders(len(links), replicates=pooled)
        interventions = interventions_section(w, comp)
        extra = [interventions] if interventions is not None else []
        sections = [audit, variants, *extra, *placeholders, metrics_section(w, results, eval_note)]
    else:
        sections = [
            audit,
            performance_section(w, summary, comp, stored.tests),
            groups_section(w, gtab, gaps, eval_note),
            parity_section(
                w, summary, comp, cells, stored.tests, stored.accuracy_curve, stored.label_amplification
            ),
            supervision_section(w, levels),
            similarity_section(
                w,
                stored.cka,
                bw,
                ratios,
                stored.conditioned,
                stage=stage_note(record, "similarity", root=root),
                stale=stale_note(record, "similarity"),
                alpha=study_alpha(comp),
            ),
            probes_section(
                w,
                stored.probes_demographic,
                stored.probes_task,
                stored.probes_relation,
                stage=stage_note(record, "probes", root=root),
                stale=stale_note(record, "probes"),
            ),
            variants,
            metrics_section(w, results, eval_note),
        ]
    w.render_figures(workers)
    config_text = (root / "config.toml").read_text() if (root / "config.toml").is_file() else ""
    env = Environment(loader=PackageLoader("fairssl.report", "templates"), autoescape=select_autoescape())
    seeds = (
        sorted({int(s) for s in pd.to_numeric(summary["seed"], errors="coerce").dropna()})
        if "seed" in summary
        else []
    )
    n_seeds = len(seeds) or int(np.nanmax(numeric_column(comp, "n_seeds"), initial=0))
    page = env.get_template("report.html").render(
        title=root.resolve().name,
        nav=[
            SECTIONS[0],
            *((sec.id, dict(SECTIONS + GRID_SECTIONS)[sec.id]) for sec in sections),
            SECTIONS[-1],
        ],
        headline=headline,
        points=points,
        summary_table=summary_html,
        summary_legend=marks,
        panel=panel_html(panel),
        caveats=caveats,
        meta={
            "setups": comp["setup"].nunique() if not comp.empty else 0,
            "seeds": ", ".join(str(s) for s in seeds) or (f"{n_seeds} (no summary.csv)" if n_seeds else DASH),
            "runs": len(summary) if not summary.empty else DASH,
            "built": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        },
        missing_inputs=stored.missing,
        variant_links=links if len(links) > 1 else [],
        sections=sections,
        config=config_text,
        versions=html_table(environment_table(root), sortable=False, wrap=True),
        saved_tables=w.saved_tables,
        formats=list(dict.fromkeys(["png", *formats])),
    )
    md = markdown_report(
        root.resolve().name,
        headline,
        comp,
        cka_mean=cka_m,
        ratios=ratios,
        demographic=stored.probes_demographic,
        variant_table=variant_comparison_table(comp) if len(links) > 1 else None,
        interventions=comp if len(links) > 1 else None,
        seeds=seeds,
        caveats=caveats,
        panel=panel,
    )
    _write_atomic(root / "report.md", md)
    out = root / "report.html"
    _write_atomic(out, page)
    return out


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
