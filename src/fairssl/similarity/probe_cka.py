"""Relating the group task-probe gaps to the conditioned CKA difference (:func:`relate_to_cka`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from fairssl.errors import DataError
from fairssl.similarity.probe_common import _check_int

_RELATION_COLUMNS = (
    "attribute",
    "layer",
    "layer_a",
    "layer_b",
    "best_group",
    "worst_group",
    "gap_best",
    "gap_worst",
    "gap_contrast",
    "cka_best",
    "cka_worst",
    "cka_diff",
)


class ProbeCkaRelation(NamedTuple):
    """Result of :func:`relate_to_cka` (unpacks as ``table, spearman, p_value, n, caveat``)."""

    table: pd.DataFrame
    """One row per matched (attribute, layer): groups, probe gaps, gap_contrast, CKA values and cka_diff."""
    spearman: float
    """Spearman rank correlation of gap_contrast and cka_diff (NaN with fewer than 3 units or no spread)."""
    p_value: float
    """Two-sided permutation p-value (exact for n <= 7, else 9999 random pairings); NaN where rho is."""
    n: int
    """Number of (attribute, layer) units correlated."""
    caveat: str
    """Why the correlation is at most descriptive (small n, dependent units)."""


def _caveat(n: int) -> str:
    if n < 3:
        return (
            f"only {n} (attribute, layer) unit(s) matched: no correlation is computed; "
            "probe more attributes or layers"
        )
    floor = f"{min(1.0, 2.0 / math.factorial(n)):.3g}" if n <= 7 else "about 2e-4 (random pairings)"
    return (
        f"Spearman correlation over only n = {n} (attribute, layer) units; layers of one attribute share its "
        f"groups and windows, so units are not independent and the p-value is optimistic; the smallest "
        f"attainable two-sided p is {floor}; read the correlation as descriptive, not as evidence"
    )


def relate_to_cka(
    probe_gaps: pd.DataFrame,
    cka_best_worst: pd.DataFrame,
    *,
    layer_pairs: Mapping[str, tuple[str, str]] | None = None,
    seed: int = 0,
) -> ProbeCkaRelation:
    """Rank-correlate the group task-probe gaps with the conditioned CKA difference, across attributes.

    ``probe_gaps`` is :func:`group_task_probe`'s output (its ``gap`` rows); ``cka_best_worst`` is
    :func:`fairssl.similarity.conditioned.best_worst_difference`'s output (per attribute: the best- and
    worst-performing groups and, per layer pair, ``diff`` = CKA_best - CKA_worst). Probe layer l is matched
    to the CKA layer pair ``layer_pairs[l]`` = (layer_a, layer_b), by default (l, l): the same layer in
    both models. Probe layers without a matching pair (e.g. ``"pooled"``) are left out.

    For each matched (attribute a, layer l), with best/worst the groups named by the CKA table:

    - gap_contrast = gap(worst) - gap(best): how much more the worst group gains from its own decision
      boundary than the best group does (> 0: the worst group is less well served by the pooled boundary);
    - cka_diff = CKA_best - CKA_worst (> 0: the two models' representations agree less on the worst group).

    Returns ``(table, spearman, p_value, n, caveat)``: rho = Spearman correlation of the two columns over
    the n units (> 0: a worse-served group also has more dissimilar representations), its two-sided
    permutation p-value, and a caveat.

    Caveat: n is small (attributes x layers, typically 3 x 3); the layers of one attribute share its groups
    and windows, so the units are not independent and the p-value is optimistic; with n <= 4 no p below
    0.08 is attainable. Treat rho as a description of this study, not as evidence of a general relation.
    Units whose best or worst group has no probe gap (e.g. too small for the probe) are listed in
    ``table.attrs["dropped"]``.
    """
    need_p = ["layer", "attribute", "group", "metric", "estimate"]
    missing_p = [c for c in need_p if c not in getattr(probe_gaps, "columns", [])]
    if not isinstance(probe_gaps, pd.DataFrame) or missing_p:
        raise DataError(
            f"probe_gaps must be the DataFrame returned by group_task_probe; missing columns {missing_p}; "
            "pass group_task_probe(...)'s result"
        )
    need_c = ["attribute", "best_group", "worst_group", "layer_a", "layer_b", "cka_best", "cka_worst", "diff"]
    missing_c = [c for c in need_c if c not in getattr(cka_best_worst, "columns", [])]
    if not isinstance(cka_best_worst, pd.DataFrame) or missing_c:
        raise DataError(
            f"cka_best_worst must be the DataFrame returned by best_worst_difference; missing columns "
            f"{missing_c}; pass best_worst_difference(...)'s result"
        )
    _check_int(seed, "seed", 0, "pass a non-negative integer")
    gaps = probe_gaps[probe_gaps["metric"] == "gap"]
    gap_of = {
        (str(a), str(la), str(g)): float(v)
        for a, la, g, v in zip(
            gaps["attribute"],
            gaps["layer"],
            gaps["group"],
            gaps["estimate"].to_numpy(dtype=float),
            strict=True,
        )
    }
    cka_of: dict[tuple[str, str, str], dict[Any, Any]] = {}
    for rec in cka_best_worst[need_c].to_dict("records"):
        cka_of.setdefault((str(rec["attribute"]), str(rec["layer_a"]), str(rec["layer_b"])), rec)
    pairs = {str(k): (str(v[0]), str(v[1])) for k, v in (layer_pairs or {}).items()}
    rows: list[dict[str, Any]] = []
    dropped: list[dict[str, str]] = []
    for attribute, layer in gaps[["attribute", "layer"]].drop_duplicates().itertuples(index=False):
        attr, lay = str(attribute), str(layer)
        la, lb = pairs.get(lay, (lay, lay))
        c = cka_of.get((attr, la, lb))
        if c is None:
            continue
        best, worst = str(c["best_group"]), str(c["worst_group"])
        if (attr, lay, best) not in gap_of or (attr, lay, worst) not in gap_of:
            dropped.append({"attribute": attr, "layer": lay, "reason": f"no probe gap for {best} or {worst}"})
            continue
        g_best, g_worst = gap_of[(attr, lay, best)], gap_of[(attr, lay, worst)]
        rows.append(
            {
                "attribute": attr,
                "layer": lay,
                "layer_a": la,
                "layer_b": lb,
                "best_group": best,
                "worst_group": worst,
                "gap_best": g_best,
                "gap_worst": g_worst,
                "gap_contrast": g_worst - g_best,
                "cka_best": float(c["cka_best"]),
                "cka_worst": float(c["cka_worst"]),
                "cka_diff": float(c["diff"]),
            }
        )
    shared = {str(a) for a in gaps["attribute"]} & {k[0] for k in cka_of}
    if not rows and (not shared or dropped):  # thin data: no (attribute, layer) has both a task-probe
        # gap for its best and worst group and a CKA contrast
        empty = pd.DataFrame(columns=[*_RELATION_COLUMNS])
        empty.attrs["dropped"] = dropped
        caveat = "no attribute has both a group task probe and a best-vs-worst CKA difference"
        return ProbeCkaRelation(table=empty, spearman=float("nan"), p_value=float("nan"), n=0, caveat=caveat)
    if not rows:
        probe_layers = sorted(gaps["layer"].astype(str).unique())
        cka_pairs = sorted({(k[1], k[2]) for k in cka_of})
        raise DataError(
            f"no probe layer {probe_layers} of any attribute matches a CKA layer pair {cka_pairs}; "
            "name probe layers as the CKA layers or pass layer_pairs={probe_layer: (layer_a, layer_b)}"
        )
    table = pd.DataFrame(rows)
    table.attrs["dropped"] = dropped
    n = len(table)
    rho = p = float("nan")
    x = table["gap_contrast"].to_numpy(dtype=float)
    y = table["cka_diff"].to_numpy(dtype=float)
    if n >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
        rx, ry = stats.rankdata(x), stats.rankdata(y)  # average ranks; permuting pairs keeps them

        def pearson(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
            a = a - a.mean(axis=axis, keepdims=True)
            b = b - b.mean(axis=axis, keepdims=True)
            return (a * b).sum(axis=axis) / np.sqrt((a * a).sum(axis=axis) * (b * b).sum(axis=axis))

        rho = float(pearson(rx, ry))
        test = stats.permutation_test(
            (ry,),  # one sample: "pairings" permutes its order against the fixed rx, n! pairings in all
            lambda b, axis=-1: pearson(rx, b, axis),
            permutation_type="pairings",
            vectorized=True,
            n_resamples=9999,
            alternative="two-sided",
            rng=np.random.default_rng(seed),
        )
        p = float(test.pvalue)
    return ProbeCkaRelation(table=table, spearman=rho, p_value=p, n=n, caveat=_caveat(n))
