"""CKA between two models' layers conditioned on demographic groups (stage 4 of the study).

For each protected attribute and each of its groups, the layer-by-layer debiased CKA matrix between
model a (e.g. the supervised model) and model b (e.g. an SSL model) is computed on the group's windows.
Unlike the reference code (paper.md, defect 8) every group of an attribute is compared at the **same**
sample size n, drawn **at random** (several draws, not the first rows), and set against a permutation
baseline: random sets of the same n windows drawn regardless of group. A best-vs-worst group difference is
only a signal where it exceeds what two random sets of windows already differ by.

Pipeline::

    long = conditioned_cka(acts_a, acts_b, sensitive_features)   # one row per draw and layer pair
    summary = summarise_conditioned(long)                         # mean, spread, permutation baseline
    diff = best_worst_difference(summary, performance)            # best minus worst group, per attribute
    ratio = dissimilarity_ratio(diff)                             # the paper's "up to 13x" quantity
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from fairssl.data.dataset import MISSING, normalise_attributes
from fairssl.errors import ConfigError, DataError
from fairssl.similarity.cka import cka_matrix, kernel_cka_matrix, linear_kernels

__all__ = [
    "PERMUTATION",
    "DissimilarityRatio",
    "best_worst_difference",
    "conditioned_cka",
    "dissimilarity_ratio",
    "group_table",
    "summarise_conditioned",
]

REFERENCE_SETUP = "supervised~supervised"
"""Setup name of the reference level in the stored CKA tables: a supervised model against the supervised
model of another seed, analysed like an SSL model (what two models that differ only by seed show)."""

PERMUTATION = "__permutation__"
"""The ``group`` value of the permutation baseline's rows."""

KERNEL_BYTES_LIMIT = 2**30
"""Up to this many bytes of N x N float64 kernels (all layers of both models), every draw is gathered from
kernels computed once (O(n^2) per draw); beyond it each draw recomputes its features' statistics."""

_LONG_COLUMNS = ["attribute", "group", "n", "draw", "layer_a", "layer_b", "cka", "perm_draw"]


# ---------------------------------------------------------------------------------------------- groups
def _check_int(value: Any, name: str, minimum: int, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}; {hint}")
    return int(value)


def _attribute_values(column: pd.Series) -> np.ndarray:
    """The column as the data contract normalises it (:func:`~fairssl.data.dataset.normalise_attributes`:
    text stripped of surrounding spaces, NaN/None/'' as :data:`MISSING`), so 'male ' and 'male' are one
    group here as in the fairness metrics."""
    frame = normalise_attributes(column.to_frame(name="a"))
    return frame["a"].astype(str).to_numpy(dtype=object)


def group_table(
    sensitive_features: pd.DataFrame,
    *,
    n_per_group: int | None = None,
    min_group_size: int = 30,
    include_missing: bool = False,
) -> pd.DataFrame:
    """Which groups :func:`conditioned_cka` uses, which it skips, and the common sample size n.

    Returns one row per (attribute, group): ``attribute``, ``group``, ``size`` (windows in the group),
    ``status`` (``"used"``, ``"too_small"``: fewer than ``min_group_size`` windows, or
    ``"missing_excluded"``: the explicit ``"missing"`` group while ``include_missing`` is False) and ``n``,
    the attribute's common sample size: the smallest size among its used groups, capped by ``n_per_group``
    (0 when no group is used).
    """
    if not isinstance(sensitive_features, pd.DataFrame) or sensitive_features.shape[1] == 0:
        raise DataError(
            "sensitive_features must be a DataFrame with one column per protected attribute, got "
            f"{type(sensitive_features).__name__} with shape {getattr(sensitive_features, 'shape', '?')}; "
            "pass e.g. WindowDataset.attributes"
        )
    min_group_size = _check_int(min_group_size, "min_group_size", 4, "pass e.g. 30")
    if n_per_group is not None:
        n_per_group = _check_int(
            n_per_group, "n_per_group", 4, "pass e.g. 200 or None for the smallest group"
        )
    rows = []
    for attribute in sensitive_features.columns:
        values = _attribute_values(sensitive_features[attribute])
        groups, sizes = np.unique(values, return_counts=True)
        statuses = [
            "missing_excluded"
            if g == MISSING and not include_missing
            else ("too_small" if s < min_group_size else "used")
            for g, s in zip(groups, sizes, strict=True)
        ]
        used = [int(s) for s, st in zip(sizes, statuses, strict=True) if st == "used"]
        n = min(used) if used else 0
        if n_per_group is not None:
            n = min(n, n_per_group)
        rows += [
            {"attribute": str(attribute), "group": str(g), "size": int(s), "status": st, "n": n}
            for g, s, st in zip(groups, sizes, statuses, strict=True)
        ]
    return pd.DataFrame(rows, columns=["attribute", "group", "size", "status", "n"])


