"""Difference in differences across studies: does a setup change fairness more under a bias source than
without it?

Each study (e.g. one simulated bias source) estimates, per SSL setup, the paired change of a quantity
against a baseline (``changes.csv``: setup - baseline, centre ``estimate_bc``, standard error ``se`` on
``df`` degrees of freedom; :mod:`~fairssl.evaluation.inference`). A reference study (the unbiased
control) estimates the same changes on data without the bias. The two studies are independent (their own
data, seeds and test subjects), so::

    DiD  = c_study - c_reference                          (same setup, baseline kind, quantity, variant)
    SE   = sqrt(se_study^2 + se_reference^2)
    df   = min(df_study, df_reference)                    (infinite only when both are)
    p    = 2 P(T_df > |DiD| / SE)

The degrees of freedom are the smaller of the two, not Welch-Satterthwaite's: each SE mixes a
test-sampling variance (known from the bootstrap) with an across-seed variance on n - 1 df, and with few
seeds Welch's df overstates what the data know (the per-study intervals reject it for the same reason,
:attr:`~fairssl.evaluation.components.Components.df`). The minimum is conservative (Banerjee's bound):
the calibration tests check type-I error and coverage by simulation, including 3 seeds per study.

Verdicts: ``lower`` (the corrected interval lies below 0) or ``higher`` (above 0), else
``not_distinguishable``. For parity deviation (lower is fairer) ``lower`` means the setup lowered PD more
(or raised it less) under the bias than without it. Rows whose two studies'
change rows are at chance (either verdict ``at_chance``), have one seed, or lack an interval get that
verdict and no test. All tested rows of one call form ONE family, corrected together
(:func:`~fairssl.evaluation.testing.adjust_pvalues`, Holm by default), and each interval is at its
row's corrected level (:func:`~fairssl.evaluation.testing.corrected_levels`), so interval and verdict never
disagree. ``mde`` is the smallest DiD the comparison detects with 80% power at that level.

Baseline kinds: ``supervised`` (raw change), ``matched`` (``matched:<setup>``, the supervised model degraded
group-blind to the setup's test AUROC, :mod:`~fairssl.evaluation.matching`), ``checkpoint``
(``checkpoint:<setup>``, the supervised model's epoch whose validation AUROC is closest to the setup's)
and ``control`` (``random:<setup>``, the frozen random encoder: what pre-training adds beyond freezing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from fairssl.errors import DataError
from fairssl.evaluation.inference import CONTROL_PREFIX
from fairssl.evaluation.matching import CHECKPOINT_PREFIX, MATCHED_PREFIX
from fairssl.evaluation.testing import adjust_pvalues, corrected_levels, critical_value, minimum_detectable

DID_COLUMNS = [
    "study",
    "variant",
    "setup",
    "baseline_kind",
    "quantity",
    "change",
    "change_reference",
    "did",
    "se",
    "df",
    "p_value",
    "p_adjusted",
    "level",
    "ci_low",
    "ci_high",
    "mde",
    "n_pairs",
    "n_pairs_reference",
    "verdict",
    "reason",
]
"""Columns of :func:`difference_in_differences`' table (``did.csv``)."""

BASELINE_KINDS = ("supervised", "matched", "checkpoint", "control")
_PREFIXES = {"matched": MATCHED_PREFIX, "checkpoint": CHECKPOINT_PREFIX, "control": CONTROL_PREFIX}
_UNTESTED = ("at_chance", "one_seed", "no_interval")


def baseline_kind(setup: str, baseline: str) -> str:
    """``supervised`` | ``matched`` (``matched:<setup>``) | ``checkpoint`` (``checkpoint:<setup>``) |
    ``control`` (``random:<setup>``) | ``""`` (any other comparison, e.g. a control against supervised)."""
    if baseline == "supervised":
        return "" if setup.startswith(CONTROL_PREFIX) or setup == "supervised" else "supervised"
    for kind, prefix in _PREFIXES.items():
        if baseline == prefix + setup:
            return kind
    return ""


def _keyed(changes: pd.DataFrame, quantity: str, kinds: Sequence[str]) -> pd.DataFrame:
    """The change rows of ``quantity`` whose baseline kind is in ``kinds``, with ``variant`` ("" when the
    table has none) and ``baseline_kind`` columns."""
    need = {"setup", "baseline", "quantity", "estimate_bc", "se", "df", "n_pairs", "verdict"}
    missing = sorted(need - set(changes.columns))
    if missing:
        raise DataError(
            f"a changes table lacks {', '.join(missing)}; "
            "re-run `fairssl analyse` on that study to rewrite it"
        )
    rows = changes[changes["quantity"] == quantity].copy()
    rows["variant"] = rows["variant"].astype(str) if "variant" in rows.columns else ""
    rows["baseline_kind"] = [
        baseline_kind(str(s), str(b)) for s, b in zip(rows["setup"], rows["baseline"], strict=True)
    ]
    return rows[rows["baseline_kind"].isin(list(kinds))]


