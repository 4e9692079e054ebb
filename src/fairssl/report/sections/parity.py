"""The report's parity section: parity deviation per setup and its relative improvement over supervised.

Parity deviation (PD) is the mean |1 - ratio| over the six fairness ratios of every group against its
attribute's reference group (0 is parity; larger is less fair). Improvement = (PD_supervised - PD_setup) /
PD_supervised: above 0 the setup is fairer.
"""

from __future__ import annotations

import pandas as pd

from fairssl.report import figures
from fairssl.report.conventions import FOUR_FIFTHS, SUPERVISED, records
from fairssl.report.html_table import ci_cell, html_table, verdict_cell
from fairssl.report.page import ReportWriter, Section
from fairssl.report.sections.paired_tests import paired_tests_view


def parity_section(
    writer: ReportWriter, summary: pd.DataFrame, comp: pd.DataFrame, cells: pd.DataFrame, tests: pd.DataFrame
) -> Section:
    """From ``summary.csv``, :func:`~fairssl.report.comparison.setup_comparison`, ``parity_cells`` and
    ``tests.csv``."""
    sec = Section(
        "parity",
        "Parity deviation and its improvement over supervised",
        "Parity deviation is the mean of |1 - ratio| over the six fairness ratios (disparate impact, error "
        "rate, false discovery, false negative, false omission and false positive rate ratios) of every "
        "group against its attribute's reference group, pooled over the attributes: 0 is parity, larger is "
        "less fair; 0.2 marks the four-fifths band. Improvement = (PD_supervised - PD_setup) / "
        "PD_supervised: above 0 the setup is fairer.",
    )
    sec.figure(
        writer.figure(
            "parity_deviation_boxplots",
            "|1 - ratio| per setup",
            "Each box pools the attributes x groups x six ratios (each averaged over seeds); the green band "
            "is |1 - ratio| <= 0.2; diamonds mark the setup's parity deviation.",
            lambda: figures.parity_boxplots(cells, summary),
        )
    )
    sec.figure(
        writer.figure(
            "parity_deviation_by_setup",
            "Parity deviation by setup",
            "Grey points: one seed each with its bootstrap 95% CI; large points: mean over seeds (95% CI); "
            "dotted green line: 0.2.",
            lambda: figures.metric_by_setup(
                summary,
                "parity_deviation",
                ylabel="parity deviation",
                band=FOUR_FIFTHS,
                low="pd_low",
                high="pd_high",
            ),
        )
    )
    if (comp["setup"] != SUPERVISED).any() and (comp["setup"] == SUPERVISED).any():
        sec.figure(
            writer.figure(
                "pd_improvement",
                "Improvement over supervised",
                "Relative parity-deviation improvement over the supervised run; grey: one seed with its "
                "paired-bootstrap 95% CI (both models scored on the same resamples); large points: the seed "
                "means with the across-seed 95% CI. An interval crossing 0 is not distinguishable from "
                "supervised.",
                lambda: figures.improvement_by_setup(summary),
            )
        )
    else:
        sec.notes.append(
            "No improvement over supervised: it needs the 'supervised' setup and at least one SSL setup run "
            "with the same seeds (finetune.setups, seeds)."
        )
    if not comp.empty:
        view = pd.DataFrame(
            [
                {
                    "setup": r["setup"],
                    "seeds": r["n_seeds"],
                    "parity deviation [95% CI]": ci_cell(r["parity_deviation"], r["pd_low"], r["pd_high"]),
                    "PD change vs supervised [95% CI]": ci_cell(
                        r["pd_change"], r["pd_change_low"], r["pd_change_high"]
                    ),
                    "improvement [95% CI]": ci_cell(
                        r["improvement"],
                        r["improvement_low"],
                        r["improvement_high"],
                        digits=0,
                        scale=100,
                        suffix="%",
                    ),
                    "CI from": r["improvement_ci"],
                    "verdict": verdict_cell(r["verdict"]),
                }
                for r in records(comp)
            ]
        )
        sec.table(
            "Parity deviation and improvement across seeds",
            html_table(view),
            "Improvement = (mean PD_supervised - mean PD_setup) / mean PD_supervised over the paired seeds; "
            "its CI is the across-seed t CI of the paired PD differences divided by the supervised mean (one "
            "seed: the run's paired bootstrap CI).",
        )
    if not tests.empty and "metric" in tests and (tests["metric"] == "parity_deviation").any():
        sec.table(
            "Paired test across seeds against supervised (parity deviation)",
            html_table(paired_tests_view(tests, "parity_deviation")),
        )
    return sec
