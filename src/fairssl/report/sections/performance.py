"""The report's performance section (stage 5): test AUROC per setup, across seeds and per run.

Shows each setup's AUROC (mean over seeds with its 95% interval), the paired AUROC change against the
supervised run of the same seed (in AUROC points), every run's own bootstrap intervals and the paired
test across seeds.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from fairssl.report import figures
from fairssl.report.chance import auroc_cell, legend
from fairssl.report.conventions import records, setup_rank
from fairssl.report.html_table import ci_cell, html_table
from fairssl.report.page import ReportWriter, Section
from fairssl.report.sections.paired_tests import paired_tests_view


def performance_section(
    writer: ReportWriter, summary: pd.DataFrame, comp: pd.DataFrame, tests: pd.DataFrame
) -> Section:
    """From ``summary.csv``, :func:`~fairssl.report.comparison.setup_comparison` and ``tests.csv``."""
    sec = Section(
        "performance",
        "Performance per setup (stage 5)",
        "Test AUROC of each setup: per seed with its test-sampling interval (subjects resampled), and over "
        "seeds with an interval that covers test sampling and, with several seeds, training randomness. "
        "AUROC change is against the supervised run of the same seed and the same resample of test "
        "subjects, in AUROC points (x100), at the corrected level of the family's test.",
    )
    sec.figure(
        writer.figure(
            "auroc_by_setup",
            "Test AUROC by setup",
            "Grey points: one seed each, with its test-sampling interval; large points: over seeds with its "
            "95% CI; dashed: the supervised mean.",
            partial(
                figures.metric_by_setup,
                summary,
                "auroc",
                ylabel="test AUROC",
                low="auroc_low",
                high="auroc_high",
                comparison=comp,
            ),
        )
    )
    if not comp.empty:
        view = pd.DataFrame(
            [
                {
                    "setup": r["setup"],
                    "seeds": r["n_seeds"],
                    "AUROC [95% CI]": auroc_cell(r["auroc"], r["auroc_low"], r["auroc_high"]),
                    "AUROC change vs supervised, points [corrected CI]": ci_cell(
                        r["auroc_change"], r["auroc_change_low"], r["auroc_change_high"], digits=1, scale=100
                    ),
                    "adjusted p": r["auroc_change_p"],
                    "verdict": "" if pd.isna(r["auroc_verdict"]) else str(r["auroc_verdict"]),
                }
                for r in records(comp)
            ]
        )
        sec.table(
            "Across seeds",
            html_table(view),
            "Mean over seeds (intervals centred on the bias-corrected mean); AUROC change = mean paired "
            "difference against the supervised run of the same seed, in AUROC points, with the interval of "
            "the family's corrected test." + _legend(view),
        )
    if summary.empty or "setup" not in summary:
        sec.notes.append(
            "No per-run table (results/summary.csv is missing): the setups' values above come from "
            "results/comparison.csv; re-analyse to write it."
        )
    else:
        per_run = _per_run_view(summary)
        sec.table(
            "Every run",
            html_table(per_run),
            "Each run's interval covers test-subject sampling only (one model: no training randomness)."
            + _legend(per_run),
        )
    if not tests.empty and "quantity" in tests:
        sec.table(
            "Paired AUROC changes (against supervised and controls)",
            html_table(paired_tests_view(tests, "auroc")),
        )
    return sec


def _legend(view: pd.DataFrame) -> str:
    """`` <legend>`` of the AUROC marks in ``view``'s cells ("" when none is marked)."""
    text = legend(v for col in view.columns for v in view[col])
    return f" {text}" if text else ""


def _per_run_view(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per run: AUROC and parity deviation with their test-sampling intervals, and the run's PD
    improvement over the supervised run of the same seed (point estimate)."""
    s = summary.copy()
    s["setup"] = s["setup"].astype(str)
    s = s.sort_values(
        ["setup", "seed"], key=lambda c: setup_rank(c) if c.name == "setup" else c, kind="stable"
    )
    rows = []
    for r in records(s):

        def g(name: str, r: dict[str, Any] = r) -> Any:
            return r.get(name, np.nan)

        rows.append(
            {
                "setup": r["setup"],
                "seed": r.get("seed", ""),
                "AUROC [test-sampling CI]": auroc_cell(g("auroc"), g("auroc_low"), g("auroc_high")),
                "parity deviation [test-sampling CI]": ci_cell(
                    g("parity_deviation"), g("pd_low"), g("pd_high")
                ),
                "PD improvement vs supervised (same seed)": ci_cell(
                    g("improvement"), np.nan, np.nan, digits=0, scale=100, suffix="%"
                ),
                "run": r.get("run_id", ""),
            }
        )
    return pd.DataFrame(rows)
