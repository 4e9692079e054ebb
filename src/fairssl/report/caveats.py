"""The report's caveats: one list of sentences, written into both ``report.html`` and ``report.md``.

:func:`report_caveats` is the only producer, so the two renderers cannot drift. In order: too few seeds
(:func:`seed_caveat`), setups without a verdict because a model may be at chance (:func:`chance_caveat`),
AUROC values near chance and degenerate intervals (:func:`interval_caveat`, marks of
:mod:`~fairssl.report.chance`), what could not be computed (:func:`unavailable_caveat`) and the dataset
audit's warnings (:func:`audit_caveat`). Each returns "" when it has nothing to say.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from fairssl.report.analysis_record import STAGES, StoredAnalysis
from fairssl.report.chance import (
    CHANCE_BAND,
    CHANCE_MARK,
    DEGENERATE_MARK,
    DEGENERATE_WIDTH,
    count_marks,
)
from fairssl.report.conventions import SUPERVISED, VARIANT, numeric_column, variant_names
from fairssl.report.sentences import WIDE_INTERVAL_AUROC


def seed_caveat(comp: pd.DataFrame) -> str:
    """Few seeds: one seed (intervals cover test sampling only) or fewer than five (wide intervals)."""
    n_seeds = numeric_column(comp, "n_seeds") if comp is not None else np.array([])
    if not np.isfinite(n_seeds).any():
        return ""
    n = int(np.nanmax(n_seeds))
    reps = numeric_column(comp, "replicates")
    if np.isfinite(reps).any() and np.nanmax(reps) > 1:  # pooled over data replicates: n counts them
        if n < 5:
            return (
                f"Caveat: {n} data replicates; intervals are t intervals on {n - 1} degrees of freedom "
                "and wide with so few replicates."
            )
        return ""
    if n == 1:
        return (
            "Caveat: one seed per setup; intervals reflect test-set resampling only. Use several seeds "
            "(e.g. seeds = [0, 1, 2, 3, 4]) before drawing conclusions."
        )
    if n < 5:
        return f"Caveat: {n} seeds per setup; across-seed intervals are wide with so few runs."
    return ""


def audit_caveat(warnings: Sequence[str]) -> str:
    """How many warnings the dataset audit raised (they are listed in the audit section)."""
    if not warnings:
        return ""
    return (
        f"The dataset audit raised {len(warnings)} warning(s) (small groups, missing values...): see the "
        "audit section."
    )


def _names(names: Sequence[str]) -> str:
    names = list(dict.fromkeys(names))
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def chance_caveat(comp: pd.DataFrame) -> str:
    """Names every setup whose verdict is ``at_chance`` and the models at chance behind it (from the
    evaluation's ``verdict_reason``, ``auroc_interval_includes_0.5:<setup>,<setup>``)."""
    if comp is None or comp.empty or "verdict" not in comp:
        return ""
    rows = comp[comp["verdict"].astype(str) == "at_chance"]
    if rows.empty:
        return ""
    grid = len(variant_names(comp)) > 1
    setups, models = [], []
    for r in rows.to_dict("records"):
        tag = f" [{r[VARIANT]}]" if grid else ""
        setups.append(f"{r['setup']}{tag}")
        reason = str(r.get("verdict_reason", "") or "")
        at_chance = [m for m in reason.partition(":")[2].split(",") if m] or [str(r["setup"])]
        models += [f"{m if m == SUPERVISED else f'setup {m}'}{tag}" for m in at_chance]
    which = "setup" if len(setups) == 1 else "setups"
    one = len(set(models)) == 1
    estimates = numeric_column(rows, "auroc")
    wide = bool(estimates.size) and bool(np.all(np.isfinite(estimates) & (estimates >= WIDE_INTERVAL_AUROC)))
    return (
        f"No fairness verdict for {which} {_names(setups)}: the AUROC interval"
        f"{'' if one else 's'} of {_names(models)} include{'s' if one else ''} 0.5, so "
        f"{'that model' if one else 'those models'} may be no better than chance and a parity-deviation "
        "change says nothing about fairness. "
        + (
            f"Their AUROC estimates are at least {WIDE_INTERVAL_AUROC:g}, but the intervals are too wide "
            "(few seeds: t on n - 1 df) to show the models beat chance; run more seeds before reading these "
            "rows."
            if wide
            else "Check the data preparation (channel scaling, labels) before reading these rows."
        )
    )


def interval_caveat(triples: Sequence[tuple[object, object, object]]) -> str:
    """How many of the report's AUROC (estimate, low, high) triples are near chance or degenerate."""
    chance, degenerate = count_marks(triples)
    parts = []
    if chance:
        parts.append(
            f"{chance} AUROC value(s) lie within the chance band {0.5 - CHANCE_BAND:.2f}-"
            f"{0.5 + CHANCE_BAND:.2f} (marked {CHANCE_MARK})"
        )
    if degenerate:
        parts.append(
            f"{degenerate} AUROC interval(s) are degenerate, covering [0, 1] or {DEGENERATE_WIDTH:g} wide or "
            f"more (marked {DEGENERATE_MARK}: too few test windows or positives to mean anything)"
        )
    if not parts:
        return ""
    return "Caveat: " + " and ".join(parts) + " in the report's tables."


def unavailable_caveat(record: StoredAnalysis) -> str:
    """A pointer to the "What could not be computed" panel when it lists something or a stage did not
    complete."""
    n = len(record.unavailable)
    bad = [s.stage for s in record.incomplete() if s.status != "skipped"]
    if record.present:
        bad += [s for s in STAGES if s not in record.stages]
    parts = []
    if n:
        parts.append(f"{n} value(s) could not be computed")
    if bad:
        parts.append(f"the {_names(bad)} stage{'s' if len(bad) > 1 else ''} failed or did not finish")
    if not record.present:
        parts.append("the analysis record (results/analysis.json) is missing")
    if not parts:
        return ""
    text = " and ".join(parts)
    return f"{text[0].upper()}{text[1:]}: see What could not be computed."


def auroc_triples(*tables: tuple[pd.DataFrame | None, str, str, str]) -> list[tuple[object, object, object]]:
    """(estimate, low, high) rows of AUROC from (table, estimate column, low column, high column) specs;
    tables that lack the columns add nothing."""
    out: list[tuple[object, object, object]] = []
    for frame, est, low, high in tables:
        if frame is None or frame.empty or est not in frame:
            continue
        columns = (numeric_column(frame, est), numeric_column(frame, low), numeric_column(frame, high))
        out += list(zip(*columns, strict=True))
    return out


def report_caveats(
    comp: pd.DataFrame,
    *,
    warnings: Sequence[str] = (),
    record: StoredAnalysis | None = None,
    auroc: Sequence[tuple[object, object, object]] = (),
) -> list[str]:
    """Every caveat of the report, in order (empty strings dropped).

    Args:
        comp: :func:`~fairssl.report.comparison.setup_comparison` (per setup; a grid's stacked).
        warnings: the dataset audit's warnings.
        record: the analysis record (:func:`~fairssl.report.analysis_record.read_analysis_record`).
        auroc: every (estimate, low, high) AUROC triple shown in the report's tables
            (:func:`auroc_triples`).
    """
    items = [
        seed_caveat(comp),
        chance_caveat(comp),
        interval_caveat(list(auroc)),
        unavailable_caveat(record) if record is not None else "",
        audit_caveat(warnings),
    ]
    return [c for c in items if c]
