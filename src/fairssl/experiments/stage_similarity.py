"""Stage 4: layer CKA of each SSL model (and of a second supervised seed, the reference level) against
the supervised model of its seed, overall and conditioned on each attribute's groups."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fairssl.config import StudyConfig
from fairssl.evaluation.testing import adjust_pvalues
from fairssl.experiments.artifacts import load_activations, with_activations
from fairssl.experiments.grid import RunSpec
from fairssl.experiments.unavailable import attribute_gap, skipped_group_gaps, study_gap
from fairssl.experiments.workspace import Workspace
from fairssl.results_schema import write_result
from fairssl.similarity.cka import cka_matrix
from fairssl.similarity.conditioned import (
    KERNEL_BYTES_LIMIT,
    PERMUTATION,
    REFERENCE_SETUP,
    LayerKernels,
    RatioNull,
    best_worst_difference,
    conditioned_cka,
    dissimilarity_ratio,
    mean_ratio_null,
    ratio_null,
    summarise_conditioned,
)
from fairssl.similarity.kernel_draws import PairKernels, kernel_cka_batch

Log = Callable[[str], None]

RATIO_NULL_SEED = 0
"""Seed of the ratio null's subject permutations, the same for every setup and model seed: models
evaluated on the same test subjects then share permutation j, so the null of the seed-averaged ratio is
the seed average of each permutation (:func:`~fairssl.similarity.dissimilarity.mean_ratio_null`)."""

SETUP_NULL_COLUMNS = [
    "setup_ratio",
    "setup_ratio_null_median",
    "setup_ratio_null_q95",
    "setup_ratio_p",
    "setup_ratio_p_holm",
    "setup_ratio_n_permutations",
    "setup_ratio_n_seeds",
]
"""Setup-level columns of ``cka_ratio.csv`` (the same on every row of a setup): the mean over seeds of the
ratio, its permutation null's median and 95th percentile, p, p Holm-adjusted over the setups, m, seeds."""


