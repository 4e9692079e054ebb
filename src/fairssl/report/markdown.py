"""``report.md``: the report's answer and key tables as Markdown, for papers, READMEs and issue trackers.

Written beside ``report.html`` from the same stored tables (no figure): the headline, each setup against
the supervised baseline (AUROC, parity deviation, the paired changes with 95% intervals and the Holm-adjusted
paired t-test p-values), the representation picture (CKA of each SSL layer with the same supervised layer;
best-vs-worst group dissimilarity against the permutation bound), the demographic probes of the pooled
representation, and for a grid the variants side by side (and, when the grid varies ``finetune.mitigation``,
the interventions against plain supervised training). Every number is rounded from the CSVs under
``results/`` and ``results/report_tables/``, which hold the full precision.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from fairssl.report.chance import legend, marked_text
from fairssl.report.conventions import SUPERVISED, numeric_column, setup_order, to_float
from fairssl.report.formatting import fmt_ci
from fairssl.report.intervention_tables import (
    inference_scope_note,
    intervention_display,
    intervention_points,
    intervention_table,
    study_correction,
)
from fairssl.report.relative_interval import improvement_text, supervised_pd_low
from fairssl.report.summary import attribution_points
from fairssl.report.unavailable_panel import TITLE, Panel


def md_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of ``frame`` (cells as text, ``|`` escaped); ``""`` when empty."""
    if frame.empty:
        return ""
    cells = [[str(c).replace("|", "\\|") for c in frame.columns]]
    cells += [
        ["" if pd.isna(v) else str(v).replace("|", "\\|") for v in row] for row in frame.itertuples(False)
    ]
    lines = ["| " + " | ".join(r) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("---" for _ in frame.columns) + "|")
    return "\n".join(lines)


def _p(value: Any) -> str:
    v = to_float(value)
    if not np.isfinite(v):
        return "n/a"
    return "<0.001" if v < 0.001 else f"{v:.3f}"


def setup_table(comp: pd.DataFrame) -> pd.DataFrame:
    """One row per setup: AUROC, parity deviation, AUROC change in points and PD improvement against
    supervised (intervals of the evaluation: setups at 1 - alpha, changes at their corrected level), the
    family-adjusted p-values, the verdict."""
    rows = []
    base_low = supervised_pd_low(comp)
    for r in comp.to_dict("records"):
        setup = str(r["setup"])
        sup = setup == SUPERVISED
        rows.append(
            {
                "setup": setup,
                "seeds": int(r["n_seeds"]),
                "AUROC": marked_text(r["auroc"], r["auroc_low"], r["auroc_high"]),
                "parity deviation": fmt_ci(r["parity_deviation"], r["pd_low"], r["pd_high"]),
                "AUROC change (points)": ""
                if sup
                else fmt_ci(
                    r["auroc_change"], r["auroc_change_low"], r["auroc_change_high"], digits=1, scale=100
                ),
                "PD improvement": "" if sup else improvement_text(r, baseline_low=base_low),
                "p AUROC": "" if sup else _p(r.get("auroc_change_p")),
                "p PD": "" if sup else _p(r.get("pd_change_p")),
                "verdict": str(r["verdict"]),
            }
        )
    return pd.DataFrame(rows)


def panel_markdown(panel: Panel) -> str:
    """The "What could not be computed" panel (:mod:`~fairssl.report.unavailable_panel`) as a Markdown
    section: heading, lead, the stage sentences as a list and the grouped table."""
    parts = [f"## {TITLE}", "", panel.lead, ""]
    if panel.stage_lines:
        parts += [f"- {line}" for line in panel.stage_lines] + [""]
    if not panel.table.empty:
        parts += [md_table(panel.table), ""]
    return "\n".join(parts)


def caveats_markdown(caveats: Sequence[str]) -> str:
    """The report's caveats (:func:`~fairssl.report.caveats.report_caveats`) as a Markdown list section."""
    if not caveats:
        return ""
    return "\n".join(["## Caveats", "", *(f"- {c}" for c in caveats), ""])


def cka_diagonal_table(cka_mean: pd.DataFrame) -> pd.DataFrame:
    """Per SSL setup, the CKA of each layer with the same layer of the supervised model (mean over seeds):
    1 = the same representation up to rotation and scale; frozen layers typically fall lowest."""
    if cka_mean.empty or not {"setup", "layer_a", "layer_b", "cka"} <= set(cka_mean.columns):
        return pd.DataFrame()
    diag = cka_mean[cka_mean["layer_a"].astype(str) == cka_mean["layer_b"].astype(str)]
    wide = diag.pivot_table(index="setup", columns="layer_a", values="cka", aggfunc="mean")
    wide = wide.reindex(setup_order(wide.index.astype(str)))
    return wide.map(lambda v: f"{v:.2f}").reset_index().rename_axis(columns=None)


def dissimilarity_view(ratios: pd.DataFrame) -> pd.DataFrame:
    """Per setup x attribute: best and worst group, their AUROC gap, the conditioned-CKA dissimilarity and
    how many supervised x SSL layer pairs differ beyond the permutation bound (mean over seeds)."""
    if ratios.empty:
        return pd.DataFrame()
    return pd.DataFrame(
        {
            "setup": ratios["setup"].astype(str),
            "attribute": ratios["attribute"],
            "best vs worst group": ratios["best_group"].astype(str)
            + " vs "
            + ratios["worst_group"].astype(str),
            "AUROC gap": [f"{v:.3f}" for v in numeric_column(ratios, "perf_gap")],
            "dissimilarity": [f"{v:.3f}" for v in numeric_column(ratios, "dissimilarity")],
            "pairs beyond bound": [
                f"{a:.1f} of {b:.0f}"
                for a, b in zip(
                    numeric_column(ratios, "n_exceeding"),
                    numeric_column(ratios, "n_layer_pairs"),
                    strict=True,
                )
            ],
        }
    )


