"""Summaries of conditioned CKA's draws: per-group mean and spread, the permutation bound, best vs worst.

The summarising half of :mod:`fairssl.similarity.conditioned`:

- :func:`summarise_conditioned`: mean, spread and permutation baseline per attribute, group, layer pair;
- :func:`best_worst_difference`: best- minus worst-performing group's CKA against the permutation bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from fairssl.errors import ConfigError, DataError
from fairssl.similarity.group_sampling import LONG_COLUMNS, PERMUTATION

__all__ = ["best_worst_difference", "summarise_conditioned"]


def _pairwise_abs_diff_quantile(values: np.ndarray, q: float) -> float:
    """The q-quantile of |v_i - v_j| over pairs i < j of permutation draws (NaN with fewer than 2)."""
    if values.size < 2:
        return float("nan")
    i, j = np.triu_indices(values.size, k=1)
    return float(np.quantile(np.abs(values[i] - values[j]), q))


def _permutation_critical(spreads: np.ndarray, confidence: float) -> float:
    """The permutation test's critical value from m permutation statistics (m,): the k-th smallest with
    k = ceil(confidence (m + 1)), so an observed statistic above it has permutation p = (1 + #{perm >=
    obs}) / (m + 1) <= 1 - confidence (a valid test for exchangeable labels). +inf when m is too small
    for that (m < confidence / (1 - confidence), e.g. fewer than 19 permutations at 95%)."""
    v = np.sort(spreads[np.isfinite(spreads)])
    k = int(np.ceil(confidence * (v.size + 1) - 1e-9))
    return float(v[k - 1]) if 1 <= k <= v.size else float("inf")


def summarise_conditioned(long_df: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Summarise :func:`~fairssl.similarity.conditioned.conditioned_cka`'s draws per attribute, group, layers.

    Returns one row per (attribute, group, layer_a, layer_b), the permutation baseline's rows included,
    with ``n``, ``n_draws``, ``cka_mean``, ``cka_std`` (over draws), ``ci_low``/``ci_high`` (the central
    ``confidence`` percentile interval of the draws: the spread due to which n windows of the group were
    sampled, not a population confidence interval), and the attribute's permutation baseline for that
    layer pair: ``perm_mean``, ``perm_low``/``perm_high`` (percentile interval over permutation draws) and
    ``perm_diff_bound``: with subject permutations (``perm_draw`` >= 0), the permutation test's critical
    value (:func:`_permutation_critical`; +inf with fewer than 19 permutations at 95%) of the largest
    |CKA_g - CKA_h| between the disjoint pseudo-groups of one permutation (how far apart groups of the same
    sizes already are when labels mean nothing); otherwise the quantile of |CKA_i - CKA_j| over pairs of
    window draws. Permutation columns are NaN without
    permutation draws (fewer than 2 for ``perm_diff_bound``).
    """
    missing = [c for c in LONG_COLUMNS[:-1] if c not in getattr(long_df, "columns", [])]  # perm_draw optional
    if not isinstance(long_df, pd.DataFrame) or missing:
        raise DataError(
            f"long_df must be the DataFrame returned by conditioned_cka; missing columns {missing}; "
            "pass conditioned_cka(...)'s result"
        )
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence!r}; pass e.g. 0.95")
    lo, hi = (1.0 - confidence) / 2.0, 1.0 - (1.0 - confidence) / 2.0
    long_df = long_df.astype({"cka": float})  # no used group at all: an empty, object-typed frame
    keys = ["attribute", "group", "layer_a", "layer_b"]
    grouped = long_df.groupby(keys, sort=False)["cka"]
    summary = pd.DataFrame(
        {
            "n": long_df.groupby(keys, sort=False)["n"].first(),
            "n_draws": grouped.count(),
            "cka_mean": grouped.mean(),
            "cka_std": grouped.std(ddof=1),
            "ci_low": grouped.quantile(lo),
            "ci_high": grouped.quantile(hi),
        }
    ).reset_index()
    perm = long_df[long_df["group"] == PERMUTATION]
    pkeys = ["attribute", "layer_a", "layer_b"]
    pgrouped = perm.groupby(pkeys, sort=False)["cka"]
    baseline = pd.DataFrame(
        {
            "perm_mean": pgrouped.mean(),
            "perm_low": pgrouped.quantile(lo),
            "perm_high": pgrouped.quantile(hi),
            "perm_diff_bound": pgrouped.apply(
                lambda s: _pairwise_abs_diff_quantile(s.to_numpy(dtype=float), confidence)
            ),
        }
    ).reset_index()
    by_subject = perm[perm.get("perm_draw", pd.Series(-1, index=perm.index)) >= 0] if len(perm) else perm
    if len(by_subject):  # subject permutations: spread of pseudo-groups within one permutation
        spread = by_subject.groupby([*pkeys, "perm_draw"], sort=False)["cka"].agg(lambda c: c.max() - c.min())
        bound = (
            spread.groupby(level=[0, 1, 2], sort=False)
            .agg(lambda c: _permutation_critical(c.to_numpy(dtype=float), confidence))
            .rename("perm_diff_bound")
        )
        baseline = baseline.drop(columns="perm_diff_bound").merge(bound.reset_index(), on=pkeys, how="left")
    if baseline.empty:
        baseline = pd.DataFrame(columns=[*pkeys, "perm_mean", "perm_low", "perm_high", "perm_diff_bound"])
    out = summary.merge(baseline, on=pkeys, how="left")
    for col in ("perm_mean", "perm_low", "perm_high", "perm_diff_bound"):
        out[col] = out[col].astype(float)
    return out


