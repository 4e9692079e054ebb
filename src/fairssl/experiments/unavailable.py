"""What an analysis could not compute, and why: rows of ``unavailable.csv`` from each stage's outputs.

Each function turns one stage's own reason codes into rows with the columns of
:data:`fairssl.experiments.record.GAP_COLUMNS`: stage, setup ("" = every setup), attribute, group,
quantity, reason (a code) and detail (one sentence naming the cause and the setting or data that would
change it). A reason shared by every model (a group too small on the shared test set) is one row with
setup ""; a reason of some models only names them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

SUMMARY_GROUPS = ("all", "worst", "overall")
"""Group labels of attribute-level rows in the results table (not a demographic group)."""

_SIZE_TEXT = {
    "below_min_size": "fewer test windows than evaluation.min_group_size = {min_group_size}",
    "below_min_subjects": "fewer test subjects than evaluation.min_subjects = {min_subjects}",
    "below_min_positives": "fewer positive test windows than evaluation.min_positives = {min_positives}",
}
_GROUP_TEXT = {
    "single_class_in_group": "only one class among its test windows",
    "missing_class_in_group": "only one class among its test windows",
    "no_positives_in_group": "no positive test window",
    "empty_group": "no test window",
    "no_eligible_group_in_rest": "no other group meets the minimum sizes to form the reference",
}
_SIZE_FIX = "lower the minimum, merge small groups, or use more test subjects"


def _windows(n: Any) -> str:
    return f"{n} test window{'' if n == 1 else 's'}"


def _reason_text(reason: str, settings: Mapping[str, Any]) -> str:
    for suffix, text in _SIZE_TEXT.items():
        if reason.endswith(suffix):
            who = "the reference group has " if reason.startswith("reference") else ""
            return f"{who}{text.format(**settings)}; {_SIZE_FIX}"
    if reason in _GROUP_TEXT:
        return _GROUP_TEXT[reason]
    return reason.replace("_", " ")


def _who(setups: Iterable[Any], all_setups: set[str]) -> str:
    mine = sorted({str(s) for s in setups})
    return "" if set(mine) >= all_setups else ",".join(mine)


def evaluation_gaps(results: pd.DataFrame, settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Undefined group metrics and undefined per-attribute parity deviation of the recorded labels.

    ``results``: the long results table (run_id, setup, label, attribute, group, metric, estimate,
    n_group, reason). ``settings``: ``evaluation.*`` (min_group_size, min_subjects, min_positives)."""
    if results.empty:
        return []
    rec = results[results["label"] == "recorded"]
    all_setups = {str(s) for s in rec["setup"]}
    rows: list[dict[str, Any]] = []
    groups = rec[
        ~rec["group"].astype(str).isin(SUMMARY_GROUPS)
        & rec["estimate"].isna()
        & rec["reason"].fillna("").astype(str).ne("")
    ]
    for (attribute, group, reason), part in groups.groupby(["attribute", "group", "reason"], sort=True):
        n = part["n_group"].dropna()
        size = f" ({_windows(int(n.iloc[0]))})" if len(n) else ""
        rows.append(
            {
                "stage": "evaluation",
                "setup": _who(part["setup"], all_setups),
                "attribute": attribute,
                "group": group,
                "quantity": "fairness_metrics" if part["metric"].nunique() > 1 else part["metric"].iloc[0],
                "reason": reason,
                "detail": f"{attribute} = {group}{size}: {_reason_text(str(reason), settings)}",
            }
        )
    pd_rows = rec[(rec["metric"] == "parity_deviation") & ~rec["attribute"].isin(["all"])]
    for key, part in pd_rows.groupby("attribute", sort=True):
        attribute = str(key)
        undefined = part[part["estimate"].isna()]
        if undefined.empty:
            continue
        codes = sorted({str(r) for r in undefined["reason"].fillna("") if str(r)}) or ["undefined"]
        every = len(undefined) == len(part)
        rows.append(
            {
                "stage": "evaluation",
                "setup": "" if every else _who(undefined["setup"], all_setups),
                "attribute": attribute,
                "group": "",
                "quantity": "parity_deviation",
                "reason": ";".join(codes),
                "detail": (
                    f"parity deviation of {attribute} is undefined for "
                    f"{'every model' if every else 'some models'}: fewer than two of its groups have "
                    "a defined disparity (see its group rows); it is left out of the overall parity "
                    "deviation"
                ),
            }
        )
    return rows


_VERDICT_TEXT = {
    "one_seed": "one seed per setup: an interval needs the spread across at least two training seeds; "
    "add seeds",
    "at_chance": "a model compared is at chance (its AUROC interval includes 0.5): no fairness verdict "
    "for a model that does not predict; check channel scaling, window length and training",
    "no_interval": "no interval: the change is undefined on the test set or in too many resamples",
}


def inference_gaps(comparison: pd.DataFrame) -> list[dict[str, Any]]:
    """Setups without a fairness verdict (one seed, at chance, no interval), from ``comparison.csv``."""
    if comparison.empty or "verdict" not in comparison:
        return []
    rows = []
    for _, r in comparison.iterrows():
        verdict = str(r.get("verdict", "") or "")
        if verdict not in _VERDICT_TEXT or str(r["setup"]) == "supervised":
            continue
        rows.append(
            {
                "stage": "inference",
                "setup": str(r["setup"]),
                "quantity": "verdict",
                "reason": verdict,
                "detail": f"setup {r['setup']}: {_VERDICT_TEXT[verdict]}",
            }
        )
    return rows


_SKIP_TEXT = {
    "too_small": _SIZE_TEXT["below_min_size"],
    "missing_excluded": "missing values are excluded (evaluation.include_missing = false)",
    "too_few_subjects": "fewer test subjects than the probes' folds (probes.n_splits = {n_splits})",
    "single_class": "only one class among its test windows",
}


def skipped_group_gaps(
    stage: str, quantity: str, skipped: Iterable[Mapping[str, Any]], settings: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Groups a stage left out (records attribute, group, size, status), one row each."""
    rows = []
    for rec in skipped:
        status = str(rec.get("status", ""))
        text = _SKIP_TEXT.get(status, status.replace("_", " ")).format_map(_Default(settings))
        rows.append(
            {
                "stage": stage,
                "attribute": str(rec.get("attribute", "")),
                "group": str(rec.get("group", "")),
                "quantity": quantity,
                "reason": status,
                "detail": f"{rec.get('attribute')} = {rec.get('group')} "
                f"({_windows(rec.get('size'))}): {text}",
            }
        )
    return rows


class _Default(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def attribute_gap(stage: str, quantity: str, attribute: str, reason: str, detail: str) -> dict[str, Any]:
    """One attribute-level row."""
    return {
        "stage": stage,
        "attribute": attribute,
        "quantity": quantity,
        "reason": reason,
        "detail": detail,
    }


def study_gap(stage: str, quantity: str, reason: str, detail: str) -> dict[str, Any]:
    """One study-level row (no setup, attribute or group)."""
    return {"stage": stage, "quantity": quantity, "reason": reason, "detail": detail}


__all__ = [
    "SUMMARY_GROUPS",
    "attribute_gap",
    "evaluation_gaps",
    "inference_gaps",
    "skipped_group_gaps",
    "study_gap",
]