def probe_view(demographic: pd.DataFrame) -> pd.DataFrame:
    """Per setup x attribute: balanced accuracy of the demographic probe on the deepest probed
    representation (``pooled`` when present) against chance, mean over seeds."""
    if demographic.empty or "layer" not in demographic:
        return pd.DataFrame()
    rows = demographic[demographic["metric"] == "balanced_accuracy"]
    layers = list(dict.fromkeys(rows["layer"].astype(str)))
    if not layers:
        return pd.DataFrame()
    layer = "pooled" if "pooled" in layers else layers[-1]
    rows = rows[rows["layer"].astype(str) == layer]
    cols = ["estimate", "ci_low", "ci_high", "chance"]
    mean = rows.groupby(["setup", "attribute"], sort=False)[cols].mean().reset_index()
    mean["setup"] = mean["setup"].astype(str)
    out = [
        {
            "setup": m["setup"],
            "attribute": m["attribute"],
            f"balanced accuracy ({layer})": fmt_ci(m["estimate"], m["ci_low"], m["ci_high"]),
            "chance": f"{m['chance']:.3f}",
        }
        for setup in setup_order(mean["setup"].unique())
        for m in mean[mean["setup"] == setup].to_dict("records")
    ]
    return pd.DataFrame(out)


def interventions_markdown(comparison: pd.DataFrame) -> str:
    """The "Interventions" section of a grid that varies ``finetune.mitigation``
    (:mod:`~fairssl.report.intervention_tables`): each (setup, mitigation) against plain supervised
    training, what is tested and what is not; ``""`` without a mitigation axis."""
    points = intervention_points(comparison)
    if points.empty:
        return ""
    display = intervention_display(intervention_table(points), points)
    return "\n".join(
        [
            "## Interventions: cost and gain against plain supervised training",
            "",
            md_table(display),
            "",
            "AUROC cost = AUROC of supervised under none - the row's (points; > 0: less accurate); PD gain "
            "= its parity deviation - the row's (> 0: fairer). Pareto front: no other row is at least as "
            "good on both (AUROC, parity deviation) and better on one (point estimates only). "
            + inference_scope_note(points, correction=study_correction(comparison)),
            "",
        ]
    )


def markdown_report(
    title: str,
    headline: str,
    comp: pd.DataFrame,
    *,
    cka_mean: pd.DataFrame,
    ratios: pd.DataFrame,
    demographic: pd.DataFrame,
    variant_table: pd.DataFrame | None = None,
    seeds: Sequence[int] = (),
    caveats: Sequence[str] = (),
    panel: Panel | None = None,
    interventions: pd.DataFrame | None = None,
) -> str:
    """The text of ``report.md``. ``comp`` is :func:`~fairssl.report.comparison.setup_comparison` of one
        study (or a grid's stacked one, then shown through ``variant_table`` only); ``caveats`` and ``panel``
        are the HTML page's own (:func:`~fairssl.report.caveats.report_caveats`,
        :func:`~fairssl.report.unavailable_panel.build_panel`), placed right under the headline;
    ``interventions`` is a grid's stacked comparison again, shown as :func:`interventions_markdown` when
    it varies ``finetune.mitigation``."""
    parts = [f"# {title}", "", headline, ""]
    if panel is not None:
        parts.append(panel_markdown(panel))
    if caveats:
        parts.append(caveats_markdown(caveats))
    if variant_table is not None and not variant_table.empty:
        parts += ["## Setups per variant (mean over seeds, 95% CI)", "", md_table(variant_table), ""]
        parts += ["Each variant's own report (variants/<slug>/report.md) has its full tables.", ""]
        if interventions is not None:
            parts.append(interventions_markdown(interventions))
        return "\n".join(parts)
    attribution = attribution_points(comp) if not comp.empty else []
    if attribution:  # who gets the credit: freezing or pre-training (the HTML summary's statements)
        parts += ["## Freezing or pre-training", "", *(f"- {text}" for text in attribution), ""]
    n = f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''}" if seeds else "the seeds"
    setups = setup_table(comp)
    marks = legend(setups["AUROC"]) if not setups.empty else ""
    parts += [
        f"## Setups against supervised (mean over {n})",
        "",
        md_table(setups),
        "",
        *([marks, ""] if marks else []),
        "AUROC change and PD improvement are paired with the supervised run of the same seed and the same "
        "resamples of test subjects; PD improvement = (PD_supervised - PD_setup) / PD_supervised (> 0: "
        "fairer). AUROC and parity deviation carry 1 - alpha intervals; each change carries the interval at "
        "the level of the family's corrected test (Holm by default) and its adjusted p, so interval and "
        "verdict agree.",
        "",
    ]
    for heading, table, note in (
        (
            "CKA of each layer with the same supervised layer",
            cka_diagonal_table(cka_mean),
            "Debiased linear CKA on the test windows, mean over seeds (1 = same representation).",
        ),
        (
            "Conditioned CKA: best vs worst group",
            dissimilarity_view(ratios),
            "Dissimilarity = mean over supervised x SSL layer pairs of |CKA on the best group's windows - "
            "CKA on the worst group's|; a pair counts when its difference exceeds the permutation bound "
            "(random equal-size groups).",
        ),
        (
            "Demographic probes",
            probe_view(demographic),
            "A linear probe (subject-disjoint folds) predicting the attribute from frozen activations; above "
            "chance = the representation encodes the attribute.",
        ),
    ):
        if not table.empty:
            parts += [f"## {heading}", "", md_table(table), "", note, ""]
    return "\n".join(parts)
