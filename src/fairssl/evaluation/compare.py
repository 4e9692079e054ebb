"""Across-seed aggregation and setup-vs-baseline tests.

Input is a long DataFrame with one row per (setup, seed, metric): columns ``setup``, ``seed``, ``metric``,
``value`` (e.g. the parity deviation and the AUROC of every run of the grid). Seeds are the experimental
unit: a comparison pairs a setup's run with the baseline's run of the same seed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from fairssl.errors import ConfigError, DataError

SEED_COLUMNS = ("setup", "seed", "metric", "value")
TESTS = ("wilcoxon", "ttest")
CORRECTIONS = ("holm", "bonferroni", "none")

HIGHER_IS_BETTER = frozenset({"auroc", "auprc", "accuracy", "balanced_accuracy", "f1"})
LOWER_IS_BETTER = frozenset({"parity_deviation"})


def _check_frame(df: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise DataError(
            f"expected a DataFrame with columns {', '.join(SEED_COLUMNS)}; got {type(df).__name__}"
        )
    missing = [c for c in SEED_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(
            f"the results table lacks column(s) {missing}; give one row per (setup, seed, metric) with "
            f"columns {', '.join(SEED_COLUMNS)}"
        )
    dup = df.duplicated(subset=["setup", "seed", "metric"])
    if dup.any():
        first = df.loc[dup, ["setup", "seed", "metric"]].iloc[0].tolist()
        raise DataError(
            f"{int(dup.sum())} duplicate (setup, seed, metric) rows, e.g. {first}; give one value per run"
        )
    out = df[list(SEED_COLUMNS)].copy()
    out["value"] = pd.to_numeric(out["value"], errors="coerce").astype(np.float64)
    return out


def t_interval(values: np.ndarray, *, confidence: float = 0.95) -> tuple[float, float]:
    """Student-t interval of the mean of (n,) values, NaN if n < 2.

    mean -/+ t_{(1+c)/2, n-1} * sd / sqrt(n) with sd the sample standard deviation (ddof 1).
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size < 2:
        return float("nan"), float("nan")
    half = stats.t.ppf(0.5 + confidence / 2, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size)
    return float(v.mean() - half), float(v.mean() + half)


