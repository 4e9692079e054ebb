"""Each setup against the supervised baseline: the comparison table and the best trade-off.

:func:`setup_comparison` orders the stored ``results/comparison.csv`` (one row per setup, computed by
:mod:`fairssl.evaluation.inference`: values over seeds and test subjects, paired changes, corrected tests,
verdicts and power); the report never recomputes an interval. :func:`best_tradeoff` picks the SSL setup
the report's headline is about.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fairssl.evaluation.verdicts import SETUP_COLUMNS
from fairssl.report.conventions import SUPERVISED, VARIANT, numeric_column, setup_order, split_variants

MAX_AUROC_DROP = 0.01
"""Default AUROC cost (1 point) a setup may have and still count as a good trade-off (the paper's ~1%)."""


VERDICTS = (
    "baseline",
    "fairer",
    "less_fair",
    "not_distinguishable",
    "at_chance",
    "one_seed",
    "not_tested",
    "no_interval",
    "no_baseline",
)
"""``verdict`` of a setup's parity-deviation change against supervised, as decided by
:func:`fairssl.evaluation.inference.study_inference` (``baseline`` for supervised itself; ``no_baseline``
when the study has none)."""

COMPARISON_COLUMNS = list(SETUP_COLUMNS)


def setup_comparison(comparison: pd.DataFrame) -> pd.DataFrame:
    """The stored per-setup comparison (``results/comparison.csv``), setups in :func:`setup_order`.

    Every number and verdict is the evaluation's (:func:`fairssl.evaluation.verdicts.setup_table`); this
    only orders the rows, fills ``verdict`` for the baseline and for studies without one, and keeps a
    grid's ``variant`` column first.
    """
    if comparison is None or comparison.empty or "setup" not in comparison.columns:
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    parts = split_variants(comparison)
    if len(parts) > 1:
        frames = [setup_comparison(rows).assign(**{VARIANT: name}) for name, rows in parts]
        out = pd.concat(frames, ignore_index=True)
        return out[[VARIANT, *COMPARISON_COLUMNS]]
    data = comparison.drop(columns=[VARIANT], errors="ignore").copy()
    data["setup"] = data["setup"].astype(str)
    rank = {s: i for i, s in enumerate(setup_order(data["setup"].unique()))}
    data = data.sort_values("setup", key=lambda c: c.map(rank), kind="stable").reset_index(drop=True)
    data = data.reindex(columns=COMPARISON_COLUMNS)
    has_base = bool((data["setup"] == SUPERVISED).any())
    verdict = data["verdict"].astype(object)
    filled = verdict.notna() & (verdict.astype(str) != "")
    verdict = verdict.where(filled, "no_baseline" if not has_base else "")
    verdict[data["setup"] == SUPERVISED] = "baseline"
    data["verdict"] = verdict
    if "kind" in data:
        data["kind"] = data["kind"].where(data["kind"].notna(), "ssl")
    return data


def best_tradeoff(comparison: pd.DataFrame, *, max_auroc_drop: float = MAX_AUROC_DROP) -> str | None:
    """The SSL setup with the best fairness-performance trade-off, or None when none can be compared.

    Among SSL setups (not supervised, not ``random:`` controls; setups at chance only when every one is)
    with a finite ``improvement``, those whose mean AUROC change is at least ``-max_auroc_drop`` are
    eligible (all of them when none is); the one with the largest mean relative improvement wins (ties: the
    smaller AUROC cost, then the name).
    """
    if comparison.empty:
        return None
    if "kind" in comparison:
        is_ssl = comparison["kind"].astype(str) == "ssl"
    else:
        is_ssl = comparison["setup"] != SUPERVISED
    ssl = comparison[is_ssl & np.isfinite(numeric_column(comparison, "improvement"))]
    if "verdict" in ssl and (ssl["verdict"].astype(str) != "at_chance").any():
        ssl = ssl[ssl["verdict"].astype(str) != "at_chance"]  # a model at chance is no trade-off
    if ssl.empty:
        return None
    change = numeric_column(ssl, "auroc_change")
    eligible = ssl[np.nan_to_num(change, nan=-np.inf) >= -max_auroc_drop - 1e-12]
    pool = eligible if not eligible.empty else ssl
    ranked = pool.assign(
        _imp=numeric_column(pool, "improvement"),
        _auc=np.nan_to_num(numeric_column(pool, "auroc_change"), nan=-np.inf),
    ).sort_values(["_imp", "_auc", "setup"], ascending=[False, False, True], kind="stable")
    return str(ranked.iloc[0]["setup"])