def _unique(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records without repeats (every model of a study skips the same groups of the shared test set)."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in records:
        seen.setdefault((str(rec.get("attribute")), str(rec.get("group"))), rec)
    return list(seen.values())


@dataclass(frozen=True)
class _Pair:
    """The (setup, seed, run id) that stage 4 compares with the supervised run of ``seed``."""

    setup: str
    seed: int
    run_id: str


def similarity_stage(
    config: StudyConfig,
    ws: Workspace,
    runs: list[RunSpec],
    preds: dict[str, pd.DataFrame],
    results: pd.DataFrame,
    attributes: list[str],
    *,
    gaps: list[dict[str, Any]],
    log: Log,
) -> dict[str, pd.DataFrame]:
    """Stage 4: supervised x SSL layer CKA, overall and conditioned on each attribute's groups.

    The reference level (setup :data:`REFERENCE_SETUP`): each supervised model against the supervised
    model of the next seed, analysed exactly like an SSL model, so a best-vs-worst pattern or a
    dissimilarity ratio can be read against what two supervised models that differ only by seed show.

    What cannot be computed is appended to ``gaps`` (rows of ``unavailable.csv``): groups too small for
    conditioned CKA, attributes without two groups for best vs worst, a missing reference or ratio.

    With ``similarity.n_permutations`` > 0 each dissimilarity ratio gets its permutation null
    (:func:`~fairssl.similarity.dissimilarity.ratio_null`: group labels of every attribute permuted
    jointly between the test subjects, the ratio recomputed, m = n_permutations times). ``cka_ratio.csv``
    then carries per seed ``ratio_p``, ``ratio_null_median``, ``ratio_null_q95``,
    ``ratio_n_permutations`` and per setup :data:`SETUP_NULL_COLUMNS`; ``cka_ratio_null.csv`` holds every
    null ratio (setup, seed, perm_draw, ratio).
    """
    sim = config.similarity
    sup = {s.seed: s for s in runs if s.setup == "supervised"}
    mats, conds, diffs, ratios = [], [], [], []
    nulls: dict[str, list[tuple[int, RatioNull]]] = {}  # setup -> [(seed, null)]
    sup_acts: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]] = {}  # read once per supervised run
    sup_kernels: dict[str, LayerKernels] = {}  # N x N kernels, computed once per supervised run
    pair_buffer: list[np.ndarray] = []  # the (N, N, La + Lb) array of the comparison's pair, reused
    sup_seeds = sorted(sup)
    reference = [
        _Pair(REFERENCE_SETUP, seed, sup[sup_seeds[(i + 1) % len(sup_seeds)]].run_id)
        for i, seed in enumerate(sup_seeds)
        if len(sup_seeds) >= 2
    ]
    pairs = [_Pair(str(s.setup), s.seed, s.run_id) for s in runs if s.setup != "supervised"]
    settings = config.evaluation.model_dump()
    skipped: list[dict[str, Any]] = []
    unusable: set[str] = set()
    if len(sup_seeds) < 2:
        gaps.append(
            study_gap(
                "similarity",
                "cka_reference",
                "one_seed",
                "the supervised~supervised reference level needs supervised models of two seeds; add "
                "a seed to read best-vs-worst CKA against it",
            )
        )
    for spec in [*pairs, *reference]:
        base = sup.get(spec.seed)
        if base is None:
            continue
        pred = with_activations(ws, spec.run_id, preds[spec.run_id])  # the windows with stored activations
        window_ids = pred["window_id"].to_numpy()
        if base.run_id not in sup_acts or not np.array_equal(sup_acts[base.run_id][0], window_ids):
            sup_acts[base.run_id] = (window_ids, load_activations(ws, base.run_id, window_ids))
            sup_kernels.pop(base.run_id, None)
        acts_sup = sup_acts[base.run_id][1]
        acts_ssl = load_activations(ws, spec.run_id, window_ids)
        kernels = _kernels(sup_kernels, base.run_id, acts_sup, acts_ssl, pair_buffer)
        mat = _overall_cka(acts_sup, acts_ssl, kernels, debiased=sim.debiased)
        mats.append(
            mat.rename_axis("layer_a")
            .reset_index()
            .melt(id_vars="layer_a", var_name="layer_b", value_name="cka")
            .assign(setup=spec.setup, seed=spec.seed)
        )
        cond = conditioned_cka(
            acts_sup,
            acts_ssl,
            pred[attributes],
            n_per_group=sim.n_per_group,
            n_draws=sim.n_draws,
            n_permutations=sim.n_permutations,
            min_group_size=config.evaluation.min_group_size,
            include_missing=config.evaluation.include_missing,
            debiased=sim.debiased,
            seed=spec.seed,
            subjects=pred["subject"].to_numpy(),
            kernels=kernels,
        )
        skipped += cond.attrs.get("skipped", [])
        summ = summarise_conditioned(cond)
        conds.append(summ.assign(setup=spec.setup, seed=spec.seed))
        perf = results[
            (results.run_id == base.run_id)
            & (results.metric == "auroc")
            & (results.label == "recorded")
            & (results.attribute != "overall")
        ]
        perf = perf.rename(columns={"estimate": "performance"})[
            ["attribute", "group", "performance"]
        ].dropna()
        # best vs worst needs two groups with a performance value and a conditioned CKA (small groups
        # drop out of either); attributes without them are left out here, not an error
        groups_cka = summ[summ["group"] != PERMUTATION].groupby("attribute")["group"].apply(set)
        usable = [
            a
            for a, grp in groups_cka.items()
            if len(grp & set(perf.loc[perf["attribute"] == a, "group"].astype(str))) >= 2
        ]
        perf = perf[perf["attribute"].isin(usable) & perf["group"].astype(str).isin(set().union(*groups_cka))]
        unusable |= set(attributes) - set(usable)
        summ_bw = summ[summ["attribute"].isin(usable)]
        diff = best_worst_difference(summ_bw, perf) if usable else pd.DataFrame()
        if not diff.empty:
            diffs.append(diff.assign(setup=spec.setup, seed=spec.seed))
            if diff["attribute"].nunique() >= 2:
                ratio = dissimilarity_ratio(diff)
                table = ratio.table.assign(
                    setup=spec.setup, seed=spec.seed, ratio=ratio.ratio, spearman=ratio.spearman
                )
                if sim.n_permutations > 0:
                    null = ratio_null(
                        acts_sup,
                        acts_ssl,
                        pred[attributes],
                        pred["subject"].to_numpy(),
                        ratio,
                        n_per_group=sim.n_per_group,
                        n_draws=sim.n_draws,
                        n_permutations=sim.n_permutations,
                        min_group_size=config.evaluation.min_group_size,
                        include_missing=config.evaluation.include_missing,
                        debiased=sim.debiased,
                        seed=RATIO_NULL_SEED,
                        kernels=kernels,
                    )
                    nulls.setdefault(spec.setup, []).append((spec.seed, null))
                    table = table.assign(
                        ratio_p=null.p_value,
                        ratio_null_median=null.null_median,
                        ratio_null_q95=null.null_q95,
                        ratio_n_permutations=null.n_permutations,
                    )
                ratios.append(table)
    gaps += skipped_group_gaps("similarity", "cka_conditioned", _unique(skipped), settings)
    gaps += [
        attribute_gap(
            "similarity",
            "cka_best_worst",
            attribute,
            "too_few_groups",
            f"best vs worst group CKA of {attribute} needs two groups with both a conditioned CKA and an "
            "AUROC on the test set; fewer met the minimum sizes",
        )
        for attribute in sorted(unusable)
    ]
    if diffs and not ratios:
        gaps.append(
            study_gap(
                "similarity",
                "cka_ratio",
                "too_few_attributes",
                "the dissimilarity ratio compares attributes and needs two with a best-vs-worst CKA",
            )
        )
    ratio_frame = pd.concat(ratios, ignore_index=True) if ratios else pd.DataFrame()
    out = {}
    for name, frames in (
        ("cka", mats),
        ("cka_conditioned", conds),
        ("cka_best_worst", diffs),
        ("cka_ratio", [_with_setup_nulls(ratio_frame, nulls)] if ratios else []),
        ("cka_ratio_null", [_null_draws(nulls)] if nulls else []),
    ):
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        write_result(ws.results, name, frame)
        out[name] = frame
    return out


