"""One row per setup: its values, its changes against the baseline and its control, and their verdicts.

:func:`setup_table` reshapes :class:`~fairssl.evaluation.inference.StudyInference` into the table the
report and the CLI print (``results/comparison.csv``). Nothing here computes an interval or a test: every
number is :func:`~fairssl.evaluation.inference.study_inference`'s.

Columns (:data:`SETUP_COLUMNS`): per setup ``kind`` (``baseline`` | ``ssl`` | ``control``), ``n_seeds``;
``auroc``/``parity_deviation`` (plug-in mean over seeds) with ``*_low``/``*_high`` (at 1 - alpha, centred on
the bias-corrected mean) and ``sources`` / ``not_covered`` (what the intervals cover); against the baseline:
``auroc_change``, ``pd_change`` (setup - baseline; PD < 0 is fairer) with intervals at their corrected
``*_level``, ``improvement`` = -pd_change / PD_baseline (> 0 fairer; 0.28 = 28% lower PD) with its interval,
Holm- adjusted ``*_p``, ``verdict`` (PD) and ``auroc_verdict``, the minimum detectable relative PD change
(``mde_relative``) and the seeds that would detect the target change (``seeds_needed``, ``seeds_reason``);
against the accuracy-matched reference ``matched:<setup>`` (the supervised model degraded group-blind to this
setup's AUROC): ``matched_auroc``, ``matched_pd_change[_low/_high]``, ``matched_improvement[_low/_high]``,
``matched_verdict`` ("fairer at equal accuracy"); against the control ``random:<setup>`` when present:
``control``, ``control_pd_change[_low/_high]``, ``control_improvement[_low/_high]``, ``control_verdict``,
``control_mde_relative`` (the smallest relative change the comparison with the control detects with the
study's power); the family's ``family_size``, ``correction`` and ``alpha``; ``replicates``: 1 for one study, R
when the row pools R data replicates (then ``n_seeds``, ``n_pairs`` and ``seeds_needed`` count replicates,
:mod:`~fairssl.evaluation.pooling`); last, against the trained reference ``checkpoint:<setup>`` when the
supervised runs stored their trajectory (the supervised model's own epoch whose validation AUROC is closest to
this setup's; shown, never in the family): ``checkpoint_epochs`` (the chosen epoch per seed, "4, 5"),
``checkpoint_val_auroc_ssl`` and ``checkpoint_val_auroc`` (the two validation AUROCs the match equalised,
means over seeds), ``checkpoint_auroc`` (the checkpoint's test AUROC),
``checkpoint_auroc_change[_low/_high]``, ``checkpoint_pd_change[_low/_high]`` (< 0: the setup has the lower
PD), ``checkpoint_improvement[_low/_high]`` and ``checkpoint_verdict`` (``not_tested`` with two or more seeds:
not in the family).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fairssl.evaluation.inference import CONTROL_PREFIX, StudyInference
from fairssl.evaluation.matching import CHECKPOINT_PREFIX, MATCHED_PREFIX

PD = "parity_deviation"
AUROC = "auroc"

SETUP_COLUMNS = [
    "setup",
    "kind",
    "n_seeds",
    "auroc",
    "auroc_low",
    "auroc_high",
    "parity_deviation",
    "pd_low",
    "pd_high",
    "sources",
    "not_covered",
    "n_pairs",
    "auroc_change",
    "auroc_change_low",
    "auroc_change_high",
    "auroc_change_level",
    "auroc_change_p",
    "auroc_verdict",
    "pd_change",
    "pd_change_low",
    "pd_change_high",
    "pd_change_level",
    "pd_change_p",
    "improvement",
    "improvement_low",
    "improvement_high",
    "verdict",
    "verdict_reason",
    "mde_relative",
    "target_relative",
    "seeds_needed",
    "seeds_reason",
    "control",
    "control_pd_change",
    "control_pd_change_low",
    "control_pd_change_high",
    "control_improvement",
    "control_improvement_low",
    "control_improvement_high",
    "control_verdict",
    "control_mde_relative",
    "control_auroc_change",
    "control_auroc_change_low",
    "control_auroc_change_high",
    "matched_auroc",
    "matched_pd_change",
    "matched_pd_change_low",
    "matched_pd_change_high",
    "matched_improvement",
    "matched_improvement_low",
    "matched_improvement_high",
    "matched_verdict",
    "family_size",
    "correction",
    "alpha",
    "power",
    "replicates",
    "checkpoint_epochs",
    "checkpoint_val_auroc_ssl",
    "checkpoint_val_auroc",
    "checkpoint_auroc",
    "checkpoint_auroc_change",
    "checkpoint_auroc_change_low",
    "checkpoint_auroc_change_high",
    "checkpoint_pd_change",
    "checkpoint_pd_change_low",
    "checkpoint_pd_change_high",
    "checkpoint_improvement",
    "checkpoint_improvement_low",
    "checkpoint_improvement_high",
    "checkpoint_verdict",
]


def _kind(setup: str, baseline: str) -> str:
    if setup == baseline:
        return "baseline"
    return "control" if setup.startswith(CONTROL_PREFIX) else "ssl"


def setup_table(
    inference: StudyInference,
    *,
    baseline: str = "supervised",
    checkpoint_match: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The per-setup view of ``inference`` (see the module docstring); setups in their study order.

    ``checkpoint_match``: the chosen checkpoints (columns setup, seed, epoch, val_auroc_ssl,
    val_auroc_checkpoint; ``results/checkpoint_match.csv``) that fill ``checkpoint_epochs`` and the two
    validation AUROCs; without it those columns stay empty.
    """
    est = inference.estimates
    if est.empty:
        return pd.DataFrame(columns=SETUP_COLUMNS)
    ch = inference.changes
    rows: list[dict[str, Any]] = []
    for setup in dict.fromkeys(est["setup"]):
        if str(setup).startswith((MATCHED_PREFIX, CHECKPOINT_PREFIX)):  # shown on its SSL setup's row
            continue
        mine = est[est["setup"] == setup].set_index("quantity")
        row: dict[str, Any] = {"setup": setup, "kind": _kind(str(setup), baseline)}
        for q, prefix in ((AUROC, "auroc"), (PD, "pd")):
            if q not in mine.index:
                continue
            r = mine.loc[q]
            value_col = AUROC if q == AUROC else PD
            row[value_col] = r["estimate"]
            row[f"{prefix}_low"], row[f"{prefix}_high"] = r["ci_low"], r["ci_high"]
            row["n_seeds"] = max(int(r["n_seeds"]), int(row.get("n_seeds", 0)))  # seeds with any value
            row["sources"], row["not_covered"] = r["sources"], r["not_covered"]
        if not ch.empty:
            row.update(_against(ch, setup, baseline, prefix=""))
            matched = MATCHED_PREFIX + str(setup)
            if ((ch["setup"] == setup) & (ch["baseline"] == matched)).any():
                row.update(_against(ch, setup, matched, prefix="matched_"))
                ref = est[(est["setup"] == matched) & (est["quantity"] == AUROC)]
                row["matched_auroc"] = float(ref["estimate"].iloc[0]) if len(ref) else np.nan
            control = CONTROL_PREFIX + str(setup)
            if ((ch["setup"] == setup) & (ch["baseline"] == control)).any():
                row["control"] = control
                row.update(_against(ch, setup, control, prefix="control_"))
            checkpoint = CHECKPOINT_PREFIX + str(setup)
            if ((ch["setup"] == setup) & (ch["baseline"] == checkpoint)).any():
                row.update(_against(ch, setup, checkpoint, prefix="checkpoint_"))
                ref = est[(est["setup"] == checkpoint) & (est["quantity"] == AUROC)]
                row["checkpoint_auroc"] = float(ref["estimate"].iloc[0]) if len(ref) else np.nan
                row.update(_checkpoint_epochs(checkpoint_match, str(setup)))
        row.update(
            family_size=inference.family.get("members", 0),
            correction=inference.family.get("correction", ""),
            alpha=inference.family.get("alpha", np.nan),
            power=inference.family.get("power", np.nan),
            replicates=inference.family.get("replicates", 1),
        )
        rows.append(row)
    return pd.DataFrame(rows).reindex(columns=SETUP_COLUMNS)


