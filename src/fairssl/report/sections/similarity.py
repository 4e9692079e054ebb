"""The report's representation section (stage 4): where the difference lives, by CKA.

CKA heatmaps of supervised x SSL layers, the best- minus worst-group conditioned CKA against its
permutation bound, and the dissimilarity ratio relating each attribute's AUROC gap G to its
representation dissimilarity D, always beside its permutation null when one was computed.
"""

from __future__ import annotations

from functools import partial

import pandas as pd

from fairssl.report import figures
from fairssl.report.analysis_record import lower_first
from fairssl.report.html_table import html_table
from fairssl.report.page import ReportWriter, Section
from fairssl.report.similarity_sentences import ratio_null_sentence

__all__ = ["ratio_null_sentence", "similarity_section"]


def similarity_section(
    writer: ReportWriter,
    cka: pd.DataFrame,
    best_worst: pd.DataFrame,
    ratios: pd.DataFrame,
    conditioned: pd.DataFrame,
    *,
    stage: str = "",
    stale: str = "",
    alpha: float = 0.05,
) -> Section:
    """From ``cka.csv``, :mod:`~fairssl.report.cka_tables`' best-worst and dissimilarity tables and
    ``cka_conditioned.csv``.

    ``stage``: why the similarity stage left no tables (it failed, was skipped or is not recorded:
    :func:`~fairssl.report.analysis_record.stage_note`), "" when it completed; ``stale``: a note shown
    above tables that an earlier analysis left (:func:`~fairssl.report.analysis_record.stale_note`);
    ``alpha``: the study's level for the ratio's verdict (:func:`ratio_null_sentence`).
    """
    sec = Section(
        "similarity",
        "Where the difference lives: representation similarity (stage 4)",
        "Debiased linear CKA between the conv-layer activations of the supervised model (rows) and each SSL "
        "model (columns) on the test windows: 1 = the same representation up to rotation and scale, 0 = "
        "unrelated. Conditioned CKA repeats this on the windows of one group at a time, all groups at the "
        "same sample size, against a permutation baseline.",
    )
    if cka.empty:
        sec.notes.append(
            "No CKA tables (results/cka.csv): "
            + lower_first(
                stage
                or "the similarity stage completed, but no SSL setup shares a seed with a supervised run."
            )
        )
        return sec
    if stale:
        sec.notes.append(stale)
    sec.figure(
        writer.figure(
            "cka_heatmaps",
            "CKA: supervised x SSL layers",
            "Mean over seeds of the debiased linear CKA between supervised layers (rows) and SSL layers "
            "(columns).",
            partial(figures.cka_heatmaps, cka),
        )
    )
    if best_worst.empty:
        sec.notes.append(
            "No conditioned CKA difference (results/cka_best_worst.csv is empty): it needs at least two "
            "groups per attribute with a per-group AUROC and enough windows (evaluation.min_group_size)."
        )
    else:
        sec.figure(
            writer.figure(
                "cka_best_worst",
                "Best minus worst group, per attribute",
                "CKA of the best-performing group minus that of the worst (by the supervised model's "
                "per-group AUROC), mean over seeds; * marks cells where the difference exceeds the "
                "permutation bound (the 95% quantile of the difference between two random sets of the same "
                "size), i.e. a signal rather than sampling noise.",
                partial(figures.cka_best_worst, best_worst),
            )
        )
        n_exc = int(best_worst["exceeds"].sum())
        sec.text(
            f"{n_exc} of {len(best_worst)} setup x attribute x layer-pair cells exceed the permutation bound."
        )
    if ratios.empty:
        sec.notes.append(
            "No dissimilarity ratio (results/cka_ratio.csv is empty): it needs at least two attributes."
        )
    else:
        per_setup = ratios.drop_duplicates("setup")
        for row in per_setup.to_dict("records"):
            sec.text(ratio_null_sentence(row, alpha=alpha))
        sec.table(
            "Dissimilarity ratio",
            html_table(
                per_setup[
                    [
                        "setup",
                        "largest_gap_attribute",
                        "smallest_gap_attribute",
                        "ratio",
                        "ratio_null_median",
                        "ratio_null_q95",
                        "ratio_p",
                        "ratio_p_holm",
                        "ratio_n_permutations",
                        "spearman",
                        "n_seeds",
                    ]
                ].rename(
                    columns={
                        "ratio_null_median": "null median",
                        "ratio_null_q95": "null 95th pct",
                        "ratio_p": "permutation p",
                        "ratio_p_holm": "p (Holm over setups)",
                        "ratio_n_permutations": "permutations",
                        "spearman": "Spearman(G, D)",
                    }
                ),
                digits={"ratio": 2, "null median": 2, "null 95th pct": 2},
            ),
            "D of the attribute with the largest AUROC gap G divided by D of the one with the smallest, "
            "D = mean |CKA_best - CKA_worst| over layer pairs (mean over seeds); above 1, larger performance "
            "gaps go with more dissimilar representations (the paper reports up to 13x). A ratio alone means "
            "little: random subject groupings already give ratios well above 1 when the attributes' groups "
            "differ in size. The null recomputes the ratio with every attribute's group labels permuted "
            "between test subjects (the same permutations for every seed, averaged like the ratio); "
            "p = (1 + #{null >= observed}) / (1 + m), small when the ratio exceeds its null. The test has "
            "modest power (D of the smallest-gap attribute is a noisy denominator).",
        )
        sec.table(
            "Performance gap and representation dissimilarity per attribute",
            html_table(
                ratios[
                    [
                        "setup",
                        "attribute",
                        "best_group",
                        "worst_group",
                        "perf_gap",
                        "dissimilarity",
                        "n_exceeding",
                        "n_layer_pairs",
                    ]
                ].rename(
                    columns={
                        "perf_gap": "G (AUROC gap)",
                        "dissimilarity": "D",
                        "n_exceeding": "layer pairs beyond bound (mean)",
                    }
                )
            ),
            "G = AUROC of the best minus the worst group (supervised model); D as above; how many of the "
            "layer pairs exceed the permutation bound (mean over seeds).",
        )
    if not conditioned.empty:
        sec.text(
            f"The per-group conditioned CKA ({len(conditioned)} rows with draws, spread and permutation "
            "baseline) is in results/cka_conditioned.csv."
        )
    return sec
