"""The report's per-group section: test AUROC of every protected group per setup, and the AUROC gap.

The gap is the AUROC of an attribute's best group minus that of its worst (0 is ideal), per run and then
averaged over seeds.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pandas as pd

from fairssl.report import figures
from fairssl.report.chance import auroc_cell, legend
from fairssl.report.conventions import by_setup, records, setup_order
from fairssl.report.formatting import DASH
from fairssl.report.html_table import Cell, ci_cell, html_table
from fairssl.report.page import ReportWriter, Section


def groups_section(
    writer: ReportWriter, gtab: pd.DataFrame, gaps: pd.DataFrame, missing: str = ""
) -> Section:
    """From :func:`~fairssl.report.tables.group_auroc_table` (``gtab``) and ``auroc_gap_table`` (``gaps``);
    ``missing``: why the per-run metrics are absent (the evaluation stage's status), if they are."""
    sec = Section(
        "groups",
        "AUROC per group",
        "Test AUROC of each protected group in each setup (mean over seeds; 95% CI across seeds on this one "
        "test set, i.e. training randomness only, or the run's subject-bootstrap CI with one seed). A group "
        "smaller than "
        "evaluation.min_group_size or without both classes has no value (see the reason codes in the "
        "all-metrics table).",
    )
    if gtab.empty:
        sec.notes.append(missing or "No per-group AUROC in results/results.parquet.")
        return sec
    sec.figure(
        writer.figure(
            "auroc_by_group",
            "AUROC per group and setup",
            "One panel per protected attribute (overall first); points are means over seeds with 95% CIs; n "
            "= test windows of the group; the dotted line is chance (0.5).",
            partial(figures.auroc_by_group, gtab),
        )
    )
    setups = setup_order(gtab["setup"].unique())
    wide_rows = []
    for (attribute, group), sub in gtab.groupby(["attribute", "group"], sort=False):
        rec: dict[str, Any] = {"attribute": attribute, "group": group, "n (test)": int(sub["n_group"].max())}
        rows_by_setup = by_setup(sub)
        for s in setups:
            r = rows_by_setup.get(s)
            rec[s] = auroc_cell(r["estimate"], r["ci_low"], r["ci_high"], digits=2) if r else Cell(DASH)
        wide_rows.append(rec)
    marks = legend(c for rec in wide_rows for c in rec.values())
    sec.table(
        "AUROC per group and setup",
        html_table(pd.DataFrame(wide_rows)),
        "Mean over seeds [95% CI]; n = test windows of the group." + (f" {marks}" if marks else ""),
    )
    if not gaps.empty:
        view = pd.DataFrame(
            [
                {
                    "setup": r["setup"],
                    "attribute": r["attribute"],
                    "seeds": r["n_seeds"],
                    "best group": r["best_group"],
                    "worst group": r["worst_group"],
                    "AUROC gap best - worst [95% CI]": ci_cell(r["gap"], r["gap_low"], r["gap_high"]),
                }
                for r in records(gaps)
            ]
        )
        sec.table(
            "AUROC gap between groups",
            html_table(view),
            "Per run, the AUROC of the best group of an attribute minus that of the worst (0 is ideal), then "
            "the mean over seeds [95% CI]; best and worst group name both when seeds disagree.",
        )
    return sec