def aggregate_seeds(df: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Mean, standard deviation and t interval over seeds for every (setup, metric).

    Args:
        df: long table with columns setup, seed, metric, value (NaN values are left out).
        confidence: level of the Student-t interval of the mean.

    Returns:
        DataFrame with columns setup, metric, n_seeds, mean, std (ddof 1), ci_low, ci_high, reason
        (``"single_seed"`` where std and the interval are NaN because only one seed has a value,
        ``"no_values"`` where none has).
    """
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must lie strictly between 0 and 1; got {confidence!r}")
    data = _check_frame(df)
    rows = []
    for (setup, metric), grp in data.groupby(["setup", "metric"], sort=False):
        v = grp["value"].to_numpy()
        v = v[~np.isnan(v)]
        lo, hi = t_interval(v, confidence=confidence)
        reason = "no_values" if v.size == 0 else ("single_seed" if v.size == 1 else "")
        rows.append(
            {
                "setup": setup,
                "metric": metric,
                "n_seeds": int(v.size),
                "mean": float(v.mean()) if v.size else np.nan,
                "std": float(v.std(ddof=1)) if v.size > 1 else np.nan,
                "ci_low": lo,
                "ci_high": hi,
                "reason": reason,
            }
        )
    return pd.DataFrame(
        rows, columns=["setup", "metric", "n_seeds", "mean", "std", "ci_low", "ci_high", "reason"]
    )


def adjust_pvalues(p_values: np.ndarray, *, method: str = "holm") -> np.ndarray:
    """Family-wise correction of (m,) p values; NaN entries are left out of the family and stay NaN.

    ``holm``: sorted p_(1) <= ... <= p_(m), adjusted p_(i) = max_{j <= i} min(1, (m - j + 1) p_(j));
    ``bonferroni``: min(1, m p); ``none``: unchanged.
    """
    if method not in CORRECTIONS:
        raise ConfigError(f"correction must be one of {', '.join(CORRECTIONS)}; got {method!r}")
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    if m == 0 or method == "none":
        out[valid] = p[valid]
        return out
    if method == "bonferroni":
        out[valid] = np.minimum(1.0, m * p[valid])
        return out
    order = valid[np.argsort(p[valid], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])  # (m,) (m - j + 1) p_(j), j = 1..m
    out[order] = np.maximum.accumulate(scaled)
    return out


def _direction(metric: str, lower_is_better: bool | None) -> bool:
    if lower_is_better is not None:
        return bool(lower_is_better)
    if metric in LOWER_IS_BETTER:
        return True
    if metric in HIGHER_IS_BETTER:
        return False
    raise ConfigError(
        f"cannot tell whether lower or higher {metric!r} is better; pass lower_is_better=True or False"
    )


def paired_test(diff: np.ndarray, test: str) -> tuple[float, float, str]:
    """(statistic, p value, reason) of a two-sided paired test on differences (n,)."""
    if diff.size < 2:
        return np.nan, np.nan, "fewer_than_two_pairs"
    if np.all(diff == 0):
        return np.nan, np.nan, "all_differences_zero"
    if test == "ttest":
        if np.all(diff == diff[0]):
            return np.nan, np.nan, "constant_differences"
        res = stats.ttest_1samp(diff, 0.0)
    else:
        res = stats.wilcoxon(diff, zero_method="wilcox", alternative="two-sided")
    return float(res.statistic), float(res.pvalue), ""


def compare_to_baseline(
    df: pd.DataFrame,
    *,
    metric: str,
    baseline: str = "supervised",
    test: str = "wilcoxon",
    correction: str = "holm",
    lower_is_better: bool | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Each setup against the baseline on one metric, paired by seed.

    For every setup other than ``baseline``, the seeds both have are paired and d = value_setup -
    value_baseline. Reported: the mean difference with its t interval, a two-sided paired test (Wilcoxon
    signed-rank, exact for small n, or the paired t test) with family-wise correction over the setups,
    and the relative improvement of the seed means::

        lower is better (parity deviation):  (mean_baseline - mean_setup) / mean_baseline
        higher is better (AUROC):            (mean_setup - mean_baseline) / mean_baseline

    so a positive relative improvement always means the setup is better.

    Args:
        df: long table (columns setup, seed, metric, value).
        metric: the metric compared. lower_is_better: direction (inferred for parity_deviation and the
            performance metrics). test: ``"wilcoxon"`` or ``"ttest"``. correction: ``"holm"``,
            ``"bonferroni"`` or ``"none"``.

    Returns:
        DataFrame with columns setup, baseline, metric, n_pairs, mean_setup, mean_baseline,
        mean_difference, diff_ci_low, diff_ci_high, relative_improvement, statistic, p_value, p_adjusted,
        reason (``fewer_than_two_pairs`` e.g. with one seed, ``all_differences_zero``, ...: p is NaN).
    """
    if test not in TESTS:
        raise ConfigError(f"test must be one of {', '.join(TESTS)}; got {test!r}")
    if correction not in CORRECTIONS:
        raise ConfigError(f"correction must be one of {', '.join(CORRECTIONS)}; got {correction!r}")
    lower = _direction(metric, lower_is_better)
    data = _check_frame(df)
    data = data[(data["metric"] == metric) & data["value"].notna()]
    if data.empty:
        raise DataError(
            f"no values for metric {metric!r}; the table's metrics are {sorted(df['metric'].unique())}"
        )
    setups = list(dict.fromkeys(data["setup"]))
    if baseline not in setups:
        raise DataError(
            f"baseline {baseline!r} has no {metric!r} values; setups present: {setups}: "
            "name the baseline setup"
        )
    base = data[data["setup"] == baseline].set_index("seed")["value"]
    rows = []
    for setup in setups:
        if setup == baseline:
            continue
        own = data[data["setup"] == setup].set_index("seed")["value"]
        seeds = own.index.intersection(base.index)
        a = own.loc[seeds].to_numpy()
        b = base.loc[seeds].to_numpy()
        diff = a - b
        lo, hi = t_interval(diff, confidence=confidence)
        statistic, p_value, reason = paired_test(diff, test)
        mean_a = float(a.mean()) if a.size else np.nan
        mean_b = float(b.mean()) if b.size else np.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            gain = (mean_b - mean_a) if lower else (mean_a - mean_b)
            rel = gain / mean_b if mean_b != 0 else np.nan
        rows.append(
            {
                "setup": setup,
                "baseline": baseline,
                "metric": metric,
                "n_pairs": int(diff.size),
                "mean_setup": mean_a,
                "mean_baseline": mean_b,
                "mean_difference": float(diff.mean()) if diff.size else np.nan,
                "diff_ci_low": lo,
                "diff_ci_high": hi,
                "relative_improvement": float(rel),
                "statistic": statistic,
                "p_value": p_value,
                "reason": reason if diff.size else "no_common_seeds",
            }
        )
    out = pd.DataFrame(rows)
    if out.empty:
        raise DataError(f"only the baseline {baseline!r} has {metric!r} values; add at least one other setup")
    out.insert(
        len(out.columns) - 1, "p_adjusted", adjust_pvalues(out["p_value"].to_numpy(), method=correction)
    )
    return out
