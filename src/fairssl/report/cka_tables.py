"""The report's tables of the representation analysis (stage 4), averaged over seeds.

Inputs are ``analyse``'s ``results/cka.csv`` (CKA of every supervised x SSL layer pair per run),
``cka_best_worst.csv`` (best- minus worst-performing group's CKA per attribute, with its permutation
bound) and ``cka_ratio.csv`` (per attribute the AUROC gap G and the representation dissimilarity D, with
the ratio's permutation null where the similarity stage computed it).
Group or attribute names that differ between seeds read ``"a / b (varies)"``
(:func:`~fairssl.report.conventions.consensus`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fairssl.report.conventions import as_bool, consensus, numeric_column, setup_rank


def cka_mean(cka: pd.DataFrame) -> pd.DataFrame:
    """``cka.csv`` averaged over seeds: setup, layer_a (supervised), layer_b (SSL), cka, n_seeds."""
    if cka is None or cka.empty:
        return pd.DataFrame(columns=["setup", "layer_a", "layer_b", "cka", "n_seeds"])
    g = cka.assign(setup=cka["setup"].astype(str)).groupby(["setup", "layer_a", "layer_b"], sort=False)["cka"]
    return pd.DataFrame({"cka": g.mean(), "n_seeds": g.count()}).reset_index()


def best_worst_table(best_worst: pd.DataFrame) -> pd.DataFrame:
    """``cka_best_worst.csv`` averaged over seeds, per setup x attribute x layer pair.

    Columns setup, attribute, best_group, worst_group (``a / b (varies)`` when seeds disagree), layer_a,
    layer_b, diff (mean of CKA_best - CKA_worst), perm_diff_bound (mean permutation bound), exceeds (|diff| >
    bound of the means), exceeds_share (share of seeds whose own |diff| exceeded their bound), n_seeds.
    """
    cols = [
        "setup",
        "attribute",
        "best_group",
        "worst_group",
        "layer_a",
        "layer_b",
        "diff",
        "perm_diff_bound",
        "exceeds",
        "exceeds_share",
        "n_seeds",
    ]
    if best_worst is None or best_worst.empty:
        return pd.DataFrame(columns=cols)
    data = best_worst.assign(setup=best_worst["setup"].astype(str))
    data = data.assign(exceeds=as_bool(data["exceeds"]))
    rows = []
    for (setup, attribute, la, lb), grp in data.groupby(
        ["setup", "attribute", "layer_a", "layer_b"], sort=False
    ):
        diff = float(grp["diff"].mean())
        bound = float(grp["perm_diff_bound"].mean())
        rows.append(
            {
                "setup": setup,
                "attribute": attribute,
                "best_group": consensus(grp["best_group"]),
                "worst_group": consensus(grp["worst_group"]),
                "layer_a": la,
                "layer_b": lb,
                "diff": diff,
                "perm_diff_bound": bound,
                "exceeds": bool(np.isfinite(bound) and abs(diff) > bound),
                "exceeds_share": float(grp["exceeds"].mean()),
                "n_seeds": int(grp["seed"].nunique()) if "seed" in grp else len(grp),
            }
        )
    return pd.DataFrame(rows, columns=cols)


RATIO_NULL_COLUMNS = {
    "ratio_null_median": "setup_ratio_null_median",
    "ratio_null_q95": "setup_ratio_null_q95",
    "ratio_p": "setup_ratio_p",
    "ratio_p_holm": "setup_ratio_p_holm",
    "ratio_n_permutations": "setup_ratio_n_permutations",
}
"""The report's ratio-null columns and the setup-level ``cka_ratio.csv`` columns they come from."""


def dissimilarity_table(ratio: pd.DataFrame) -> pd.DataFrame:
    """``cka_ratio.csv`` averaged over seeds: per setup x attribute the AUROC gap G and dissimilarity D.

    Columns setup, attribute, best_group, worst_group, perf_gap, dissimilarity, n_exceeding (mean layer
    pairs beyond the permutation bound), n_layer_pairs, ratio (mean over seeds of D(largest G) / D(smallest
    G)), spearman (mean), largest_gap_attribute, smallest_gap_attribute (``(varies)`` as above), n_seeds,
    and the ratio's permutation null as the similarity stage stored it for the seed-mean ratio
    (:data:`RATIO_NULL_COLUMNS`: null median, 95th percentile, p, p Holm-adjusted over setups, number of
    permutations; NaN where no null was computed, e.g. ``similarity.n_permutations = 0`` or an older run).
    """
    cols = [
        "setup",
        "attribute",
        "best_group",
        "worst_group",
        "perf_gap",
        "dissimilarity",
        "n_exceeding",
        "n_layer_pairs",
        "ratio",
        "spearman",
        "largest_gap_attribute",
        "smallest_gap_attribute",
        "n_seeds",
        *RATIO_NULL_COLUMNS,
    ]
    if ratio is None or ratio.empty:
        return pd.DataFrame(columns=cols)
    data = ratio.assign(setup=ratio["setup"].astype(str))
    if "seed" not in data:
        data = data.assign(seed=0)
    rows = []
    for setup, sub in data.groupby("setup", sort=False):
        per_seed = []
        for _, s in sub.groupby("seed"):
            by_gap = s.sort_values(["perf_gap", "attribute"], ascending=[False, True])
            per_seed.append((by_gap["attribute"].iloc[0], by_gap["attribute"].iloc[-1]))
        largest = consensus(pd.Series([p[0] for p in per_seed]))
        smallest = consensus(pd.Series([p[1] for p in per_seed]))
        seed_level = sub.drop_duplicates("seed")
        ratio_v = numeric_column(seed_level, "ratio")
        spear = numeric_column(seed_level, "spearman")
        null = {col: float(numeric_column(sub, source)[0]) for col, source in RATIO_NULL_COLUMNS.items()}
        tested = numeric_column(sub, "setup_ratio")[0]
        mean_ratio = float(np.nanmean(ratio_v)) if np.isfinite(ratio_v).any() else np.nan
        for attribute, grp in sub.groupby("attribute", sort=False):
            rows.append(
                {
                    "setup": setup,
                    "attribute": attribute,
                    "best_group": consensus(grp["best_group"]),
                    "worst_group": consensus(grp["worst_group"]),
                    "perf_gap": float(grp["perf_gap"].mean()),
                    "dissimilarity": float(grp["dissimilarity"].mean()),
                    "n_exceeding": float(grp["n_exceeding"].mean()),
                    "n_layer_pairs": int(grp["n_layer_pairs"].max()),
                    # the statistic the null tested when there is one (the same mean, inf kept)
                    "ratio": float(tested) if not np.isnan(null["ratio_p"]) else mean_ratio,
                    "spearman": float(np.nanmean(spear)) if np.isfinite(spear).any() else np.nan,
                    "largest_gap_attribute": largest,
                    "smallest_gap_attribute": smallest,
                    "n_seeds": int(grp["seed"].nunique()),
                    **null,
                }
            )
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(
        ["setup", "perf_gap"], key=lambda s: setup_rank(s) if s.name == "setup" else -s, kind="stable"
    ).reset_index(drop=True)
