"""The report's all-metrics section: every performance and fairness metric, collapsed over seeds.

A filterable, sortable table of :func:`~fairssl.report.tables.metric_table` for the recorded labels (the
first :data:`MAX_METRIC_ROWS` rows in the page; all of them, and the clean labels' table, as CSV/JSON).
"""

from __future__ import annotations

import pandas as pd
from markupsafe import Markup

from fairssl.report.formatting import fmt_bounds
from fairssl.report.html_table import html_table
from fairssl.report.page import ReportWriter, Section
from fairssl.report.tables import metric_table

MAX_METRIC_ROWS = 5000
"""Rows of the all-metrics table shown in the page; the CSV holds them all."""


def metrics_section(writer: ReportWriter, results: pd.DataFrame, missing: str = "") -> Section:
    """From ``results.parquet``'s rows; saves ``metrics_by_setup`` (and ``..._clean_labels`` if any).
    ``missing``: why ``results.parquet`` is absent (the evaluation stage's status), if it is."""
    sec = Section(
        "metrics",
        "Every metric",
        "Every performance and fairness metric for the recorded labels, averaged over seeds (estimate = mean "
        "over seeds; 95% CI across seeds on this one test set, i.e. training randomness only, or the run's "
        "subject-bootstrap CI with one seed; the verdicts use the study-level intervals). n = test windows "
        "of the group (for fairness rows, n ref = of the reference group; for performance rows, n ref = "
        "positives). The reason column explains a missing value (e.g. zero_denominator, group_too_small). "
        "Type words into the box to filter (all must match); click a header to sort.",
    )
    if results.empty:
        sec.notes.append(missing or "No results/results.parquet: run `fairssl run` first.")
        return sec
    table = metric_table(results, label="recorded")
    writer.save_table("metrics_by_setup", table)
    if "label" in results and (results["label"] == "clean").any():
        writer.save_table("metrics_by_setup_clean_labels", metric_table(results, label="clean"))
        sec.text(
            "The same table for the simulator's clean (noise-free) labels is in "
            "results/report_tables/metrics_by_setup_clean_labels.csv."
        )
    if table.empty:
        sec.notes.append("No metric rows for the recorded labels.")
        return sec
    view = pd.DataFrame(
        {
            **({"variant": table["variant"]} if "variant" in table else {}),
            "setup": table["setup"],
            "kind": table.get("kind", ""),
            "attribute": table["attribute"],
            "group": table["group"],
            "ref": table.get("reference_group", ""),
            "metric": table["metric"],
            "n": table["n_group"],
            "n ref": table["n_reference"],
            "seeds": table["n_seeds"],
            "estimate": table["estimate"],
            "95% CI": [
                fmt_bounds(lo, hi, digits=4) for lo, hi in zip(table["ci_low"], table["ci_high"], strict=True)
            ],
            "CI from": table["ci"],
            "reason": table["reason"],
        }
    )
    shown = min(len(view), MAX_METRIC_ROWS)
    sec.html(
        Markup(
            '<p><input type="search" id="metric-filter" placeholder="filter, e.g. 2-first-last race auroc" '
            'aria-label="filter the metrics table"> <span id="metric-count" class="note">'
            f"{shown} of {len(view)} rows</span></p>"
        )
    )
    sec.html(html_table(view, table_id="metrics-table", max_rows=MAX_METRIC_ROWS, digits={"estimate": 4}))
    sec.text(
        f"{len(view)} rows (recorded labels, collapsed over seeds)"
        + (f"; the first {MAX_METRIC_ROWS} are shown" if len(view) > MAX_METRIC_ROWS else "")
        + ". All of them: results/report_tables/metrics_by_setup.csv (.json); every run and label set: "
        "results/results.parquet (.csv)."
    )
    return sec
