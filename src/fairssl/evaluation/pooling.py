"""Inference pooled over data replicates: each replicate a new split (or simulated dataset), trained anew.

A study with ``replicates = R`` analyses each replicate r on its own test set
(:func:`~fairssl.evaluation.inference.study_inference`), giving per setup and quantity a value v_r
(plug-in mean over seeds) with centre c_r (bias-corrected), and per comparison a paired change d_r.
The replicates are independent experiments: each redraws which subjects train and test, then trains
every model. So the spread of their values holds every source of variation at once (the data split,
test-set sampling, fine-tuning and pre-training randomness), and the pooled interval is the one-sample
t interval over replicates::

    estimate  = mean_r v_r                  (changes: mean_r d_r)
    centre    = mean_r c_r                  (changes: the estimate)
    SE        = sd_r(c_r) / sqrt(R')        (R' replicates with a finite value; sd with ddof 1)
    interval  = centre -/+ t_{(1 + level)/2, R' - 1} SE;    p = 2 P(T_{R'-1} > |centre / SE|)

Each replicate's own within-replicate interval is not used: its seed spread and test resamples are
already inside the replicate-to-replicate spread. With few replicates the t quantile is large (R = 2:
df 1, t = 12.7; R = 3: 4.3), which is the honest price of estimating the split's variance; the power
columns say how many replicates would detect the target change.

The testing policy is the one of :mod:`~fairssl.evaluation.inference` (same comparisons, family,
correction, verdicts and chance guard, via :func:`~fairssl.evaluation.inference.finish_changes`);
``seeds_needed`` counts replicates here (``family["unit"] == "replicates"``). A comparison needs
R' >= 2 replicates for a verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from fairssl.errors import DataError
from fairssl.evaluation.components import Components
from fairssl.evaluation.inference import (
    InferenceSettings,
    StudyInference,
    comparisons,
    component_row,
    finish_changes,
    ordered,
)

UNIT = "replicates"
"""``family["unit"]`` of pooled inference: ``n_seeds``, ``n_pairs`` and ``seeds_needed`` count replicates."""


def replicate_components(values: np.ndarray, centres: np.ndarray | None = None) -> Components:
    """Components of the pooled interval from per-replicate values (R,) and their centres (R,) (the
    values themselves for paired changes): mean, bias = mean(values - centres), var_seeds = var(centres)
    (ddof 1) standing for the replicate variance, no separate test-sampling term."""
    v = np.asarray(values, dtype=np.float64)
    c = v if centres is None else np.asarray(centres, dtype=np.float64)
    keep = np.isfinite(v) & np.isfinite(c)
    v, c = v[keep], c[keep]
    n = int(v.size)
    if n == 0:
        return Components(0, np.nan, np.nan, np.nan, np.nan, 0.0, centres is not None)
    var = float(c.var(ddof=1)) if n >= 2 else np.nan
    bias = float((v - c).mean())
    return Components(n, float(v.mean()), bias, 0.0, var, 1.0, centres is not None)


def _sources(n: int) -> str:
    return f"the data split ({n} replicates); test subjects; fine-tuning seeds; pre-training randomness"


def _not_covered(n: int) -> str:
    return "" if n >= 2 else "the replicate spread (one replicate has a value)"


def pool_replicates(
    parts: Sequence[StudyInference], settings: InferenceSettings | None = None
) -> StudyInference:
    """Pool the inference of R replicates (see the module docstring).

    Args:
        parts: one :class:`StudyInference` per replicate (their ``estimates`` and ``changes`` tables).
        settings: the study's testing policy (the replicates' own).

    Returns:
        A :class:`StudyInference` with the columns of a single study's (``n_seeds`` / ``n_pairs`` count
        replicates), ``runs`` empty, and ``family`` with ``unit = "replicates"`` and ``replicates = R``.
    """
    cfg = settings or InferenceSettings()
    if len(parts) < 2:
        raise DataError(f"pooling needs at least 2 replicates; got {len(parts)}")
    est = pd.concat([p.estimates.assign(_r=r) for r, p in enumerate(parts)], ignore_index=True)
    if est.empty:
        return StudyInference(pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), {})
    level = 1.0 - cfg.alpha
    setups = ordered([str(s) for s in est["setup"]], cfg.baseline)
    comps: dict[tuple[str, str], Components] = {}
    est_rows = []
    for (setup, quantity), grp in est.groupby(["setup", "quantity"], sort=False):
        comp = replicate_components(grp["estimate"].to_numpy(), grp["estimate_bc"].to_numpy())
        comps[(str(setup), str(quantity))] = comp
        est_rows.append(
            {
                "setup": setup,
                "quantity": quantity,
                **component_row(comp, level, str(quantity), change=False),
                "sources": _sources(comp.n),
                "not_covered": _not_covered(comp.n),
            }
        )
    estimates = pd.DataFrame(est_rows)
    order = {s: i for i, s in enumerate(setups)}
    estimates = estimates.sort_values("setup", key=lambda c: c.map(order), kind="stable")
    changes = _pooled_changes(parts, setups, comps, cfg)
    family: dict[str, Any] = {
        "baseline": cfg.baseline,
        "metrics": list(cfg.family_metrics),
        "members": int((changes["in_family"] & np.isfinite(changes["p_value"])).sum()) if len(changes) else 0,
        "declared": int(changes["in_family"].sum()) if len(changes) else 0,
        "correction": cfg.correction,
        "alpha": cfg.alpha,
        "power": cfg.power,
        "unit": UNIT,
        "replicates": len(parts),
        "n_test_subjects": [p.family.get("n_test_subjects") for p in parts],
    }
    return StudyInference(estimates.reset_index(drop=True), changes, pd.DataFrame(), family)


def _pooled_changes(
    parts: Sequence[StudyInference],
    setups: list[str],
    comps: dict[tuple[str, str], Components],
    cfg: InferenceSettings,
) -> pd.DataFrame:
    frames = [p.changes.assign(_r=r) for r, p in enumerate(parts) if not p.changes.empty]
    if not frames:
        return pd.DataFrame()
    ch = pd.concat(frames, ignore_index=True)
    rows: list[dict[str, Any]] = []
    for setup, baseline, family_metrics in comparisons(setups, cfg):
        mine = ch[(ch["setup"] == setup) & (ch["baseline"] == baseline)]
        for quantity, grp in mine.groupby("quantity", sort=False):
            comp = replicate_components(grp["estimate"].to_numpy())
            base = comps.get((baseline, str(quantity)))
            rows.append(
                {
                    "setup": setup,
                    "baseline": baseline,
                    "quantity": quantity,
                    "_comp": comp,
                    "baseline_estimate": base.mean if base is not None else np.nan,
                    "p_value": comp.p_value() if comp.n >= 2 else np.nan,
                    "in_family": quantity in family_metrics and comp.n >= 2,
                    "sources": _sources(comp.n),
                    "not_covered": _not_covered(comp.n),
                }
            )
    return finish_changes(rows, comps, cfg)


__all__ = ["UNIT", "pool_replicates", "replicate_components"]
