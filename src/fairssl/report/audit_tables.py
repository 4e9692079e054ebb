"""The report's tables of the dataset audit (stage 1): split sizes and label bias per group.

Inputs are the audit's ``dataset/groups.csv`` (per split x attribute x group: windows, subjects,
prevalence, mean difference and disparate impact against the reference group), ``dataset/sizes.csv`` and
``dataset/references.csv``. Nothing here trains, reads files or draws.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fairssl.report.conventions import as_bool


def label_bias_table(groups: pd.DataFrame, *, references: pd.DataFrame | None = None) -> pd.DataFrame:
    """The audit's label bias per attribute x group (all windows) with the test split's counts beside.

    Columns attribute, group, reference, is_reference, windows, share, subjects, prevalence,
    mean_difference (P(y=1|g) - P(y=1|ref), ideal 0), disparate_impact (ratio, ideal 1; outside 0.8-1.25
    fails the four-fifths rule), test_windows, test_positives, test_negatives.
    """
    if groups is None or groups.empty:
        return pd.DataFrame()
    split = groups["split"] if "split" in groups else pd.Series("all", index=groups.index)
    base = groups[split == "all"].copy()
    if base.empty:
        base = groups.copy()
    test = groups[split == "test"].set_index(["attribute", "group"])
    keep = [
        c
        for c in [
            "attribute",
            "group",
            "is_reference",
            "windows",
            "share",
            "subjects",
            "prevalence",
            "mean_difference",
            "disparate_impact",
        ]
        if c in base.columns
    ]
    out = base[keep].reset_index(drop=True)
    if "is_reference" in out:
        out["is_reference"] = as_bool(out["is_reference"])
    if references is not None and not references.empty:
        out = out.merge(references, on="attribute", how="left")
    elif "is_reference" in out:
        refs = out[out["is_reference"]].groupby("attribute")["group"].first()
        out["reference"] = out["attribute"].map(refs)
    for col, src in (
        ("test_windows", "windows"),
        ("test_positives", "positives"),
        ("test_negatives", "negatives"),
    ):
        if src in test.columns:
            out[col] = [
                test[src].get((a, g), np.nan) for a, g in zip(out["attribute"], out["group"], strict=True)
            ]
    front = ["attribute", "group", "reference"] if "reference" in out else ["attribute", "group"]
    return out[front + [c for c in out.columns if c not in front]]


def split_table(sizes: pd.DataFrame, groups: pd.DataFrame | None = None) -> pd.DataFrame:
    """The audit's split sizes with a ``split`` column (recovered from ``groups`` for older run folders)."""
    if sizes is None or sizes.empty:
        return pd.DataFrame()
    if "split" in sizes.columns:
        return sizes.reset_index(drop=True)
    names: list[str] = []
    if groups is not None and "split" in groups:
        names = list(dict.fromkeys(groups["split"].astype(str)))
    if len(names) != len(sizes):
        names = [f"row {i}" for i in range(len(sizes))]
    return sizes.reset_index(drop=True).assign(split=names)[["split", *sizes.columns]]
