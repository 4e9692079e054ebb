"""The report's dataset-audit section (stage 1): split sizes, subject overlap, label bias and warnings.

Shows what the data already says before any model: how the protected groups are represented and whether
the ground-truth labels differ by group (mean difference and disparate impact against the reference
group; a disparate impact outside 0.8-1.25 fails the four-fifths rule).
"""

from __future__ import annotations

import html
from functools import partial

import numpy as np
import pandas as pd
from markupsafe import Markup

from fairssl.report import figures
from fairssl.report.audit_tables import label_bias_table, split_table
from fairssl.report.conventions import in_four_fifths_band
from fairssl.report.formatting import fmt_number
from fairssl.report.html_table import Cell, html_table
from fairssl.report.inputs import StoredAudit
from fairssl.report.page import ReportWriter, Section


def audit_section(writer: ReportWriter, audit: StoredAudit) -> tuple[Section, pd.DataFrame, list[str]]:
    """The audit section; also returns the label-bias table and the audit's warnings (for the summary)."""
    sec = Section(
        "audit",
        "Dataset audit (stage 1)",
        "Before any model: how many windows and subjects each split holds, how the protected groups are "
        "represented, and whether the ground-truth labels already differ by group (label bias: mean "
        "difference of P(y=1) against the reference group, ideal 0; disparate impact, their ratio, ideal 1, "
        "outside 0.8-1.25 fails the four-fifths rule).",
    )
    groups, sizes, refs, overlap = audit.groups, audit.sizes, audit.references, audit.overlap
    warnings = audit.warnings
    if groups.empty and sizes.empty:
        sec.notes.append(
            "No audit tables in dataset/ (the run folder predates the audit or they were deleted): run "
            "`fairssl run` again on this folder (finished runs are kept) or `fairssl audit`."
        )
        return sec, pd.DataFrame(), warnings
    split = split_table(sizes, groups)
    writer.save_table("audit_splits", split)
    if not split.empty:
        sec.table(
            "Split sizes",
            html_table(split, digits={"prevalence": 3, "missing_fraction": 3}),
            "Windows, subjects, labelled windows, positives, prevalence P(y=1) and the fraction of missing "
            "values per split.",
        )
    if not overlap.empty and "shared_subjects" in overlap:
        shared = int(overlap["shared_subjects"].sum())
        sec.text(
            "Splits are subject-disjoint (no subject in two splits)."
            if shared == 0
            else f"Warning: {shared} subject(s) are shared between splits: re-split by subject."
        )
    lb = label_bias_table(groups, references=refs if not refs.empty else None)
    writer.save_table("audit_label_bias", lb)
    if not lb.empty:
        sec.figure(
            writer.figure(
                "label_bias",
                "Label prevalence per group",
                "P(y=1) of the ground truth per group (all windows); the dashed line is the reference "
                "group's (grey bar); DI = disparate impact against it, in red outside 0.8-1.25.",
                partial(figures.label_bias, lb),
            )
        )
        view = lb.drop(columns=["is_reference"], errors="ignore").rename(
            columns={
                "mean_difference": "MD",
                "disparate_impact": "DI",
                "test_windows": "test n",
                "test_positives": "test pos",
                "test_negatives": "test neg",
            }
        )
        if "DI" in view:
            view["DI"] = pd.Series(
                [
                    Cell(
                        fmt_number(v),
                        float(v) if np.isfinite(v) else None,
                        "" if not np.isfinite(v) or in_four_fifths_band(v) else "bad",
                    )
                    for v in pd.to_numeric(view["DI"], errors="coerce")
                ],
                index=view.index,
                dtype=object,
            )
        sec.table(
            "Groups and label bias",
            html_table(view, digits={"share": 3, "test n": 0, "test pos": 0, "test neg": 0}),
            "Windows, share and subjects over all splits; prevalence P(y=1 | group); MD = mean difference "
            "of the prevalence against the reference group (ideal 0); DI = disparate impact, their ratio "
            "(ideal 1, in red outside 0.8-1.25); the test split's windows, positives and negatives (what "
            "the fairness metrics are computed on).",
        )
    if warnings:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in warnings)
        opened = " open" if len(warnings) <= 8 else ""
        sec.html(
            Markup(
                f'<details class="warnbox"{opened}><summary><b>Audit warnings ({len(warnings)})</b>: small '
                f"groups, missing values, shared subjects</summary><ul>{items}</ul></details>"
            )
        )
    else:
        sec.text("The audit raised no warning.")
    return sec, lb, warnings
