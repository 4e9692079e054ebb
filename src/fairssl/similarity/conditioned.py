"""CKA between two models' layers conditioned on demographic groups (stage 4 of the study).

For each protected attribute and each of its groups, the layer-by-layer debiased CKA matrix between
model a (e.g. the supervised model) and model b (e.g. an SSL model) is computed on the group's windows.
Unlike the reference code (paper.md, defect 8) every group of an attribute is compared at the **same**
sample size n, drawn **at random** (several draws, not the first rows), and set against a permutation
baseline: pseudo-groups of the same n windows after group labels are permuted between subjects. A
best-vs-worst group difference is only a signal where it exceeds what such pseudo-groups already differ
by, and the dissimilarity ratio only where it exceeds its own permutation null.

Pipeline::

    long = conditioned_cka(acts_a, acts_b, sensitive_features, subjects=subjects)  # draws x layer pairs
    summary = summarise_conditioned(long)              # mean, spread, permutation baseline
    diff = best_worst_difference(summary, performance) # best minus worst group, per attribute
    ratio = dissimilarity_ratio(diff)                  # the paper's "up to 13x" quantity
    null = ratio_null(acts_a, acts_b, sensitive_features, subjects, ratio)  # is it beyond chance?

This module holds :func:`conditioned_cka`; the other steps live in
:mod:`~fairssl.similarity.group_sampling` (groups, draws, subject permutations),
:mod:`~fairssl.similarity.conditioned_summary` (summary, best vs worst) and
:mod:`~fairssl.similarity.dissimilarity` (the ratio and its null), and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from fairssl.similarity.conditioned_summary import best_worst_difference, summarise_conditioned
from fairssl.similarity.dissimilarity import (
    DissimilarityRatio,
    RatioNull,
    dissimilarity_ratio,
    mean_ratio_null,
    permutation_p_value,
    ratio_null,
)
from fairssl.similarity.group_sampling import (
    KERNEL_BYTES_LIMIT,
    LONG_COLUMNS,
    PERMUTATION,
    SubjectDraws,
    attribute_values,
    check_acts,
    check_int,
    draw_cka,
    group_rng,
    group_table,
)
from fairssl.similarity.kernel_draws import LayerKernels, PairKernels

__all__ = [
    "KERNEL_BYTES_LIMIT",
    "PERMUTATION",
    "REFERENCE_SETUP",
    "DissimilarityRatio",
    "LayerKernels",
    "RatioNull",
    "best_worst_difference",
    "conditioned_cka",
    "dissimilarity_ratio",
    "group_table",
    "mean_ratio_null",
    "permutation_p_value",
    "ratio_null",
    "summarise_conditioned",
]

REFERENCE_SETUP = "supervised~supervised"
"""Setup name of the reference level in the stored CKA tables: a supervised model against the supervised
model of another seed, analysed like an SSL model (what two models that differ only by seed show)."""


def _long_table(
    blocks: list[tuple[str, str, int, int, int, np.ndarray]], layers_a: list[str], layers_b: list[str]
) -> pd.DataFrame:
    """The long table of :data:`LONG_COLUMNS` from draws ``(attribute, group, n, draw, perm_draw, matrix
    (layers_a, layers_b))``: layers_a * layers_b rows per draw (row-major), in the order given.
    ``perm_draw``: the subject permutation a pseudo-group row belongs to (-1 otherwise)."""
    if not blocks:
        return pd.DataFrame(columns=LONG_COLUMNS)
    cells = len(layers_a) * len(layers_b)

    def per_draw(j: int, dtype: Any) -> np.ndarray:  # (draws * cells,) field j of each draw, repeated
        return np.repeat(np.array([blk[j] for blk in blocks], dtype=dtype), cells)

    return pd.DataFrame(
        {
            "attribute": per_draw(0, object),
            "group": per_draw(1, object),
            "n": per_draw(2, np.int64),
            "draw": per_draw(3, np.int64),
            "layer_a": np.tile(np.repeat(np.array(layers_a, dtype=object), len(layers_b)), len(blocks)),
            "layer_b": np.tile(np.array(layers_b, dtype=object), len(layers_a) * len(blocks)),
            "cka": np.stack([blk[5] for blk in blocks]).reshape(-1),  # (draws, la, lb) -> (draws*la*lb,)
            "perm_draw": per_draw(4, np.int64),
        }
    )


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
    kernels: tuple[LayerKernels, LayerKernels] | PairKernels | None = None,
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
    too-narrow baseline when windows of one person are alike. Each draw gives a
    :func:`~fairssl.similarity.cka.cka_matrix` (debiased by default; the biased estimate grows as n
    shrinks, so compare biased values only at equal n). Draws depend only on (seed, attribute, group), so
    results are reproducible and adding an attribute does not change another's draws.

    Returns a long DataFrame with columns ``attribute, group, n, draw, layer_a, layer_b, cka, perm_draw``
    (``perm_draw``: the subject permutation a pseudo-group row belongs to, -1 otherwise).
    Skipped groups are listed in ``result.attrs["skipped"]`` as records
    ``{"attribute", "group", "size", "status"}`` (status ``"too_small"`` or ``"missing_excluded"``);
    :func:`group_table` returns the full table of used and skipped groups as a DataFrame.

    ``kernels``: the :class:`~fairssl.similarity.kernel_draws.LayerKernels` of ``acts_a`` and ``acts_b``
    (or their :class:`~fairssl.similarity.kernel_draws.PairKernels`) when the caller reuses them (the
    stage shares a supervised model's kernels across its comparisons and one comparison's pair with
    :func:`ratio_null`); computed here when omitted and they fit in :data:`KERNEL_BYTES_LIMIT`.
    """
    table = group_table(
        sensitive_features,
        n_per_group=n_per_group,
        min_group_size=min_group_size,
        include_missing=include_missing,
    )
    n_draws = check_int(n_draws, "n_draws", 1, "pass e.g. 10")
    n_permutations = check_int(n_permutations, "n_permutations", 0, "pass e.g. 20 (0 skips the baseline)")
    seed = check_int(seed, "seed", 0, "pass a non-negative integer")
    n_rows = len(sensitive_features)
    arrays_a = check_acts(acts_a, "acts_a", n_rows)
    arrays_b = check_acts(acts_b, "acts_b", n_rows)

    cka_on = draw_cka(
        arrays_a, arrays_b, debiased=debiased, kernel_bytes_limit=KERNEL_BYTES_LIMIT, kernels=kernels
    )

    blocks: list[tuple[str, str, int, int, int, np.ndarray]] = []  # one CKA matrix per draw
    for attribute in sensitive_features.columns:
        attr = str(attribute)
        values = attribute_values(sensitive_features[attribute])
        used = table[(table["attribute"] == attr) & (table["status"] == "used")]
        if used.empty:
            continue
        n = int(used["n"].iloc[0])
        for group in used["group"]:
            members = np.flatnonzero(values == group)
            rng = group_rng(seed, attr, group)
            for draw in range(n_draws):
                idx = np.sort(rng.choice(members, size=n, replace=False))
                blocks.append((attr, group, n, draw, -1, cka_on(idx)))
        rng = group_rng(seed, attr, PERMUTATION)
        if subjects is None:
            for draw in range(n_permutations):
                idx = np.sort(rng.choice(n_rows, size=n, replace=False))
                blocks.append((attr, PERMUTATION, n, draw, -1, cka_on(idx)))
            continue
        groups = [str(g) for g in used["group"]]
        by_subject = SubjectDraws.of(values, np.asarray(subjects))
        for draw in range(n_permutations):
            for k, idx in enumerate(by_subject.draws(groups, n, rng)):
                blocks.append((attr, PERMUTATION, n, draw * len(groups) + k, draw, cka_on(idx)))
    result = _long_table(blocks, list(arrays_a), list(arrays_b))[LONG_COLUMNS]
    skipped = table[table["status"] != "used"]
    result.attrs["skipped"] = skipped[["attribute", "group", "size", "status"]].to_dict("records")
    return result
