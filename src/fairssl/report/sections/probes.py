"""The report's representation-probe section: demographic information per layer, and per-group task
probes against one pooled probe."""

from __future__ import annotations

from functools import partial

import pandas as pd

from fairssl.report.analysis_record import lower_first
from fairssl.report.html_table import html_table
from fairssl.report.page import ReportWriter, Section
from fairssl.report.probe_figures import demographic_probe_by_layer
from fairssl.report.probe_tables import demographic_probe_table, task_probe_gap_table


def probes_section(
    writer: ReportWriter,
    demographic: pd.DataFrame,
    task: pd.DataFrame,
    relation: pd.DataFrame | None = None,
    *,
    stage: str = "",
    stale: str = "",
) -> Section:
    """From ``results/probes_demographic.csv``, ``probes_task.csv`` and ``probes_cka_relation.csv``.
    ``stage``: why the probes stage left no tables (:func:`~fairssl.report.analysis_record.stage_note`),
    "" when it completed; ``stale``: a note shown above tables that an earlier analysis left
    (:func:`~fairssl.report.analysis_record.stale_note`)."""
    sec = Section(
        "probes",
        "Representation probes",
        "A linear probe (subject-disjoint cross-validation) predicts each protected attribute from each "
        "layer's frozen test activations: above chance, the layer encodes the attribute. Then, per group, a "
        "task probe trained on that group alone is compared with one pooled probe: a positive gap means the "
        "group would be better served by its own decision boundary. Intervals are subject-level bootstrap "
        "intervals of out-of-fold predictions, which run narrow; treat 'above chance' as a screen.",
    )
    demo = demographic_probe_table(demographic)
    gaps = task_probe_gap_table(task)
    if demo.empty and gaps.empty:
        sec.notes.append(
            "No probe results: "
            + lower_first(
                stage
                or "the probes stage completed but every group was too small for subject-disjoint folds "
                "(see evaluation.min_group_size and probes.n_splits; What could not be computed lists them)."
            )
        )
        return sec
    if stale:
        sec.notes.append(stale)
    writer.save_table("probe_demographic", demo)
    writer.save_table("probe_task_gap", gaps)
    sec.figure(
        writer.figure(
            "probe_demographic_by_layer",
            "Demographic information by layer",
            "Balanced accuracy of a linear probe for each attribute (mean over seeds) by layer and setup; "
            "dotted: chance (1 / number of groups).",
            partial(demographic_probe_by_layer, demo),
        )
    )
    sec.table("Demographic probes (balanced accuracy)", html_table(demo, table_id="probe-demographic"))
    sec.table(
        "Group-specific vs pooled task probe (pooled representation)",
        html_table(gaps, table_id="probe-task"),
        "gap = AUROC of the group's own probe minus the pooled probe's, on the group's windows.",
    )
    if relation is not None and not relation.empty:
        shown = relation.drop(columns=[c for c in ("run_id", "caveat") if c in relation])
        writer.save_table("probe_cka_relation", relation)
        sec.table(
            "Probe gaps against conditioned CKA (per SSL run)",
            html_table(shown, table_id="probe-cka"),
            "Spearman rho across attributes x layers between gap(worst group) - gap(best group) and "
            "CKA(best) - CKA(worst) against the supervised model; rho > 0: a group the pooled boundary "
            "serves worse also has more dissimilar representations. "
            + str(relation["caveat"].iloc[0] if "caveat" in relation else ""),
        )
    return sec
