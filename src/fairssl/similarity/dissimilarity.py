"""The dissimilarity ratio (the paper's "up to 13x") and its subject-level permutation null.

- :func:`dissimilarity_ratio`: D of the attribute with the largest AUROC gap G over D of the one with the
  smallest, D = mean |CKA_best - CKA_worst| over layer pairs;
- :func:`ratio_null`: the same ratio after the group labels of every attribute are permuted **between
  subjects** (jointly: each subject hands its whole demographic row to another), m times, with the
  permutation p-value and the null's median and 95th percentile;
- :func:`mean_ratio_null`: the null of the ratio averaged over seeds, from per-seed nulls that used the same
  subject permutations;
- :func:`permutation_p_value`: p = (1 + #{null >= observed}) / (1 + m).

A ratio is only evidence where it exceeds its null: random subject groupings already give ratios well
above 1 when the two attributes' groups differ in size.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from fairssl.errors import DataError
from fairssl.similarity.group_sampling import (
    KERNEL_BYTES_LIMIT,
    attribute_values,
    check_acts,
    check_int,
    coded_group_members,
    draw_cka,
    group_table,
    subject_codes,
    subject_labels,
)
from fairssl.similarity.kernel_draws import LayerKernels, PairKernels

__all__ = [
    "DissimilarityRatio",
    "RatioNull",
    "dissimilarity_ratio",
    "mean_ratio_null",
    "permutation_p_value",
    "ratio_null",
]


def _ratio(num: float, den: float) -> float:
    """num / den; inf when only den is 0, NaN when both are."""
    return num / den if den > 0 else (float("inf") if num > 0 else float("nan"))


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

    ``differences`` is :func:`~fairssl.similarity.conditioned_summary.best_worst_difference`'s output.
    For each attribute a:

    - representation dissimilarity D_a = mean over layer pairs (l_a, l_b) of |CKA_best(a) - CKA_worst(a)|,
    - performance gap G_a = perf_best(a) - perf_worst(a).

    The ratio is D of the attribute with the largest G divided by D of the attribute with the smallest G
    (ties in G broken by attribute name; always two different attributes); the paper reports this as
    "up to 13x". Values above 1 mean the attribute with the larger performance gap also has the more
    dissimilar representations. It is inf when the smallest-gap attribute has D = 0 (NaN when both are
    0). Needs at least two attributes. ``table`` lists G_a, D_a
    and how many layer pairs exceed the permutation baseline, sorted by G descending, so the relation
    across all attributes can be seen; ``spearman`` is their rank correlation.

    The ratio alone means little: on attributes that are pure noise it is often well above 1 (an
    independent review found median 2.3, max 17.8), because D of an attribute with small groups is noisy.
    Read it against :func:`ratio_null`.
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
    ratio = _ratio(float(largest["dissimilarity"]), float(smallest["dissimilarity"]))
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


# ---------------------------------------------------------------------------------------------- null
class RatioNull(NamedTuple):
    """Result of :func:`ratio_null` and :func:`mean_ratio_null`."""

    observed: float
    """The observed ratio (or mean over seeds of the observed ratios)."""
    null: np.ndarray
    """(m,) the ratio under permuted subject labels, one value per permutation (inf or NaN where the
    smallest-gap attribute's pseudo-groups gave D = 0)."""
    p_value: float
    """(1 + #{null >= observed}) / (1 + m') over the m' non-NaN null values; small = the ratio exceeds
    what random subject groupings give. NaN when the observed ratio is NaN or no permutation was drawn."""
    null_median: float
    """Median of the null (empirical, inverted-CDF quantile, so inf values are allowed)."""
    null_q95: float
    """95th percentile of the null (same quantile rule)."""
    n_permutations: int
    """m': null values that entered the p-value (NaN values left out)."""


def permutation_p_value(observed: float, null: np.ndarray) -> float:
    """Monte-Carlo permutation p-value, one-sided (large is extreme): (1 + #{null >= observed}) / (1 + m).

    ``null`` (m,): the statistic on m permuted data sets; NaN values are left out of m. Valid (P(p <=
    alpha) <= alpha under exchangeable labels) because the observed statistic is counted as one of the
    m + 1. NaN when ``observed`` is NaN or no null value is left.
    """
    values = np.asarray(null, dtype=float)
    values = values[~np.isnan(values)]
    if np.isnan(observed) or values.size == 0:
        return float("nan")
    return float((1 + np.sum(values >= observed)) / (1 + values.size))


def _summarise(observed: float, null: np.ndarray) -> RatioNull:
    """The :class:`RatioNull` of ``observed`` against ``null`` (m,)."""
    values = np.asarray(null, dtype=float)
    kept = values[~np.isnan(values)]  # inf kept: the inverted-CDF quantile never interpolates with it

    def quantile(q: float) -> float:
        return float(np.quantile(kept, q, method="inverted_cdf")) if kept.size else float("nan")

    return RatioNull(
        observed=float(observed),
        null=values,
        p_value=permutation_p_value(observed, values),
        null_median=quantile(0.5),
        null_q95=quantile(0.95),
        n_permutations=int(kept.size),
    )


def ratio_null(
    acts_a: Mapping[str, Any],
    acts_b: Mapping[str, Any],
    sensitive_features: pd.DataFrame,
    subjects: np.ndarray,
    ratio: DissimilarityRatio,
    *,
    n_per_group: int | None = None,
    n_draws: int = 10,
    n_permutations: int = 20,
    min_group_size: int = 30,
    include_missing: bool = False,
    debiased: bool = True,
    seed: int = 0,
    kernel_bytes_limit: int = KERNEL_BYTES_LIMIT,
    kernels: tuple[LayerKernels, LayerKernels] | PairKernels | None = None,
) -> RatioNull:
    """The dissimilarity ratio's permutation null: the ratio recomputed with labels permuted between subjects.

    ``acts_a``, ``acts_b``, ``sensitive_features`` (N rows) and the options are those the observed
    ``ratio`` (:func:`dissimilarity_ratio`) was computed with through
    :func:`~fairssl.similarity.conditioned.conditioned_cka`; ``subjects`` (N,) the windows' subject ids.
    The performance side is held fixed: the largest- and smallest-gap attributes L and S and their best
    and worst groups are those of ``ratio``. Each of the ``n_permutations`` draws:

    1. gives every subject one label per attribute (its most frequent window value) and permutes the
       subjects' rows of labels **jointly** (one permutation for all attributes, so their association
       is kept; windows of one person stay together);
    2. for L and S takes the pseudo-groups now carrying the best and the worst group's label and, as the
       observed statistic does, ``n_draws`` random draws of the attribute's common n windows from each
       (all windows when a pseudo-group holds fewer than n), averaging the CKA matrices over draws;
    3. computes D = mean over layer pairs of |CKA_best - CKA_worst| for L and S, and D_L / D_S.

    The subject permutation of draw j depends only on (``seed``, j) and the sorted subject ids, so models
    evaluated on the same subjects (other seeds, other setups) share permutations, which
    :func:`mean_ratio_null` needs. Returns a :class:`RatioNull`; p small = the observed ratio exceeds
    what random subject groupings of the same sizes give. With no real group effect p is uniform
    (P(p <= 0.05) = 0.05 up to the discreteness 1 / (m + 1)). Power is modest even for a strong effect:
    D_S is an absolute difference of two noisy group CKAs, so null ratios have a heavy upper tail (in
    the simulation of ``tests/similarity/test_ratio_null.py``, a group whose representation is copied
    between the models gives p of 0.05-0.2, mean about 0.13, with 19 permutations). Cost:
    n_permutations x 4 x n_draws CKA matrices of n windows, each batched over layers from N x N kernels
    (``kernels``: those :func:`~fairssl.similarity.conditioned.conditioned_cka` used for the observed
    ratio, a pair of :class:`~fairssl.similarity.kernel_draws.LayerKernels` or their
    :class:`~fairssl.similarity.kernel_draws.PairKernels`, reused rather than recomputed; computed here
    when omitted and they fit in ``kernel_bytes_limit``).
    """
    if not isinstance(ratio, DissimilarityRatio):
        raise DataError(
            f"ratio must be the DissimilarityRatio returned by dissimilarity_ratio, got "
            f"{type(ratio).__name__}; pass dissimilarity_ratio(best_worst_difference(...))"
        )
    n_draws = check_int(n_draws, "n_draws", 1, "pass the n_draws of the observed conditioned_cka")
    n_permutations = check_int(n_permutations, "n_permutations", 0, "pass e.g. 19 (0 gives no null)")
    seed = check_int(seed, "seed", 0, "pass a non-negative integer")
    n_rows = len(sensitive_features) if isinstance(sensitive_features, pd.DataFrame) else -1
    subj = np.asarray(subjects)
    if subj.shape != (n_rows,):
        raise DataError(
            f"subjects must hold one subject id per row of sensitive_features ({n_rows}), got shape "
            f"{subj.shape}; pass the windows' subject ids in the same order (the null permutes subjects)"
        )
    table = group_table(
        sensitive_features,
        n_per_group=n_per_group,
        min_group_size=min_group_size,
        include_missing=include_missing,
    )
    rows = ratio.table.set_index("attribute")
    plan: list[tuple[str, str, int, np.ndarray]] = []  # (best, worst, n, subject labels (S,)): L, S
    for attribute in (ratio.largest_gap_attribute, ratio.smallest_gap_attribute):
        used = table[(table["attribute"] == attribute) & (table["status"] == "used")]
        best, worst = str(rows.loc[attribute, "best_group"]), str(rows.loc[attribute, "worst_group"])
        if attribute not in sensitive_features.columns or not {best, worst} <= set(used["group"]):
            raise DataError(
                f"attribute {attribute!r}: groups {best!r} and {worst!r} of the ratio are not both used by "
                f"conditioned CKA with these options (used: {sorted(used['group'])}); pass the "
                "sensitive_features and options the ratio was computed with"
            )
        labels = subject_labels(attribute_values(sensitive_features[attribute]), subj)
        ids = labels.index.to_numpy()  # (S,) sorted subject ids, the same for every attribute
        plan.append((best, worst, int(used["n"].iloc[0]), labels.to_numpy(dtype=object)))
    codes = subject_codes(subj, ids)  # (N,) each window's subject position in ids
    cka_on = draw_cka(
        check_acts(acts_a, "acts_a", n_rows),
        check_acts(acts_b, "acts_b", n_rows),
        debiased=debiased,
        kernel_bytes_limit=kernel_bytes_limit,
        kernels=kernels,
    )
    null = np.empty(n_permutations)
    for j in range(n_permutations):
        rng = np.random.default_rng([seed, j])
        order = rng.permutation(ids.size)  # subject i takes the label row of subject order[i]
        d = []
        for best, worst, n, subject_label in plan:
            shuffled = subject_label[order]  # (S,)
            means = []
            for group in (best, worst):
                members = coded_group_members(codes, shuffled, group, n)
                mats = [
                    cka_on(np.sort(rng.choice(members, size=n, replace=False))) for _ in range(n_draws)
                ]  # n_draws x (layers_a, layers_b)
                means.append(np.mean(mats, axis=0))
            d.append(float(np.mean(np.abs(means[0] - means[1]))))
        null[j] = _ratio(d[0], d[1])
    return _summarise(ratio.ratio, null)


def mean_ratio_null(observed: np.ndarray, nulls: np.ndarray) -> RatioNull:
    """The null of the ratio averaged over k seeds (or replicates) of one setup.

    ``observed`` (k,): each seed's ratio; ``nulls`` (k, m): each seed's :attr:`RatioNull.null` from
    :func:`ratio_null` with the **same** ``seed`` argument on the same test subjects, so column j holds the
    k models under one and the same subject permutation. The statistic is the mean over seeds (NaN seeds
    left out; one inf makes it inf) and null value j the same mean of column j: a permutation test of the
    mean that keeps the correlation between seeds evaluated on the same subjects. (Independent
    permutations per seed would ignore that correlation.) With k = 1 it is the seed's own null.
    """
    obs = np.asarray(observed, dtype=float).reshape(-1)  # (k,)
    mat = np.asarray(nulls, dtype=float)
    if mat.ndim != 2 or mat.shape[0] != obs.size:
        raise DataError(
            f"nulls must be (k, m) with one row per seed of observed ({obs.size}), got shape {mat.shape}; "
            "stack the per-seed RatioNull.null arrays (same n_permutations) row by row"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN, as intended
        stat = float(np.nanmean(obs)) if obs.size else float("nan")
        null = np.nanmean(mat, axis=0) if mat.size else np.empty(mat.shape[1])
    return _summarise(stat, null)
