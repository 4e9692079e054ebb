"""The tables of the report's "Interventions" view: every (setup, mitigation) of a grid that varies
``finetune.mitigation``, its place on the fairness-accuracy plane and its cost and gain against plain
supervised training.

Input: :func:`~fairssl.report.comparison.setup_comparison` of a grid study's stacked
``results/comparison.csv`` (a ``variant`` column named by the grid, e.g. ``finetune.mitigation=reweigh`` or
``finetune.mitigation=reweigh, pretrain.pool=full``; a replicated grid's root table is already pooled per
grid point). Nothing here is tested: the tests live within a variant (each setup against the same
variant's supervised run, one Holm family per variant: the ``verdict`` / ``auroc_verdict`` columns, carried
through as they are). Across variants this module only takes differences of point estimates and marks the
Pareto front over them, both descriptive.

- :func:`intervention_points`: one row per variant x setup with the mitigation, the other grid settings,
  AUROC and parity deviation with their intervals, the within-variant verdicts and ``on_front``.
- :func:`pareto_front`: which points no other point beats on both axes (higher AUROC, lower PD).
- :func:`intervention_table`: the points against plain supervised training (``supervised`` under
  ``none`` with the same other settings): ``auroc_cost`` and ``pd_gain`` (and ``pd_gain_relative``).
- :func:`intervention_display`: the same as text for the page and ``report.md``.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from fairssl.report.conventions import SUPERVISED, VARIANT, numeric_column, setup_rank, variant_names
from fairssl.report.formatting import DASH, fmt_ci, fmt_number

MITIGATION_KEY = "finetune.mitigation"
"""The grid key whose values are the interventions (``none`` | ``reweigh`` | ``balanced`` | ...)."""

NO_MITIGATION = "none"
"""The mitigation value of plain training: ``supervised`` under it is the reference of every row."""

_SETTING = re.compile(r"(?:^|, )([A-Za-z_][\w-]*(?:\.[\w-]+)+)=")

POINT_COLUMNS = [
    VARIANT,
    "setup",
    "kind",
    "mitigation",
    "other",
    "auroc",
    "auroc_low",
    "auroc_high",
    "parity_deviation",
    "pd_low",
    "pd_high",
    "verdict",
    "auroc_verdict",
    "on_front",
]

TABLE_COLUMNS = [
    VARIANT,
    "setup",
    "kind",
    "mitigation",
    "other",
    "auroc",
    "parity_deviation",
    "auroc_cost",
    "pd_gain",
    "pd_gain_relative",
    "on_front",
    "verdict",
    "auroc_verdict",
]


def variant_settings(name: str) -> dict[str, str]:
    """A grid variant's name (``key=value, key2=value2``, :func:`fairssl.experiments.grid.variant_name`)
    as ``{key: value}``; a value may itself hold ``=``, ``:`` or ``,`` (``exclude:race=black``) as long
    as ``, <dotted.key>=`` does not occur inside it. ``{}`` for a name that is not of that form (``base``)."""
    matches = list(_SETTING.finditer(name))
    if not matches or matches[0].start() != 0:
        return {}
    out = {}
    for k, m in enumerate(matches):
        end = matches[k + 1].start() if k + 1 < len(matches) else len(name)
        out[m.group(1)] = name[m.end() : end]
    return out


def has_mitigation_axis(comparison: pd.DataFrame) -> bool:
    """True when the study is a grid (several variants) and its variants name ``finetune.mitigation``."""
    names = variant_names(comparison)
    return len(names) > 1 and any(MITIGATION_KEY in variant_settings(n) for n in names)


def pareto_front(auroc: np.ndarray, pd_dev: np.ndarray) -> np.ndarray:
    """(n,) bool: point i is on the front when no other point has AUROC >= and PD <= with one strict.

    Higher AUROC and lower parity deviation are better; the front is over the point estimates only
    (no interval, no test): descriptive. A point with a missing value is never on it and never beats one;
    two identical points are both on it.
    """
    a = np.asarray(auroc, dtype=np.float64)  # (n,)
    p = np.asarray(pd_dev, dtype=np.float64)  # (n,)
    ok = np.isfinite(a) & np.isfinite(p)
    # dominated[i, j]: j beats i ((n, n) broadcast of column i against row j)
    no_worse = (a[None, :] >= a[:, None]) & (p[None, :] <= p[:, None])
    better = (a[None, :] > a[:, None]) | (p[None, :] < p[:, None])
    beats = no_worse & better & ok[None, :] & ok[:, None]
    return ok & ~beats.any(axis=1)


def intervention_points(comparison: pd.DataFrame) -> pd.DataFrame:
    """One row per variant x setup (:data:`POINT_COLUMNS`), variants in grid order, setups in
    level-of-supervision order; empty without a mitigation axis (:func:`has_mitigation_axis`).

    ``mitigation`` is the variant's ``finetune.mitigation`` (``none`` when a variant does not set it),
    ``other`` its remaining grid settings as ``key=value, ...`` (``""`` with a single axis); the values
    and verdicts are the variant's own (each against its own supervised run); ``on_front`` is
    :func:`pareto_front` over all rows.
    """
    if not has_mitigation_axis(comparison):
        return pd.DataFrame(columns=POINT_COLUMNS)
    frames = []
    for name in variant_names(comparison):
        own = comparison[comparison[VARIANT].astype(str) == name].copy()
        own["setup"] = own["setup"].astype(str)
        own = own.sort_values("setup", key=setup_rank, kind="stable")
        settings = variant_settings(name)
        mitigation = settings.pop(MITIGATION_KEY, NO_MITIGATION)
        own["mitigation"] = mitigation
        own["other"] = ", ".join(f"{k}={v}" for k, v in settings.items())
        frames.append(own)
    points = pd.concat(frames, ignore_index=True).reindex(columns=POINT_COLUMNS)
    points[VARIANT] = points[VARIANT].astype(str)
    if points["kind"].isna().any():
        fallback = np.where(points["setup"] == SUPERVISED, "baseline", "ssl")
        points["kind"] = points["kind"].where(points["kind"].notna(), pd.Series(fallback, index=points.index))
    points["on_front"] = pareto_front(
        numeric_column(points, "auroc"), numeric_column(points, "parity_deviation")
    )
    return points


def intervention_table(points: pd.DataFrame) -> pd.DataFrame:
    """Each point of :func:`intervention_points` against plain supervised training (:data:`TABLE_COLUMNS`).

    Reference: the ``supervised`` row under ``finetune.mitigation = none`` with the same ``other``
    settings (NaN where the grid has none). ``auroc_cost = AUROC_ref - AUROC`` (> 0: the row loses
    accuracy; ideal <= 0), ``pd_gain = PD_ref - PD`` (> 0: fairer; ideal: large), ``pd_gain_relative =
    pd_gain / PD_ref`` (0.3 = 30% lower PD). Differences of point estimates across variants: descriptive,
    no interval and no test (the within-variant ``verdict`` / ``auroc_verdict`` are the tested ones).
    """
    if points.empty:
        return pd.DataFrame(columns=TABLE_COLUMNS)
    ref = points[(points["setup"] == SUPERVISED) & (points["mitigation"] == NO_MITIGATION)]
    ref = ref.drop_duplicates("other").set_index("other")
    ref_auroc = points["other"].map(pd.to_numeric(ref["auroc"], errors="coerce")).to_numpy(dtype=float)
    ref_pd = (
        points["other"].map(pd.to_numeric(ref["parity_deviation"], errors="coerce")).to_numpy(dtype=float)
    )
    out = points.copy()
    out["auroc_cost"] = ref_auroc - numeric_column(points, "auroc")
    out["pd_gain"] = ref_pd - numeric_column(points, "parity_deviation")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["pd_gain_relative"] = np.where(ref_pd > 0, out["pd_gain"].to_numpy(dtype=float) / ref_pd, np.nan)
    return out[TABLE_COLUMNS].reset_index(drop=True)


def _verdict_text(value: object) -> str:
    text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    return text.replace("_", " ") if text else DASH


def intervention_display(table: pd.DataFrame, points: pd.DataFrame) -> pd.DataFrame:
    """:func:`intervention_table` as text, one row per (setup, mitigation): AUROC and PD with their
    intervals (from ``points``, same rows), the AUROC cost in points (x 100), the PD gain (absolute and
    relative), Pareto membership and the within-variant verdicts. ``other`` only when the grid has it."""
    if table.empty:
        return pd.DataFrame()
    rows = []
    for t, p in zip(table.to_dict("records"), points.to_dict("records"), strict=True):
        rel = t["pd_gain_relative"]
        rows.append(
            {
                "setup": str(t["setup"]),
                "mitigation": str(t["mitigation"]),
                "other settings": str(t["other"]),
                "AUROC": fmt_ci(p["auroc"], p["auroc_low"], p["auroc_high"], missing=DASH),
                "parity deviation": fmt_ci(p["parity_deviation"], p["pd_low"], p["pd_high"], missing=DASH),
                "AUROC cost (points)": fmt_number(100 * float(t["auroc_cost"]), 1),
                "PD gain": fmt_number(float(t["pd_gain"]), 3)
                + ("" if not np.isfinite(rel) else f" ({100 * rel:+.0f}%)"),
                "Pareto front": "yes" if bool(t["on_front"]) else "",
                "PD verdict (own variant)": _verdict_text(t["verdict"]),
                "AUROC verdict (own variant)": _verdict_text(t["auroc_verdict"]),
            }
        )
    out = pd.DataFrame(rows)
    if (out["other settings"] == "").all():
        out = out.drop(columns="other settings")
    return out


def study_correction(comparison: pd.DataFrame) -> str:
    """The multiple-comparison correction of the variants' families (``comparison.csv``'s ``correction``
    column, e.g. ``holm``); ``"holm"`` (the default) when it is not stored."""
    if comparison.empty or "correction" not in comparison:
        return "holm"
    values = [str(v) for v in comparison["correction"].dropna().unique() if str(v)]
    return " / ".join(values) if values else "holm"


def inference_scope_note(points: pd.DataFrame, *, correction: str = "holm") -> str:
    """The sentence that says which comparisons are tested (within a variant) and which are not."""
    n = points["mitigation"].nunique() if not points.empty else 0
    corrected = "uncorrected" if correction == "none" else f"{correction.capitalize()}-corrected"
    return (
        f"Tested: within each variant ({n} mitigation{'s' if n != 1 else ''}), every setup against that "
        "variant's own supervised run (same mitigation, same seeds and test resamples): one family per "
        f"variant, {corrected}; those verdicts are the PD / AUROC verdict columns. Not tested: every "
        "comparison across variants, i.e. the AUROC cost and PD gain against plain supervised training "
        "(supervised under none) and the Pareto front: differences of point estimates, descriptive only."
    )
