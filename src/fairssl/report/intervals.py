"""The report's 95% intervals: across seeds where two or more seeds have a value, else one run's bootstrap.

Two kinds of interval appear, and every table says which one it holds (``*_ci`` / ``ci`` column):

- ``seeds``: Student-t interval of the mean over seeds on the one test set: it covers training
  randomness only, NOT test sampling (all seeds are scored on the same test subjects); used whenever at
  least two seeds have a value. The study's verdicts never rest on it: they come from
  :mod:`fairssl.evaluation.inference`, which covers both.
- ``bootstrap``: the percentile interval of one run's subject-level bootstrap on the test set (test
  sampling only; ``analyse`` stores it as ``*_low``/``*_high``); used when only one seed has a value.
- ``none``: one seed and no bootstrap (``evaluation.n_boot = 0``): no interval.

Intervals are clipped to the range the quantity can take (:func:`metric_range`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fairssl.report.conventions import numeric_column

CONFIDENCE = 0.95
"""Level of every across-seed interval of the report."""

_UNIT_INTERVAL = frozenset({"auroc", "auprc", "accuracy", "balanced_accuracy", "f1"})


def metric_range(metric: str) -> tuple[float, float]:
    """The range a metric's value (and so its interval) can take: [0, 1] for performance metrics,
    [0, inf) for ratios and parity deviation, [-1, 1] for differences of rates."""
    if metric in _UNIT_INTERVAL:
        return 0.0, 1.0
    if metric == "parity_deviation" or metric.endswith("_ratio") or metric == "disparate_impact":
        return 0.0, np.inf
    if metric.endswith("_difference"):
        return -1.0, 1.0
    return -np.inf, np.inf


def collapse_seeds(rows: pd.DataFrame, keys: list[str], *, confidence: float) -> pd.DataFrame:
    """Per ``keys``: mean estimate over seeds and its interval (t over seeds, else the run's bootstrap).

    ``rows`` holds long results rows (estimate, ci_low, ci_high, n_group, n_reference[, reason]). The same
    rule per group: with n >= 2 finite estimates, mean -/+
    t_{(1+c)/2, n-1} sd / sqrt(n); with n = 1 the stored interval of that run; intervals clipped to
    :func:`metric_range` when ``metric`` is a key. Returns ``keys`` + n_group, n_reference, n_seeds,
    n_runs, estimate, ci_low, ci_high, ci (seeds | bootstrap | none), reason (``;``-joined codes seen).
    """
    cols = [
        *keys,
        "n_group",
        "n_reference",
        "n_seeds",
        "n_runs",
        "estimate",
        "ci_low",
        "ci_high",
        "ci",
        "reason",
    ]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    from scipy import stats

    data = rows[keys].copy()
    est = numeric_column(rows, "estimate")
    ok = np.isfinite(est)
    data["_est"] = np.where(ok, est, np.nan)
    data["_ok"] = ok.astype(np.int64)
    data["_lo1"] = np.where(ok, numeric_column(rows, "ci_low"), np.nan)
    data["_hi1"] = np.where(ok, numeric_column(rows, "ci_high"), np.nan)
    data["_ng"] = numeric_column(rows, "n_group")
    data["_nr"] = numeric_column(rows, "n_reference")
    data["_reason"] = rows["reason"].fillna("").astype(str).to_numpy() if "reason" in rows else ""
    g = data.groupby(keys, sort=False, dropna=False)
    agg = g.agg(
        n_group=("_ng", "max"),
        n_reference=("_nr", "max"),
        n_seeds=("_ok", "sum"),
        n_runs=("_ok", "size"),
        estimate=("_est", "mean"),
        sd=("_est", "std"),
        lo1=("_lo1", "first"),
        hi1=("_hi1", "first"),
        reason=("_reason", lambda r: ";".join(sorted({x for x in r if x}))),
    ).reset_index()
    n = agg["n_seeds"].to_numpy(dtype=np.float64)
    mean = agg["estimate"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1)) * agg["sd"].to_numpy() / np.sqrt(n)
    multi = n >= 2
    lo = np.where(multi, mean - half, np.where(n == 1, agg["lo1"], np.nan))
    hi = np.where(multi, mean + half, np.where(n == 1, agg["hi1"], np.nan))
    if "metric" in keys:
        ranges = np.array([metric_range(str(m)) for m in agg["metric"]]).reshape(-1, 2)  # (groups, 2)
        lo = np.clip(lo, ranges[:, 0], ranges[:, 1])
        hi = np.clip(hi, ranges[:, 0], ranges[:, 1])
    agg["ci_low"], agg["ci_high"] = lo, hi
    single_ok = (n == 1) & np.isfinite(lo) & np.isfinite(hi)
    agg["ci"] = np.where(multi, "seeds", np.where(single_ok, "bootstrap", "none"))
    agg["n_group"] = agg["n_group"].fillna(-1).astype(np.int64)
    agg["n_reference"] = agg["n_reference"].fillna(-1).astype(np.int64)
    agg["n_seeds"] = agg["n_seeds"].astype(np.int64)
    return agg[cols]