def _rng(seed: int, attribute: str, group: str) -> np.random.Generator:
    """A generator that depends only on (seed, attribute, group), not on the other groups present."""
    return np.random.default_rng([seed, zlib.crc32(attribute.encode()), zlib.crc32(group.encode())])


def _check_acts(acts: Mapping[str, Any], name: str, n_rows: int) -> dict[str, np.ndarray]:
    if not isinstance(acts, Mapping) or len(acts) == 0:
        raise DataError(
            f"{name} must be a non-empty mapping of layer name -> activations (n, features), got "
            f"{type(acts).__name__}; pass e.g. the dict returned by capture_activations"
        )
    out = {}
    for layer, values in acts.items():
        arr = np.asarray(values)
        if arr.ndim < 2 or arr.shape[0] != n_rows:
            raise DataError(
                f"{name}[{layer!r}] has shape {arr.shape} but sensitive_features has {n_rows} rows; row i of "
                "every activation array must be window i of sensitive_features"
            )
        out[str(layer)] = arr
    return out


def _long_rows(
    matrix: pd.DataFrame, attribute: str, group: str, n: int, draw: int, perm_draw: int = -1
) -> pd.DataFrame:
    """A (layers_a, layers_b) CKA matrix as layers_a * layers_b long rows (row-major). ``perm_draw``: the
    subject permutation a pseudo-group row belongs to (-1 otherwise)."""
    n_a, n_b = matrix.shape
    return pd.DataFrame(
        {
            "attribute": attribute,
            "group": group,
            "n": n,
            "draw": draw,
            "layer_a": np.repeat(matrix.index.to_numpy(dtype=object), n_b),  # (n_a * n_b,)
            "layer_b": np.tile(matrix.columns.to_numpy(dtype=object), n_a),  # (n_a * n_b,)
            "cka": matrix.to_numpy(dtype=float).reshape(-1),  # (n_a, n_b) -> (n_a * n_b,)
            "perm_draw": perm_draw,
        }
    )