def _untested_reason(verdict: str, verdict_ref: str, n: float, n_ref: float) -> str:
    for v in (verdict, verdict_ref):
        if v in _UNTESTED:
            return v
    if min(n, n_ref) < 2:
        return "one_seed"
    return ""


def difference_in_differences(
    studies: Mapping[str, pd.DataFrame],
    reference: str,
    *,
    quantity: str = "parity_deviation",
    kinds: Sequence[str] = BASELINE_KINDS,
    alpha: float = 0.05,
    correction: str = "holm",
    power: float = 0.8,
) -> pd.DataFrame:
    """DiD of every study's changes against the ``reference`` study's (see the module docstring).

    ``studies``: name -> a ``changes.csv`` frame (optionally with a ``variant`` column: rows are matched on
    variant, setup, baseline kind and quantity); ``reference`` must be one of the names. Returns one row
    per (study != reference, variant, setup, baseline kind) found in both, columns :data:`DID_COLUMNS`.
    A pair that exists in one study only is left out. Raises DataError for an unknown reference.
    """
    if reference not in studies:
        raise DataError(
            f"the reference study {reference!r} is not among the compared studies "
            f"({', '.join(studies)}); pass one of their names"
        )
    unknown = sorted(set(kinds) - set(BASELINE_KINDS))
    if unknown:
        raise DataError(f"unknown baseline kind {', '.join(unknown)}; use {', '.join(BASELINE_KINDS)}")
    keys = ["variant", "setup", "baseline_kind"]
    ref = _keyed(studies[reference], quantity, kinds)
    rows: list[dict[str, object]] = []
    for name, changes in studies.items():
        if name == reference:
            continue
        merged = _keyed(changes, quantity, kinds).merge(ref, on=keys, suffixes=("", "_ref"))
        for r in merged.to_dict("records"):
            se = float(np.hypot(r["se"], r["se_ref"]))
            df = float(min(r["df"], r["df_ref"]))
            did = float(r["estimate_bc"] - r["estimate_bc_ref"])
            reason = _untested_reason(
                str(r["verdict"]), str(r["verdict_ref"]), r["n_pairs"], r["n_pairs_ref"]
            )
            ok = not reason and np.isfinite(did) and np.isfinite(se) and se > 0
            p = np.nan
            if ok:  # two-sided; normal where df is infinite, as the studies' own tests
                z = abs(did) / se
                p = float(2 * (stats.norm.sf(z) if np.isinf(df) else stats.t.sf(z, df)))
            if not ok and not reason:
                reason = "no_interval"
            rows.append(
                {
                    "study": name,
                    "variant": r["variant"],
                    "setup": r["setup"],
                    "baseline_kind": r["baseline_kind"],
                    "quantity": quantity,
                    "change": float(r["estimate_bc"]),
                    "change_reference": float(r["estimate_bc_ref"]),
                    "did": did,
                    "se": se,
                    "df": df,
                    "p_value": p,
                    "n_pairs": float(r["n_pairs"]),
                    "n_pairs_reference": float(r["n_pairs_ref"]),
                    "reason": reason,
                }
            )
    table = pd.DataFrame(rows, columns=[c for c in DID_COLUMNS if c not in _LATER])
    return _finish(table, alpha=alpha, correction=correction, power=power)


_LATER = ("p_adjusted", "level", "ci_low", "ci_high", "mde", "verdict")


def _finish(table: pd.DataFrame, *, alpha: float, correction: str, power: float) -> pd.DataFrame:
    """One family over the tested rows: adjusted p, levels, intervals, MDE and verdicts."""
    p = table["p_value"].to_numpy(dtype=float)
    table["p_adjusted"] = adjust_pvalues(p, method=correction)
    table["level"] = corrected_levels(p, alpha=alpha, method=correction)
    se, df, level = (table[c].to_numpy(dtype=float) for c in ("se", "df", "level"))
    half = critical_value(level, df) * se if len(table) else np.zeros(0)
    table["ci_low"] = table["did"] - half
    table["ci_high"] = table["did"] + half
    table["mde"] = minimum_detectable(se, df, level, power=power) if len(table) else np.zeros(0)
    verdicts = []
    for rec in table.to_dict("records"):
        if rec["reason"]:
            verdicts.append(str(rec["reason"]))
        elif rec["p_adjusted"] < alpha and (rec["ci_low"] > 0 or rec["ci_high"] < 0):
            verdicts.append("lower" if rec["ci_high"] < 0 else "higher")
        else:
            verdicts.append("not_distinguishable")
    table["verdict"] = verdicts
    untested = table["reason"] != ""
    table.loc[untested, ["ci_low", "ci_high", "mde"]] = np.nan
    return table[DID_COLUMNS]


__all__ = ["BASELINE_KINDS", "DID_COLUMNS", "baseline_kind", "difference_in_differences"]
