"""The report's level-of-supervision section: the paper's two plots of AUROC and fairness against the
number of frozen encoder layers."""

from __future__ import annotations

from functools import partial

import pandas as pd

from fairssl.report import figures
from fairssl.report.page import ReportWriter, Section


def supervision_section(writer: ReportWriter, levels: pd.DataFrame) -> Section:
    """From :func:`~fairssl.report.tables.supervision_table`'s output (``levels``)."""
    sec = Section(
        "supervision",
        "Performance and fairness against the level of supervision",
        "The paper's two plots: the supervised model, then SSL with 0 to 3 frozen encoder layers (more "
        "frozen layers = less supervised fine-tuning). The two 1-layer and the two 2-layer setups are shown "
        "side by side; lines join the mean of the setups at each level.",
    )
    if levels.empty:
        sec.notes.append("No setup with a known number of frozen layers.")
        return sec
    sec.figure(
        writer.figure(
            "auroc_vs_frozen",
            "AUROC vs frozen layers",
            "Test AUROC (mean over seeds, 95% CI) against the level of supervision.",
            partial(figures.auroc_vs_frozen, levels),
        )
    )
    sec.figure(
        writer.figure(
            "fairness_vs_frozen",
            "Fairness vs frozen layers",
            "Left: AUROC gap between the best and the worst group of each attribute (mean over seeds); "
            "right: parity deviation (mean over seeds, 95% CI; dotted: 0.2). Lower is fairer in both.",
            partial(figures.fairness_vs_frozen, levels),
        )
    )
    return sec