def _kernels(
    cache: dict[str, LayerKernels],
    base_id: str,
    acts_sup: dict[str, np.ndarray],
    acts_ssl: dict[str, np.ndarray],
    buffer: list[np.ndarray],
) -> PairKernels | None:
    """The N x N layer kernels of the supervised model (``cache``d: every SSL setup of its seed
    and the reference reuse them) and of the compared model, side by side (built once per comparison
    and shared by the overall CKA, conditioned CKA and the ratio null), written into the previous
    comparison's array held in ``buffer`` when the shapes match; None when they exceed
    :data:`KERNEL_BYTES_LIMIT` (each draw then works from features)."""
    n_rows = len(next(iter(acts_sup.values())))
    if n_rows * n_rows * 8 * (len(acts_sup) + len(acts_ssl)) > KERNEL_BYTES_LIMIT:
        return None
    if base_id not in cache:
        cache.clear()  # one supervised model's kernels at a time (they can be large)
        cache[base_id] = LayerKernels.of(acts_sup)
    previous = buffer.pop() if buffer else None  # the last comparison's pair, no longer used
    pair = PairKernels.of(cache[base_id], LayerKernels.of(acts_ssl), out=previous)
    buffer.append(pair.G)
    return pair


def _overall_cka(
    acts_sup: dict[str, np.ndarray],
    acts_ssl: dict[str, np.ndarray],
    kernels: PairKernels | None,
    *,
    debiased: bool,
) -> pd.DataFrame:
    """The (layers_sup, layers_ssl) CKA matrix over all N windows: from the comparison's kernels when
    they exist (O(N^2) per layer pair, no gather), else :func:`cka_matrix` from the features
    (O(N p q) per layer pair). The same estimator; the two agree to float64 rounding (about 1e-14)."""
    if kernels is None:
        return cka_matrix(acts_sup, acts_ssl, debiased=debiased)
    n_rows = int(kernels.G.shape[0])
    values = kernel_cka_batch(kernels, np.arange(n_rows), debiased=debiased)  # (layers_sup, layers_ssl)
    return pd.DataFrame(
        values,
        index=pd.Index([str(k) for k in acts_sup], name="layer_a"),
        columns=pd.Index([str(k) for k in acts_ssl], name="layer_b"),
    )


def _null_draws(nulls: dict[str, list[tuple[int, RatioNull]]]) -> pd.DataFrame:
    """Every null ratio: one row per (setup, seed, perm_draw) with the ratio under that permutation."""
    return pd.DataFrame(
        [
            {"setup": setup, "seed": seed, "perm_draw": j, "ratio": float(v)}
            for setup, items in nulls.items()
            for seed, null in items
            for j, v in enumerate(null.null)
        ],
        columns=["setup", "seed", "perm_draw", "ratio"],
    )


def _with_setup_nulls(ratio: pd.DataFrame, nulls: dict[str, list[tuple[int, RatioNull]]]) -> pd.DataFrame:
    """``ratio`` (cka_ratio rows) with :data:`SETUP_NULL_COLUMNS`: per setup the mean over seeds of the
    ratio against the seed-mean of each shared permutation (:func:`mean_ratio_null`), and p Holm-adjusted
    over every setup with a null (controls and the reference included, which only makes it stricter).
    Setups without a null (n_permutations = 0) get NaN."""
    rows = []
    for setup, items in nulls.items():
        items = sorted(items, key=lambda item: item[0])
        combined = mean_ratio_null(
            np.array([null.observed for _, null in items]), np.stack([null.null for _, null in items])
        )
        rows.append(
            {
                "setup": setup,
                "setup_ratio": combined.observed,
                "setup_ratio_null_median": combined.null_median,
                "setup_ratio_null_q95": combined.null_q95,
                "setup_ratio_p": combined.p_value,
                "setup_ratio_n_permutations": combined.n_permutations,
                "setup_ratio_n_seeds": len(items),
            }
        )
    if not rows:
        return ratio
    setup_level = pd.DataFrame(rows)
    setup_level["setup_ratio_p_holm"] = adjust_pvalues(setup_level["setup_ratio_p"].to_numpy(), method="holm")
    return ratio.merge(setup_level[["setup", *SETUP_NULL_COLUMNS]], on="setup", how="left")


__all__ = ["RATIO_NULL_SEED", "SETUP_NULL_COLUMNS", "similarity_stage"]
