"""Each setup against the supervised baseline: the comparison table and the best trade-off.

:func:`setup_comparison` turns ``results/summary.csv`` (one row per fine-tuning run) into one row per
setup: mean AUROC and parity deviation over seeds, the paired change against the supervised run of the
same seed, the relative parity-deviation improvement and a verdict (:data:`VERDICTS`) from its interval
(intervals as in :mod:`fairssl.report.intervals`). :func:`best_tradeoff` picks the SSL setup the report's
headline is about.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fairssl.evaluation.compare import adjust_pvalues, paired_test
from fairssl.report.conventions import SUPERVISED, VARIANT, numeric_column, setup_order, split_variants
from fairssl.report.intervals import CONFIDENCE, seed_interval

MAX_AUROC_DROP = 0.01
"""Default AUROC cost (1 point) a setup may have and still count as a good trade-off (the paper's ~1%)."""


VERDICTS = ("baseline", "fairer", "not_distinguishable", "less_fair", "no_interval", "no_baseline")
"""``verdict`` of :func:`setup_comparison`: the relative improvement's interval lies above 0 (fairer), below
0 (less fair), includes 0 (not distinguishable), is missing (no interval) or cannot be computed."""

COMPARISON_COLUMNS = [
    "setup",
    "n_seeds",
    "auroc",
    "auroc_low",
    "auroc_high",
    "auroc_ci",
    "parity_deviation",
    "pd_low",
    "pd_high",
    "pd_ci",
    "n_pairs",
    "auroc_change",
    "auroc_change_low",
    "auroc_change_high",
    "pd_change",
    "pd_change_low",
    "pd_change_high",
    "auroc_change_p",
    "pd_change_p",
    "improvement",
    "improvement_low",
    "improvement_high",
    "improvement_ci",
    "verdict",
]


def _verdict(low: float, high: float) -> str:
    """The :data:`VERDICTS` entry of an improvement interval [low, high] (> 0 is fairer)."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return "no_interval"
    if low > 0:
        return "fairer"
    if high < 0:
        return "less_fair"
    return "not_distinguishable"


def setup_comparison(summary: pd.DataFrame, *, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """One row per setup: AUROC, parity deviation and the change against supervised, with intervals.

    Args:
        summary: ``results/summary.csv`` (columns setup, seed, auroc[, auroc_low, auroc_high],
            parity_deviation[, pd_low, pd_high, improvement, auroc_difference_diff[_low/_high],
            parity_deviation_difference_diff[_low/_high], relative_improvement_diff[_low/_high]]).
        confidence: level of the across-seed Student-t intervals.

    Returns:
        DataFrame with :data:`COMPARISON_COLUMNS`, setups in :func:`setup_order`. Per setup: the mean over
        seeds of AUROC and parity deviation (PD, ideal 0, higher is less fair) with their intervals. For a
        setup other than supervised, over the seeds both have (``n_pairs``): ``auroc_change`` = mean of
        AUROC_setup - AUROC_supervised (> 0: more accurate), ``pd_change`` = mean of PD_setup - PD_sup
        (< 0: fairer) and ``improvement`` = (mean PD_sup - mean PD_setup) / mean PD_sup (> 0: fairer; 0.28
        = 28% lower PD; consistent with the two means shown beside it). Intervals are across-seed t
        intervals of the paired differences with >= 2 pairs (the improvement's is the PD difference's
        divided by mean PD_sup, treating the baseline mean as fixed), else the run's paired bootstrap
        interval (see :mod:`fairssl.report.intervals`; ``improvement_ci`` names the source). Intervals are
        clipped to the quantity's range (AUROC [0, 1], PD >= 0, AUROC change [-1, 1], improvement <= 1).
        ``verdict``: see :data:`VERDICTS`. ``auroc_change_p`` / ``pd_change_p``: two-sided paired t-test of
        the same per-seed differences (the test behind the intervals; >= 2 pairs), Holm-adjusted over the
        setups compared with supervised. (``results/tests.csv`` holds the Wilcoxon signed-rank test, which
        cannot go below p = 0.0625 with 5 pairs.)
    """
    if summary is None or summary.empty or "setup" not in summary.columns:
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    parts = split_variants(summary)
    if len(parts) > 1:
        frames = [
            setup_comparison(rows, confidence=confidence).assign(**{VARIANT: name}) for name, rows in parts
        ]
        out = pd.concat(frames, ignore_index=True)
        return out[[VARIANT, *COMPARISON_COLUMNS]]
    data = summary.copy()
    data["setup"] = data["setup"].astype(str)
    if "seed" not in data.columns:
        data["seed"] = 0
    data = data.sort_values(["setup", "seed"], kind="stable")  # sums in one order: invariant to row order
    sup = data[data["setup"] == SUPERVISED].drop_duplicates("seed").set_index("seed")
    rows = []
    for setup in setup_order(data["setup"].unique()):
        own = data[data["setup"] == setup].drop_duplicates("seed")
        auroc = seed_interval(
            numeric_column(own, "auroc"),
            numeric_column(own, "auroc_low"),
            numeric_column(own, "auroc_high"),
            confidence=confidence,
        )
        pdev = seed_interval(
            numeric_column(own, "parity_deviation"),
            numeric_column(own, "pd_low"),
            numeric_column(own, "pd_high"),
            confidence=confidence,
        )
        auroc = (auroc[0], *np.clip(auroc[1:3], 0.0, 1.0), *auroc[3:])
        pdev = (pdev[0], *np.clip(pdev[1:3], 0.0, None), *pdev[3:])
        row: dict[str, Any] = {
            "setup": setup,
            "n_seeds": int(own["seed"].nunique()),
            "auroc": auroc[0],
            "auroc_low": auroc[1],
            "auroc_high": auroc[2],
            "auroc_ci": auroc[3],
            "parity_deviation": pdev[0],
            "pd_low": pdev[1],
            "pd_high": pdev[2],
            "pd_ci": pdev[3],
        }
        if setup == SUPERVISED:
            row.update(n_pairs=0, improvement_ci="none", verdict="baseline")
        elif sup.empty:
            row.update(n_pairs=0, improvement_ci="none", verdict="no_baseline")
        else:
            paired = own[own["seed"].isin(sup.index)]
            base = sup.loc[paired["seed"].to_numpy()]
            pd_own, pd_sup = (
                numeric_column(paired, "parity_deviation"),
                numeric_column(base, "parity_deviation"),
            )
            auroc_d = numeric_column(paired, "auroc") - numeric_column(base, "auroc")
            pd_d = pd_own - pd_sup
            ach = seed_interval(
                auroc_d,
                numeric_column(paired, "auroc_difference_diff_low"),
                numeric_column(paired, "auroc_difference_diff_high"),
                confidence=confidence,
            )
            pch = seed_interval(
                pd_d,
                numeric_column(paired, "parity_deviation_difference_diff_low"),
                numeric_column(paired, "parity_deviation_difference_diff_high"),
                confidence=confidence,
            )
            ok = np.isfinite(pd_d)
            mean_sup = float(pd_sup[ok].mean()) if ok.any() else np.nan
            if pch[4] == 1:  # one pair: the run's paired bootstrap of the relative improvement itself
                i = int(np.flatnonzero(ok)[0])
                rel_v = float(-pd_d[i] / pd_sup[i]) if pd_sup[i] != 0 else np.nan
                lo_v = float(numeric_column(paired, "relative_improvement_diff_low")[i])
                hi_v = float(numeric_column(paired, "relative_improvement_diff_high")[i])
                source = "bootstrap" if np.isfinite(lo_v) and np.isfinite(hi_v) else "none"
                imp = (rel_v, lo_v, hi_v, source, 1)
            elif pch[4] >= 2 and mean_sup > 0:  # ratio of means; t interval of the paired differences
                imp = (-pch[0] / mean_sup, -pch[2] / mean_sup, -pch[1] / mean_sup, "seeds", pch[4])
            else:
                imp = (np.nan, np.nan, np.nan, "none", pch[4])
            ach = (ach[0], *np.clip(ach[1:3], -1.0, 1.0), *ach[3:])  # AUROC differences lie in [-1, 1]
            row.update(auroc_change_p=_paired_t_p(auroc_d), pd_change_p=_paired_t_p(pd_d))
            imp = (imp[0], *np.clip(imp[1:3], None, 1.0), *imp[3:])  # PD >= 0: at most 100% lower
            row.update(
                n_pairs=imp[4],
                auroc_change=ach[0],
                auroc_change_low=ach[1],
                auroc_change_high=ach[2],
                pd_change=pch[0],
                pd_change_low=pch[1],
                pd_change_high=pch[2],
                improvement=imp[0],
                improvement_low=imp[1],
                improvement_high=imp[2],
                improvement_ci=imp[3],
                verdict="no_baseline" if imp[4] == 0 else _verdict(imp[1], imp[2]),
            )
        rows.append(row)
    out = pd.DataFrame(rows).reindex(columns=COMPARISON_COLUMNS)
    for col in ("auroc_change_p", "pd_change_p"):
        out[col] = adjust_pvalues(
            pd.to_numeric(out[col], errors="coerce").to_numpy(dtype=float), method="holm"
        )
    return out


def _paired_t_p(differences: np.ndarray) -> float:
    """Two-sided paired t-test p of the finite paired differences (n,) (NaN: fewer than 2, or no spread)."""
    return paired_test(differences[np.isfinite(differences)], "ttest")[1]


def best_tradeoff(comparison: pd.DataFrame, *, max_auroc_drop: float = MAX_AUROC_DROP) -> str | None:
    """The SSL setup with the best fairness-performance trade-off, or None when none can be compared.

    Among setups other than supervised with a finite ``improvement``, those whose mean AUROC change is at
    least ``-max_auroc_drop`` are eligible (all of them when none is); the one with the largest mean
    relative improvement wins (ties: the smaller AUROC cost, then the name).
    """
    if comparison.empty:
        return None
    ssl = comparison[
        (comparison["setup"] != SUPERVISED) & np.isfinite(numeric_column(comparison, "improvement"))
    ]
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
