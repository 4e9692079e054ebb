"""The report's "What could not be computed" panel, shared by ``report.html`` and ``report.md``.

Built from the analysis record (:mod:`~fairssl.report.analysis_record`): one sentence per analysis stage
that did not complete (a failed stage with its error and the report sections it leaves empty, a skipped
stage with why), and ``results/unavailable.csv`` grouped by stage and reason code: how many quantities,
which quantities, where (attribute / group, setups) and the producer's own explanation (``detail``: why,
and which setting to change). Both renderers draw the same :class:`Panel`, so they cannot drift.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from markupsafe import Markup

from fairssl.report.analysis_record import STAGES, StoredAnalysis, reanalyse_hint, status_sentence
from fairssl.report.html_table import html_table

TITLE = "What could not be computed"

STAGE_SECTIONS = {
    "evaluation": "Performance, AUROC per group, Parity deviation and All metrics",
    "inference": "the intervals and verdicts of every section",
    "similarity": "Representations (CKA)",
    "probes": "Probes",
}
"""The report sections each analysis stage feeds, in words."""

MAX_LISTED = 6
"""Names listed per cell before ``and N more``; the CSV holds every row."""

MAX_DETAILS = 3
"""Distinct explanations quoted per stage x reason group."""


@dataclass
class Panel:
    """The panel's content: a lead sentence, one sentence per stage worth mentioning, and the grouped
    table of ``unavailable.csv`` (columns stage, reason, count, quantities, where, setups, why)."""

    lead: str
    stage_lines: list[str] = field(default_factory=list)
    table: pd.DataFrame = field(default_factory=pd.DataFrame)


def _listed(values: list[str], *, limit: int = MAX_LISTED) -> str:
    """``a, b, c`` in order of first appearance, duplicates and blanks dropped; ``and N more`` past
    ``limit``."""
    names = [v for v in dict.fromkeys(values) if v]
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f" and {len(names) - limit} more"


def grouped_unavailable(unavailable: pd.DataFrame) -> pd.DataFrame:
    """``unavailable.csv`` grouped by stage (in :data:`STAGES` order) and reason code.

    One row per (stage, reason): ``count`` (rows), ``quantities``, ``where`` (``attribute`` or
    ``attribute/group``; ``every attribute`` for rows that name none), ``setups`` (``every setup`` when a
    row names none) and ``why``: up to :data:`MAX_DETAILS` distinct ``detail`` sentences.
    """
    cols = ["stage", "reason", "count", "quantities", "where", "setups", "why"]
    if unavailable is None or unavailable.empty:
        return pd.DataFrame(columns=cols)
    frame = unavailable.fillna("").astype(str)
    rank = {s: i for i, s in enumerate(STAGES)}
    keys = list(dict.fromkeys(zip(frame["stage"], frame["reason"], strict=True)))
    keys.sort(key=lambda k: rank.get(k[0], len(STAGES)))
    rows = []
    for stage, reason in keys:
        sub = frame[(frame["stage"] == stage) & (frame["reason"] == reason)]
        where = [
            f"{a}/{g}" if a and g else (a or (f"group {g}" if g else "every attribute"))
            for a, g in zip(sub["attribute"], sub["group"], strict=True)
        ]
        setups = [s or "every setup" for s in sub["setup"]]
        if "variant" in sub and sub["variant"].nunique() > 1:  # a grid: each variant's own rows
            setups = [f"{s} [{v}]" for s, v in zip(setups, sub["variant"], strict=True)]
        details = [d.strip().rstrip(".") for d in dict.fromkeys(sub["detail"]) if d.strip()]
        why = "; ".join(details[:MAX_DETAILS])
        if len(details) > MAX_DETAILS:
            why += f" (+{len(details) - MAX_DETAILS} more in results/unavailable.csv)"
        why += "." if why else ""
        rows.append(
            {
                "stage": stage or "(no stage)",
                "reason": reason or "(no reason code)",
                "count": len(sub),
                "quantities": _listed(list(sub["quantity"])),
                "where": _listed(where),
                "setups": _listed(setups),
                "why": why,
            }
        )
    return pd.DataFrame(rows, columns=cols)


def _stage_lines(record: StoredAnalysis, root: Path | str) -> list[str]:
    """A sentence per stage that failed, was skipped or is not recorded (with the sections it empties);
    one sentence when every stage completed."""
    if not record.present:
        return []
    lines = []
    for status in [record.stage(s) for s in STAGES] + [
        v for k, v in record.stages.items() if k not in STAGES
    ]:
        if status.status == "completed":
            continue
        sentence = status_sentence(status)
        sections = STAGE_SECTIONS.get(status.stage, f"the {status.stage} results")
        if status.status == "skipped":
            lines.append(f"{sentence} No {sections} results for that reason.")
        else:
            trace = f" (traceback in {record.log})" if record.log and status.status == "failed" else ""
            lines.append(
                f"{sentence} Missing from this report as a result: {sections}. Fix the cause{trace} and "
                f"re-analyse: {reanalyse_hint(root)}."
            )
    if not lines:
        names = ", ".join(s for s in STAGES if s in record.stages)
        lines.append(f"Every analysis stage completed ({names}).")
    return lines


def build_panel(record: StoredAnalysis, *, root: Path | str = "RUN_DIR") -> Panel:
    """The panel of a run folder's analysis record (see the module docstring)."""
    table = grouped_unavailable(record.unavailable)
    n = int(table["count"].sum()) if not table.empty else 0
    lines = _stage_lines(record, root)
    if record.unavailable_problem:
        lines.append(f"{record.unavailable_problem[0].upper()}{record.unavailable_problem[1:]}.")
    if not record.present:
        why = record.problem or "results/analysis.json is missing (the run folder predates it)"
        lead = (
            f"No analysis record: {why}, so which analysis stages completed, failed or were skipped is not "
            "known; values left undefined are in the reason column of the Every metric table."
        )
        if n:
            lead += f" results/unavailable.csv lists {n} value(s) that could not be computed:"
        return Panel(lead, lines, table)
    complete = all(record.stage(s).status == "completed" for s in STAGES) and not record.incomplete()
    if n:
        lead = (
            f"{n} value(s) could not be computed, in {table['stage'].nunique()} stage(s); the reasons "
            "and the settings to change are below (every row: results/unavailable.csv)."
        )
    elif complete:
        lead = "Everything the analysis attempted was computed (results/unavailable.csv lists nothing)."
    else:
        lead = "Nothing is listed in results/unavailable.csv, but not every analysis stage completed:"
    return Panel(lead, lines, table)


def panel_html(panel: Panel) -> Markup:
    """The panel as HTML (a box with the lead, the stage sentences and the grouped table)."""
    parts = [f'<div class="cannot" id="could-not-compute"><h3>{html.escape(TITLE)}</h3>']
    parts.append(f"<p>{html.escape(panel.lead)}</p>")
    if panel.stage_lines:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in panel.stage_lines)
        parts.append(f'<ul class="stages">{items}</ul>')
    if not panel.table.empty:
        parts.append(str(html_table(panel.table, table_id="unavailable-table", wrap=True)))
    parts.append("</div>")
    return Markup("".join(parts))
