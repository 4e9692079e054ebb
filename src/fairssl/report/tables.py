"""The report's tables of stage 5 results, as pure functions of ``results/results.parquet``.

One row per run x label x attribute x group x metric goes in; out come the tables the report shows and
saves under ``results/report_tables/``: every metric collapsed over seeds (:func:`metric_table`), AUROC per
group (:func:`group_auroc_table`), the best-minus-worst group AUROC gap (:func:`auroc_gap_table`), the
cells pooled into parity deviation (:func:`parity_cells`) and the level-of-supervision table
(:func:`supervision_table`). Nothing here trains, reads files or draws; intervals follow
:mod:`fairssl.report.intervals`.

This module is also the report's table entry point: it re-exports the per-setup comparison
(:mod:`~fairssl.report.comparison`), the plain-language summary (:mod:`~fairssl.report.summary`), the
CKA tables (:mod:`~fairssl.report.cka_tables`), the audit tables (:mod:`~fairssl.report.audit_tables`) and
the shared conventions, so ``from fairssl.report.tables import headline, summary_table`` keeps working.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from fairssl.evaluation.parity import PARITY_RATIOS
from fairssl.evaluation.plans import WORST_GROUP
from fairssl.evaluation.testing import t_interval
from fairssl.report.audit_tables import label_bias_table, split_table
from fairssl.report.cka_tables import best_worst_table, cka_mean, dissimilarity_table
from fairssl.report.comparison import (
    COMPARISON_COLUMNS,
    MAX_AUROC_DROP,
    VERDICTS,
    best_tradeoff,
    setup_comparison,
)
from fairssl.report.conventions import (
    FOUR_FIFTHS,
    SUPERVISED,
    VARIANT,
    consensus,
    for_label,
    numeric_column,
    setup_order,
    setup_rank,
    split_variants,
    variant_names,
)
from fairssl.report.formatting import fmt_ci
from fairssl.report.intervals import CONFIDENCE, collapse_seeds, metric_range
from fairssl.report.summary import headline, summary_points, summary_table

__all__ = [
    "COMPARISON_COLUMNS",
    "CONFIDENCE",
    "FOUR_FIFTHS",
    "MAX_AUROC_DROP",
    "SUPERVISED",
    "VARIANT",
    "VERDICTS",
    "auroc_gap_table",
    "best_tradeoff",
    "best_worst_table",
    "cka_mean",
    "dissimilarity_table",
    "fmt_ci",
    "frozen_level",
    "group_auroc_table",
    "headline",
    "label_bias_table",
    "metric_range",
    "metric_table",
    "parity_cells",
    "setup_comparison",
    "setup_order",
    "split_table",
    "split_variants",
    "summary_points",
    "summary_table",
    "supervision_table",
    "variant_names",
]


def metric_table(
    results: pd.DataFrame, *, label: str = "recorded", confidence: float = CONFIDENCE
) -> pd.DataFrame:
    """Every metric of ``results.parquet`` for one label set, collapsed over seeds.

    One row per setup x kind x attribute x group x reference group x metric with the group sizes
    (``n_group``, ``n_reference``: test windows; for performance rows ``n_reference`` is the positives),
    ``n_seeds`` with a value, ``n_runs``, the mean ``estimate``, its interval (``ci``: seeds | bootstrap |
    none, see :mod:`fairssl.report.intervals`) and every reason code seen (``;``-joined: why a value is
    missing). Setups in level-of-supervision order; within a setup the stored row order.
    """
    rows = for_label(results, label)
    if rows.empty:
        return pd.DataFrame()
    keys = ["setup", "kind", "attribute", "group", "reference_group", "metric"]
    keys = ([VARIANT] if len(variant_names(rows)) > 1 else []) + [k for k in keys if k in rows.columns]
    table = collapse_seeds(rows.assign(setup=rows["setup"].astype(str)), keys, confidence=confidence)
    return table.sort_values("setup", key=setup_rank, kind="stable").reset_index(drop=True)


def group_auroc_table(
    results: pd.DataFrame, *, label: str = "recorded", metric: str = "auroc", confidence: float = CONFIDENCE
) -> pd.DataFrame:
    """AUROC (or another performance metric) per setup x attribute x group, mean over seeds with interval.

    Includes the ``overall`` row (attribute ``overall``). Columns as in :func:`metric_table`.
    """
    rows = for_label(results, label)
    if rows.empty:
        return pd.DataFrame()
    rows = rows[(rows["metric"] == metric) & (rows.get("kind", "performance") == "performance")]
    if rows.empty:
        return pd.DataFrame()
    rows = rows.assign(setup=rows["setup"].astype(str))
    return collapse_seeds(rows, ["setup", "attribute", "group", "metric"], confidence=confidence)


def auroc_gap_table(
    results: pd.DataFrame, *, label: str = "recorded", confidence: float = CONFIDENCE
) -> pd.DataFrame:
    """Per setup x attribute: AUROC of the best group minus that of the worst (>= 0; 0 is ideal).

    Computed per run over the groups whose AUROC is defined (>= 2 of them), then averaged over seeds with
    a t interval (``n_seeds`` >= 2); columns setup, attribute, n_seeds, gap, gap_low, gap_high, best_group,
    worst_group (``a / b (varies)`` when the seeds disagree).
    """
    rows = for_label(results, label)
    if rows.empty:
        return pd.DataFrame()
    rows = rows[
        (rows["metric"] == "auroc")
        & ~rows["attribute"].isin(["overall", "all"])
        & np.isfinite(numeric_column(rows, "estimate"))
    ]
    per_run = []
    for (setup, seed, attribute), grp in rows.groupby(["setup", "seed", "attribute"], sort=False):
        if len(grp) < 2:
            continue
        ordered = grp.sort_values(["estimate", "group"], ascending=[False, True])
        per_run.append(
            {
                "setup": str(setup),
                "seed": seed,
                "attribute": attribute,
                "gap": float(ordered["estimate"].iloc[0] - ordered["estimate"].iloc[-1]),
                "best_group": ordered["group"].iloc[0],
                "worst_group": ordered["group"].iloc[-1],
            }
        )
    cols = ["setup", "attribute", "n_seeds", "gap", "gap_low", "gap_high", "best_group", "worst_group"]
    if not per_run:
        return pd.DataFrame(columns=cols)
    runs = pd.DataFrame(per_run)
    out = []
    for (setup, attribute), grp in runs.groupby(["setup", "attribute"], sort=False):
        gaps = grp["gap"].to_numpy(dtype=float)
        lo, hi = t_interval(gaps, confidence=confidence)
        lo, hi = max(lo, 0.0), min(hi, 1.0)  # a gap of AUROCs lies in [0, 1]
        out.append(
            {
                "setup": setup,
                "attribute": attribute,
                "n_seeds": len(gaps),
                "gap": float(gaps.mean()),
                "gap_low": lo,
                "gap_high": hi,
                "best_group": consensus(grp["best_group"]),
                "worst_group": consensus(grp["worst_group"]),
            }
        )
    return pd.DataFrame(out, columns=cols)


def parity_cells(results: pd.DataFrame, *, label: str = "recorded") -> pd.DataFrame:
    """The cells pooled by parity deviation: |1 - ratio| per setup x attribute x group x ratio.

    Rows whose metric is one of the six :data:`~fairssl.evaluation.parity.PARITY_RATIOS` (not the
    ``worst`` rows), averaged over seeds (NaN values left out); columns setup, attribute, group, metric,
    deviation, n_seeds. Their mean per setup is (close to) the setup's parity deviation.
    """
    rows = for_label(results, label)
    if rows.empty:
        return pd.DataFrame(columns=["setup", "attribute", "group", "metric", "deviation", "n_seeds"])
    rows = rows[rows["metric"].isin(PARITY_RATIOS) & (rows["group"] != WORST_GROUP)]
    rows = rows.assign(
        deviation=np.abs(1.0 - numeric_column(rows, "estimate")), setup=rows["setup"].astype(str)
    )
    rows = rows[np.isfinite(rows["deviation"])]
    g = rows.groupby(["setup", "attribute", "group", "metric"], sort=False)["deviation"]
    return pd.DataFrame({"deviation": g.mean(), "n_seeds": g.count()}).reset_index()


def frozen_level(setup: str, *, layer_names: Sequence[str] = ("conv1", "conv2", "conv3")) -> float:
    """Number of frozen encoder layers of a named SSL setup (NaN for supervised, ``random:`` controls and
    unknown names: the level-of-supervision plots are about pre-trained encoders)."""
    from fairssl.errors import FairsslError
    from fairssl.finetune.setups import get_setup

    if setup == SUPERVISED or str(setup).startswith("random:"):
        return float("nan")
    try:
        return float(get_setup(str(setup), list(layer_names)).n_frozen)
    except FairsslError:
        return float("nan")


def supervision_table(
    comparison: pd.DataFrame,
    gaps: pd.DataFrame,
    *,
    layer_names: Sequence[str] = ("conv1", "conv2", "conv3"),
) -> pd.DataFrame:
    """Per setup: level of supervision (supervised, or n frozen layers), AUROC, parity deviation, AUROC gaps.

    ``comparison`` is :func:`setup_comparison`'s output, ``gaps`` :func:`auroc_gap_table`'s. Columns
    setup, level (``supervised`` or the number of frozen layers as text), frozen (float, NaN for
    supervised), auroc[_low/_high], parity_deviation, pd_low, pd_high and one ``gap_<attribute>`` column
    per attribute. Setups whose level is unknown (custom names) are left out.
    """
    if comparison.empty:
        return pd.DataFrame()
    out = comparison[["setup", "auroc", "auroc_low", "auroc_high", "parity_deviation", "pd_low", "pd_high"]]
    out = out.copy()
    out["frozen"] = [frozen_level(s, layer_names=layer_names) for s in out["setup"]]
    keep = (out["setup"] == SUPERVISED) | np.isfinite(out["frozen"])
    out = out[keep].copy()
    out.insert(
        1,
        "level",
        [
            SUPERVISED if s == SUPERVISED else f"{f:.0f}"
            for s, f in zip(out["setup"], out["frozen"], strict=True)
        ],
    )
    if gaps is not None and not gaps.empty:
        wide = gaps.pivot_table(index="setup", columns="attribute", values="gap", aggfunc="mean")
        wide.columns = [f"gap_{c}" for c in wide.columns]
        out = out.merge(wide, left_on="setup", right_index=True, how="left")
    return out.reset_index(drop=True)