def _performance_dict(performance: Any) -> dict[str, dict[str, float]]:
    if isinstance(performance, pd.DataFrame):
        need = ["attribute", "group", "performance"]
        if any(c not in performance.columns for c in need):
            raise DataError(
                f"performance DataFrame must have columns {need}, got {list(performance.columns)}; "
                "pass one row per (attribute, group) with its performance value (e.g. AUROC)"
            )
        out: dict[str, dict[str, float]] = {}
        for a, g, v in performance[need].itertuples(index=False):
            out.setdefault(str(a), {})[str(g)] = float(v)
        return out
    if isinstance(performance, Mapping):
        return {str(a): {str(g): float(v) for g, v in groups.items()} for a, groups in performance.items()}
    raise DataError(
        f"performance must be a mapping attribute -> {{group: value}} or a DataFrame, got "
        f"{type(performance).__name__}; pass e.g. {{'sex': {{'F': 0.81, 'M': 0.85}}}}"
    )


def best_worst_difference(
    summary: pd.DataFrame, performance: Mapping[str, Mapping[str, float]] | pd.DataFrame
) -> pd.DataFrame:
    """Best- minus worst-performing group's CKA matrix for each attribute, against the permutation baseline.

    ``summary`` is :func:`summarise_conditioned`'s output. ``performance`` gives a per-group performance
    value where **higher is better** (e.g. AUROC): ``{attribute: {group: value}}`` or a DataFrame with
    columns ``attribute, group, performance``. For each attribute present in both, among its summarised
    groups that have a performance value, best = highest value and worst = lowest (ties broken by group
    name). Attributes without performance values are left out.

    Returns one row per (attribute, layer_a, layer_b): ``best_group, worst_group, perf_best, perf_worst,
    perf_gap`` (best minus worst, >= 0), ``cka_best, cka_worst`` (mean CKA over draws), ``diff`` =
    cka_best - cka_worst, ``perm_diff_bound`` (from the summary) and ``exceeds`` = |diff| >
    perm_diff_bound (False when there is no baseline). A conservative test: the bound is for two single
    random draws, while cka_best and cka_worst are means over draws.
    """
    need = ["attribute", "group", "layer_a", "layer_b", "cka_mean", "perm_diff_bound"]
    missing = [c for c in need if c not in getattr(summary, "columns", [])]
    if not isinstance(summary, pd.DataFrame) or missing:
        raise DataError(
            f"summary must be the DataFrame returned by summarise_conditioned; missing columns {missing}; "
            "pass summarise_conditioned(...)'s result"
        )
    perf = _performance_dict(performance)
    groups_df = summary[summary["group"] != PERMUTATION]
    rows = []
    for attribute, sub in groups_df.groupby("attribute", sort=False):
        attr = str(attribute)
        if attr not in perf:
            continue
        candidates = sorted(g for g in sub["group"].unique() if g in perf[attr])
        if len(candidates) < 2:
            raise DataError(
                f"attribute {attr!r} has performance values for {candidates} of its summarised groups "
                f"{sorted(sub['group'].unique())}; give a performance value for at least two of them"
            )
        best = min(candidates, key=lambda g: (-perf[attr][g], g))
        worst = min((g for g in candidates if g != best), key=lambda g: (perf[attr][g], g))
        b = sub[sub["group"] == best].set_index(["layer_a", "layer_b"])
        w = sub[sub["group"] == worst].set_index(["layer_a", "layer_b"])
        for (layer_a, layer_b), row in b.iterrows():
            cka_best = float(row["cka_mean"])
            cka_worst = float(w.loc[(layer_a, layer_b), "cka_mean"])
            diff = cka_best - cka_worst
            bound = float(row["perm_diff_bound"])
            rows.append(
                {
                    "attribute": attr,
                    "best_group": best,
                    "worst_group": worst,
                    "perf_best": perf[attr][best],
                    "perf_worst": perf[attr][worst],
                    "perf_gap": perf[attr][best] - perf[attr][worst],
                    "layer_a": layer_a,
                    "layer_b": layer_b,
                    "cka_best": cka_best,
                    "cka_worst": cka_worst,
                    "diff": diff,
                    "perm_diff_bound": bound,
                    "exceeds": bool(abs(diff) > bound),
                }
            )
    if not rows:
        raise DataError(
            f"no attribute of the summary {sorted(groups_df['attribute'].unique())} has performance values "
            f"(got attributes {sorted(perf)}); key performance by the same attribute names"
        )
    return pd.DataFrame(rows)