# ---------------------------------------------------------------------------------------------- main
def conditioned_cka(
    acts_a: Mapping[str, Any],
    acts_b: Mapping[str, Any],
    sensitive_features: pd.DataFrame,
    *,
    n_per_group: int | None = None,
    n_draws: int = 10,
    n_permutations: int = 20,
    min_group_size: int = 30,
    include_missing: bool = False,
    debiased: bool = True,
    seed: int = 0,
    subjects: np.ndarray | None = None,
) -> pd.DataFrame:
    """Layer-by-layer CKA between two models on equal-size random samples of each demographic group.

    ``acts_a[layer]`` (N, p_layer) and ``acts_b[layer]`` (N, q_layer) are the activations of the two models
    on the same N windows; row i belongs to row i of ``sensitive_features`` (N rows, one column per
    protected attribute; ``"missing"`` or NaN is the explicit missing group). Alignment is by row order:
    pass the attribute rows of exactly the windows the activations were captured on, in that order
    (e.g. ``dataset.attributes.loc[window_ids]``).

    For each attribute: the groups with at least ``min_group_size`` windows are used (the missing group
    only if ``include_missing``); n = the smallest used group's size, capped by ``n_per_group``, is the
    **same for every group of the attribute**. Each used group gets ``n_draws`` draws of n of its windows
    (uniformly at random without replacement; if the group has exactly n windows every draw is the whole
    group), and the permutation baseline (group ``"__permutation__"``) gets ``n_permutations`` draws of n
    windows of a pseudo-group. With ``subjects`` (N,) (recommended), group labels are permuted **between
    subjects**: each draw shuffles the subjects' labels (each subject keeps one label: its most frequent
    window value), and draws n windows from the subjects now carrying a used group's label (cycling over
    the used groups), so the null keeps the real groups' clustering of windows within persons. Without
    ``subjects`` the draws take n windows from all N at random, which ignores that clustering and gives a
    too-narrow baseline when windows of one person are alike. Each draw gives a :func:`cka_matrix`
    (debiased by default; the biased estimate grows as n shrinks, so compare biased values only at equal
    n). Draws depend only on (seed, attribute, group), so results are reproducible and adding an attribute
    does not change another's draws.

    Returns a long DataFrame with columns ``attribute, group, n, draw, layer_a, layer_b, cka``.
    Skipped groups are listed in ``result.attrs["skipped"]`` as records
    ``{"attribute", "group", "size", "status"}`` (status ``"too_small"`` or ``"missing_excluded"``);
    :func:`group_table` returns the full table of used and skipped groups as a DataFrame.
    """
    table = group_table(
        sensitive_features,
        n_per_group=n_per_group,
        min_group_size=min_group_size,
        include_missing=include_missing,
    )
    n_draws = _check_int(n_draws, "n_draws", 1, "pass e.g. 10")
    n_permutations = _check_int(n_permutations, "n_permutations", 0, "pass e.g. 20 (0 skips the baseline)")
    seed = _check_int(seed, "seed", 0, "pass a non-negative integer")
    n_rows = len(sensitive_features)
    arrays_a = _check_acts(acts_a, "acts_a", n_rows)
    arrays_b = _check_acts(acts_b, "acts_b", n_rows)

    n_layers = len(arrays_a) + len(arrays_b)
    if n_rows * n_rows * 8 * n_layers <= KERNEL_BYTES_LIMIT:  # every draw gathers from N x N kernels
        grams_a, grams_b = linear_kernels(arrays_a), linear_kernels(arrays_b)

        def cka_on(idx: np.ndarray) -> pd.DataFrame:
            return kernel_cka_matrix(grams_a, grams_b, idx, debiased=debiased)

    else:  # too many windows for N x N kernels: features of each draw

        def cka_on(idx: np.ndarray) -> pd.DataFrame:
            return cka_matrix(
                {k: v[idx] for k, v in arrays_a.items()},
                {k: v[idx] for k, v in arrays_b.items()},
                debiased=debiased,
            )

    parts: list[pd.DataFrame] = []
    for attribute in sensitive_features.columns:
        attr = str(attribute)
        values = _attribute_values(sensitive_features[attribute])
        used = table[(table["attribute"] == attr) & (table["status"] == "used")]
        if used.empty:
            continue
        n = int(used["n"].iloc[0])
        for group in used["group"]:
            members = np.flatnonzero(values == group)
            rng = _rng(seed, attr, group)
            for draw in range(n_draws):
                idx = np.sort(rng.choice(members, size=n, replace=False))
                parts.append(_long_rows(cka_on(idx), attr, group, n, draw))
        rng = _rng(seed, attr, PERMUTATION)
        if subjects is None:
            for draw in range(n_permutations):
                idx = np.sort(rng.choice(n_rows, size=n, replace=False))
                parts.append(_long_rows(cka_on(idx), attr, PERMUTATION, n, draw))
            continue
        groups = [str(g) for g in used["group"]]
        for draw in range(n_permutations):
            for k, idx in enumerate(_subject_permutation_draws(values, np.asarray(subjects), groups, n, rng)):
                parts.append(_long_rows(cka_on(idx), attr, PERMUTATION, n, draw * len(groups) + k, draw))
    result = (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=_LONG_COLUMNS))[
        _LONG_COLUMNS
    ]
    skipped = table[table["status"] != "used"]
    result.attrs["skipped"] = skipped[["attribute", "group", "size", "status"]].to_dict("records")
    return result


