"""The report's parity section: parity deviation per setup and its relative improvement over supervised.

Parity deviation (PD) is the mean |1 - ratio| over the six fairness ratios of every group against its
attribute's reference group (0 is parity; larger is less fair). Improvement = (PD_supervised - PD_setup) /
PD_supervised: above 0 the setup is fairer.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from fairssl.report import figures
from fairssl.report.conventions import FOUR_FIFTHS, SUPERVISED, records, setup_rank, to_float
from fairssl.report.formatting import DASH
from fairssl.report.html_table import Cell, ci_cell, html_table, verdict_cell
from fairssl.report.page import ReportWriter, Section
from fairssl.report.relative_interval import improvement_text, supervised_pd_low
from fairssl.report.sections.paired_tests import paired_tests_view
from fairssl.report.sentences import checkpoint_sentence


def parity_section(
    writer: ReportWriter,
    summary: pd.DataFrame,
    comp: pd.DataFrame,
    cells: pd.DataFrame,
    tests: pd.DataFrame,
    curve: pd.DataFrame | None = None,
    amplification: pd.DataFrame | None = None,
) -> Section:
    """From ``summary.csv``, ``comparison.csv`` (via :func:`~fairssl.report.comparison.setup_comparison`),
    ``parity_cells`` and ``changes.csv``."""
    sec = Section(
        "parity",
        "Parity deviation and its improvement over supervised",
        "Parity deviation is the mean deviation of the six fairness ratios (disparate impact, error "
        "rate, false discovery, false negative, false omission and false positive rate ratios) from 1, per "
        "attribute (each group against its reference, or the privileged group against the rest with "
        "evaluation.parity = 'paper'), then averaged over attributes with equal weight: 0 is parity, larger "
        "is less fair; 0.2 marks the four-fifths band. A ratio resting on zero events is undefined and left "
        "out. Improvement = (PD_supervised - PD_setup) / PD_supervised: above 0 the setup is fairer. Values "
        "are means over seeds; their intervals (centred on the bootstrap bias-corrected mean) cover "
        "test-subject sampling and, with several seeds, training randomness.",
    )
    sec.figure(
        writer.figure(
            "parity_deviation_boxplots",
            "|1 - ratio| per setup",
            "Each box pools the attributes x groups x six ratios (each averaged over seeds); the green band "
            "is |1 - ratio| <= 0.2; diamonds mark the setup's parity deviation.",
            partial(figures.parity_boxplots, cells, summary),
        )
    )
    sec.figure(
        writer.figure(
            "parity_deviation_by_setup",
            "Parity deviation by setup",
            "Grey points: one seed each with its test-sampling interval; large points: the mean over seeds "
            "with its interval over seeds and test subjects; dotted green line: 0.2.",
            partial(
                figures.metric_by_setup,
                summary,
                "parity_deviation",
                ylabel="parity deviation",
                band=FOUR_FIFTHS,
                low="pd_low",
                high="pd_high",
                comparison=comp,
            ),
        )
    )
    sec.figure(
        writer.figure(
            "fairness_accuracy",
            "Fairness at equal accuracy",
            "Each setup's test AUROC and parity deviation with their intervals; dashed: the supervised model "
            "as its scores are degraded towards noise without regard to groups (mean over seeds). A less "
            "accurate model has a lower parity deviation even without bias: a setup is fairer at equal "
            "accuracy only if it lies below the dashed curve (tested against the matched point: "
            "'matched' columns of comparison.csv). Solid, where the supervised runs stored their training "
            "trajectory: each epoch's test AUROC and parity deviation (mean over seeds), the trained "
            "references ('checkpoint' columns: the epoch chosen on validation AUROC).",
            partial(figures.fairness_accuracy, comp, curve),
        )
    )
    for r in records(comp) if not comp.empty else []:
        sentence = checkpoint_sentence(r)
        if sentence:
            sec.text(sentence)
    if (comp["setup"] != SUPERVISED).any() and (comp["setup"] == SUPERVISED).any():
        sec.figure(
            writer.figure(
                "pd_improvement",
                "Improvement over supervised",
                "Relative parity-deviation improvement over supervised; grey: each seed's point estimate; "
                "large points: the study's improvement with its interval at the corrected level of its test "
                "(seeds and test subjects, paired). An interval crossing 0 is not distinguishable from "
                "supervised.",
                partial(figures.improvement_by_setup, summary, comp),
            )
        )
    else:
        sec.notes.append(
            "No improvement over supervised: it needs the 'supervised' setup and at least one SSL setup run "
            "with the same seeds (finetune.setups, seeds)."
        )
    if not comp.empty:
        base_low = supervised_pd_low(comp)
        view = pd.DataFrame(
            [
                {
                    "setup": r["setup"],
                    "seeds": r["n_seeds"],
                    "parity deviation [CI]": ci_cell(r["parity_deviation"], r["pd_low"], r["pd_high"]),
                    "PD change vs supervised [corrected CI]": ci_cell(
                        r["pd_change"], r["pd_change_low"], r["pd_change_high"]
                    ),
                    "improvement [corrected CI]": Cell(
                        improvement_text(r, baseline_low=base_low, missing=DASH),
                        to_float(r["improvement"]) if np.isfinite(to_float(r["improvement"])) else None,
                    ),
                    "CI level": "" if pd.isna(r["pd_change_level"]) else f"{100 * r['pd_change_level']:.2f}%",
                    "adjusted p": r["pd_change_p"],
                    "verdict": verdict_cell(r["verdict"]),
                    "detectable change (80% power)": ci_cell(
                        r["mde_relative"], np.nan, np.nan, digits=0, scale=100, suffix="%"
                    ),
                    "seeds for a 15% change": r["seeds_needed"]
                    if pd.notna(r["seeds_needed"])
                    else str(r["seeds_reason"] or ""),
                }
                for r in records(comp)
            ]
        )
        sec.table(
            "Parity deviation and improvement across seeds",
            html_table(view),
            "PD change = setup - supervised, paired by seed and by resample of test subjects; improvement = "
            "-change / PD_supervised. Setup values carry 1 - alpha intervals; changes carry the interval at "
            "the level of the family's corrected test (Holm by default), so interval and verdict agree. "
            "'detectable change': the smallest relative PD change this design detects with 80% power; "
            "'seeds for a 15% change': seeds that would detect evaluation.target_change.",
        )
    if amplification is not None and not amplification.empty:
        sec.table(
            "Label-bias amplification (clean labels known)",
            html_table(_amplification_view(amplification)),
            "Disparate impact of each group against its reference: of the clean labels, of the recorded "
            "labels the models learned from, and of the models' predictions (mean over seeds). "
            "'label bias' = |log recorded| - |log clean| (> 0: recording widened the gap); "
            "'amplification' = |log model| - |log recorded| (> 0: the model moved further from parity than "
            "its labels). Point estimates on the test set.",
        )
    if not tests.empty and "quantity" in tests:
        sec.table(
            "Every paired change (parity deviation, per attribute, and against controls)",
            html_table(paired_tests_view(tests, "parity_deviation")),
        )
    return sec


def _amplification_view(amplification: pd.DataFrame) -> pd.DataFrame:
    """``label_amplification.csv`` with setups in report order and rounded ratios."""
    view = amplification.copy()
    view["setup"] = view["setup"].astype(str)
    view = view.sort_values(
        ["setup", "attribute", "group"], key=lambda c: setup_rank(c) if c.name == "setup" else c
    )
    return view.rename(columns={"reference_group": "reference", "label_bias": "label bias"})[
        [
            "setup",
            "attribute",
            "group",
            "reference",
            "clean",
            "recorded",
            "model",
            "label bias",
            "amplification",
        ]
    ]