def _checkpoint_epochs(match: pd.DataFrame | None, setup: str) -> dict[str, Any]:
    """``checkpoint_epochs`` ("4, 5": the chosen epoch per seed, in seed order) and the mean validation
    AUROCs of ``setup``'s rows of ``match`` (empty without rows)."""
    if match is None or match.empty:
        return {}
    mine = match[match["setup"].astype(str) == setup].sort_values("seed")
    if mine.empty:
        return {}
    return {
        "checkpoint_epochs": ", ".join(str(int(e)) for e in mine["epoch"]),
        "checkpoint_val_auroc_ssl": float(mine["val_auroc_ssl"].mean()),
        "checkpoint_val_auroc": float(mine["val_auroc_checkpoint"].mean()),
    }


def _against(changes: pd.DataFrame, setup: str, baseline: str, *, prefix: str) -> dict[str, Any]:
    """The change columns of ``setup`` against ``baseline`` (empty for the baseline itself)."""
    sel = changes[(changes["setup"] == setup) & (changes["baseline"] == baseline)].set_index("quantity")
    out: dict[str, Any] = {}
    if PD in sel.index:
        r = sel.loc[PD]
        out.update(
            {
                f"{prefix}pd_change": r["estimate"],
                f"{prefix}pd_change_low": r["ci_low"],
                f"{prefix}pd_change_high": r["ci_high"],
                f"{prefix}improvement": r["relative"],
                f"{prefix}improvement_low": r["relative_low"],
                f"{prefix}improvement_high": r["relative_high"],
                f"{prefix}verdict": r["verdict"],
            }
        )
        if prefix == "control_":  # what the comparison with the control could detect (power)
            out["control_mde_relative"] = r["mde_relative"]
        if not prefix:
            base = float(r["baseline_estimate"])  # type: ignore[arg-type]
            out.update(
                {
                    "n_pairs": int(r["n_pairs"]),  # type: ignore[arg-type]
                    "pd_change_level": r["level"],
                    "pd_change_p": r["p_adjusted"],
                    "verdict_reason": r["reason"],
                    "mde_relative": r["mde_relative"],
                    "target_relative": r["target"] / base if np.isfinite(base) and base > 0 else np.nan,
                    "seeds_needed": r["seeds_needed"],
                    "seeds_reason": r["seeds_reason"],
                }
            )
    if AUROC in sel.index:
        r = sel.loc[AUROC]
        out.update(
            {
                f"{prefix}auroc_change": r["estimate"],
                f"{prefix}auroc_change_low": r["ci_low"],
                f"{prefix}auroc_change_high": r["ci_high"],
            }
        )
        if not prefix:
            out.update(
                {
                    "auroc_change_level": r["level"],
                    "auroc_change_p": r["p_adjusted"],
                    "auroc_verdict": r["verdict"],
                }
            )
    return out
