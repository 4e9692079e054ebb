"""The report's "Interventions" section: a grid that varies ``finetune.mitigation``, on one page.

Every (setup, mitigation) on the fairness-accuracy plane with the descriptive Pareto front, and a table of
each one's AUROC cost and parity-deviation gain against plain supervised training (``supervised`` under
``none``) beside the within-variant verdicts. Only formats
:mod:`~fairssl.report.intervention_tables`' rows; omitted (``None``) when the grid has no mitigation axis.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from fairssl.report.conventions import to_float
from fairssl.report.html_table import Cell, html_table, verdict_cell
from fairssl.report.intervention_figures import fairness_accuracy_plane
from fairssl.report.intervention_tables import (
    NO_MITIGATION,
    inference_scope_note,
    intervention_display,
    intervention_points,
    intervention_table,
    study_correction,
)
from fairssl.report.page import ReportWriter, Section


def interventions_section(writer: ReportWriter, comp: pd.DataFrame) -> Section | None:
    """From :func:`~fairssl.report.comparison.setup_comparison` of a grid's stacked ``comparison.csv``;
    ``None`` when no variant names ``finetune.mitigation``. Saves ``interventions`` (the numeric table)
    and draws ``fairness_accuracy_plane``."""
    points = intervention_points(comp)
    if points.empty:
        return None
    table = intervention_table(points)
    writer.save_table("interventions", table)
    note = inference_scope_note(points, correction=study_correction(comp))
    sec = Section(
        "interventions",
        "Interventions",
        "Each bias mitigation of the grid (finetune.mitigation) applied to every setup: where each "
        "(setup, mitigation) sits on the fairness-accuracy plane and what it costs or gains against plain "
        f"supervised training (supervised under {NO_MITIGATION}). " + note,
    )
    sec.figure(
        writer.figure(
            "fairness_accuracy_plane",
            "Fairness-accuracy plane of the interventions",
            "Each (setup, mitigation): AUROC (x, higher is better) against parity deviation (y, lower is "
            "fairer), mean over seeds with 95% intervals on both axes; colour = mitigation, marker = setup "
            "kind (square: supervised, circle: SSL setup, cross: random-encoder control). Dashed: the Pareto "
            "front, the points no other point beats on both axes. The front is descriptive: it is drawn over "
            "the point estimates, ignores the intervals and is not a test; points whose intervals overlap "
            "are not shown to differ.",
            partial(fairness_accuracy_plane, points),
        )
    )
    display = intervention_display(table, points)
    for col, key in (("AUROC cost (points)", "auroc_cost"), ("PD gain", "pd_gain")):  # sort numerically
        display[col] = pd.Series(
            [
                Cell(text, to_float(v) if np.isfinite(to_float(v)) else None)
                for text, v in zip(display[col], table[key], strict=True)
            ],
            dtype=object,
        )
    for col, key in (
        ("PD verdict (own variant)", "verdict"),
        ("AUROC verdict (own variant)", "auroc_verdict"),
    ):
        display[col] = pd.Series(
            [
                verdict_cell(v) if isinstance(v, str) and v else text
                for text, v in zip(display[col], table[key], strict=True)
            ],
            dtype=object,
        )
    sec.table(
        "Cost and gain against plain supervised training",
        html_table(display, table_id="interventions-table"),
        "AUROC cost = AUROC of supervised under none - AUROC of the row (in points; > 0: less accurate); "
        "PD gain = its parity deviation - the row's (> 0: fairer; in brackets relative to it). Both are "
        "differences of per-variant point estimates across variants: descriptive, no interval, no test. "
        "The verdict columns are the tested ones, each against the same variant's supervised run.",
    )
    if not (points["mitigation"] == NO_MITIGATION).any():
        sec.notes.append(
            'The grid has no finetune.mitigation = "none" variant, so there is no plain supervised '
            'reference: add "none" to the grid axis to get the cost and gain columns.'
        )
    return sec