def _subject_permutation_draws(
    values: np.ndarray, subjects: np.ndarray, groups: list[str], n: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """One permutation of group labels between subjects: n window indices (sorted) per pseudo-group.

    values, subjects: (N,) window-level group labels and subject ids. A subject's label is its most
    frequent window value; the labels are shuffled between subjects once, and each of ``groups`` gets n
    windows of the subjects now carrying its label (as many subjects as really carry it), so pseudo-groups
    of one permutation are disjoint like the real groups. A pseudo-group with fewer than n windows draws
    from all windows.
    """
    frame = pd.DataFrame({"subject": subjects, "value": values})
    label = frame.groupby("subject", sort=True)["value"].agg(lambda v: v.value_counts().index[0])
    shuffled = rng.permutation(label.to_numpy())  # (S,) labels, permuted between subjects
    out = []
    for group in groups:
        chosen = label.index.to_numpy()[shuffled == group]
        members = np.flatnonzero(np.isin(subjects, chosen))
        if members.size < n:
            members = np.arange(len(values))
        out.append(np.sort(rng.choice(members, size=n, replace=False)))
    return out


# ---------------------------------------------------------------------------------------------- summary
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
    """Summarise :func:`conditioned_cka`'s draws per attribute, group and layer pair.

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
    missing = [
        c for c in _LONG_COLUMNS[:-1] if c not in getattr(long_df, "columns", [])
    ]  # perm_draw optional
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


# ---------------------------------------------------------------------------------------------- best vs worst
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


class DissimilarityRatio(NamedTuple):
    """Result of :func:`dissimilarity_ratio`."""

    ratio: float
    """D of the attribute with the largest performance gap / D of the one with the smallest gap."""
    largest_gap_attribute: str
    smallest_gap_attribute: str
    spearman: float
    """Spearman correlation of G and D across attributes (NaN with fewer than 3 attributes)."""
    table: pd.DataFrame
    """Per attribute: best_group, worst_group, perf_gap (G), dissimilarity (D), n_layer_pairs, n_exceeding."""


def dissimilarity_ratio(differences: pd.DataFrame) -> DissimilarityRatio:
    """How much more the best and worst groups' representations differ where their performance differs more.

    ``differences`` is :func:`best_worst_difference`'s output. For each attribute a:

    - representation dissimilarity D_a = mean over layer pairs (l_a, l_b) of |CKA_best(a) - CKA_worst(a)|,
    - performance gap G_a = perf_best(a) - perf_worst(a).

    The ratio is D of the attribute with the largest G divided by D of the attribute with the smallest G
    (ties in G broken by attribute name; always two different attributes); the paper reports this as
    "up to 13x". Values above 1 mean the attribute with the larger performance gap also has the more
    dissimilar representations. It is inf when the smallest-gap attribute has D = 0 (NaN when both are
    0). Needs at least two attributes. ``table`` lists G_a, D_a
    and how many layer pairs exceed the permutation baseline, sorted by G descending, so the relation
    across all attributes can be seen; ``spearman`` is their rank correlation.
    """
    need = ["attribute", "best_group", "worst_group", "perf_gap", "diff", "exceeds"]
    missing = [c for c in need if c not in getattr(differences, "columns", [])]
    if not isinstance(differences, pd.DataFrame) or missing:
        raise DataError(
            f"differences must be the DataFrame returned by best_worst_difference; missing columns "
            f"{missing}; pass best_worst_difference(...)'s result"
        )
    table = (
        differences.assign(abs_diff=differences["diff"].abs())
        .groupby("attribute", sort=True)
        .agg(
            best_group=("best_group", "first"),
            worst_group=("worst_group", "first"),
            perf_gap=("perf_gap", "first"),
            dissimilarity=("abs_diff", "mean"),
            n_layer_pairs=("abs_diff", "size"),
            n_exceeding=("exceeds", "sum"),
        )
        .reset_index()
    )
    if len(table) < 2:
        raise DataError(
            f"the dissimilarity ratio compares attributes, got {len(table)} "
            f"({list(table['attribute'])}); give performance values for at least two attributes"
        )
    table["n_exceeding"] = table["n_exceeding"].astype(int)
    by_gap = table.sort_values(["perf_gap", "attribute"], ascending=[False, True], kind="stable")
    largest = by_gap.iloc[0]
    others = table[table["attribute"] != largest["attribute"]]
    smallest = others.sort_values(["perf_gap", "attribute"], ascending=[True, True], kind="stable").iloc[0]
    num, den = float(largest["dissimilarity"]), float(smallest["dissimilarity"])
    ratio = num / den if den > 0 else (float("inf") if num > 0 else float("nan"))
    spearman = (
        float(table["perf_gap"].corr(table["dissimilarity"], method="spearman"))
        if len(table) >= 3
        else float("nan")
    )
    return DissimilarityRatio(
        ratio=ratio,
        largest_gap_attribute=str(largest["attribute"]),
        smallest_gap_attribute=str(smallest["attribute"]),
        spearman=spearman,
        table=by_gap.reset_index(drop=True),
    )
