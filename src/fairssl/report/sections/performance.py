"""The report's performance section (stage 5): test AUROC per setup, across seeds and per run.

Shows each setup's AUROC (mean over seeds with its 95% interval), the paired AUROC change against the
supervised run of the same seed (in AUROC points), every run's own bootstrap intervals and the paired
test across seeds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fairssl.report import figures
from fairssl.report.conventions import records, setup_rank, to_float
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
        "Test AUROC of each setup: per seed with the run's subject-level bootstrap 95% CI, and the mean over "
        "seeds with its Student-t 95% CI (with one seed, the bootstrap CI). AUROC change is against the "
        "supervised run of the same seed, in AUROC points (x100).",
    )
    sec.figure(
        writer.figure(
            "auroc_by_setup",
            "Test AUROC by setup",
            "Grey points: one seed each, with its bootstrap 95% CI; large points: mean over seeds with its "
            "95% CI; dashed: the supervised mean.",
            lambda: figures.metric_by_setup(
                summary, "auroc", ylabel="test AUROC", low="auroc_low", high="auroc_high"
            ),
        )
    )
    if not comp.empty:
        view = pd.DataFrame(
            [
                {
                    "setup": r["setup"],
                    "seeds": r["n_seeds"],
                    "AUROC [95% CI]": ci_cell(r["auroc"], r["auroc_low"], r["auroc_high"]),
                    "CI from": r["auroc_ci"],
                    "AUROC change vs supervised, points [95% CI]": ci_cell(
                        r["auroc_change"], r["auroc_change_low"], r["auroc_change_high"], digits=1, scale=100
                    ),
                }
                for r in records(comp)
            ]
        )
        sec.table(
            "Across seeds",
            html_table(view),
            "Mean over seeds with the Student-t 95% CI; AUROC change = mean paired difference against the "
            "supervised run of the same seed, in AUROC points.",
        )
    per_run = _per_run_view(summary)
    sec.table(
        "Every run",
        html_table(per_run),
        "Each run's subject-level bootstrap 95% CI; the changes are paired bootstraps against the supervised "
        "run of the same seed (both models scored on the same resamples).",
    )
    if not tests.empty and "metric" in tests:
        sec.table(
            "Paired test against supervised (AUROC)",
            html_table(paired_tests_view(tests, "auroc")),
            "Seeds are the pairs; Wilcoxon signed-rank test, Holm-adjusted over the setups. With fewer than "
            "6 seeds the smallest possible two-sided p is above 0.05.",
        )
    return sec


def _per_run_view(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per run: its bootstrap CIs and the paired bootstrap against supervised of the same seed."""
    s = summary.copy()
    s["setup"] = s["setup"].astype(str)
    s = s.sort_values(
        ["setup", "seed"], key=lambda c: setup_rank(c) if c.name == "setup" else c, kind="stable"
    )
    rows = []
    for r in records(s):

        def g(name: str, r: dict[str, Any] = r) -> Any:
            return r.get(name, np.nan)

        rel = g("relative_improvement_diff")
        rows.append(
            {
                "setup": r["setup"],
                "seed": r.get("seed", ""),
                "AUROC [bootstrap CI]": ci_cell(g("auroc"), g("auroc_low"), g("auroc_high")),
                "parity deviation [bootstrap CI]": ci_cell(g("parity_deviation"), g("pd_low"), g("pd_high")),
                "AUROC change, points [paired CI]": ci_cell(
                    g("auroc_difference_diff"),
                    g("auroc_difference_diff_low"),
                    g("auroc_difference_diff_high"),
                    digits=1,
                    scale=100,
                ),
                "PD change [paired CI]": ci_cell(
                    g("parity_deviation_difference_diff"),
                    g("parity_deviation_difference_diff_low"),
                    g("parity_deviation_difference_diff_high"),
                ),
                "PD improvement [paired CI]": ci_cell(
                    rel if np.isfinite(to_float(rel)) else g("improvement"),
                    g("relative_improvement_diff_low"),
                    g("relative_improvement_diff_high"),
                    digits=0,
                    scale=100,
                    suffix="%",
                ),
                "run": r.get("run_id", ""),
            }
        )
    return pd.DataFrame(rows)
