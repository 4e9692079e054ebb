"""Tables of the representation probes, from ``results/probes_demographic.csv`` and ``probes_task.csv``.

Values are means over seeds of each run's estimate and interval bounds (the bounds are the runs'
subject-level bootstrap intervals, averaged: a summary, not a new interval).
"""

from __future__ import annotations

import pandas as pd

from fairssl.report.conventions import setup_rank

_KEYS = ["setup", "attribute", "layer"]


def _mean_over_seeds(frame: pd.DataFrame, keys: list[str], extra: list[str]) -> pd.DataFrame:
    cols = ["estimate", "ci_low", "ci_high", *extra]
    out = frame.groupby(keys, sort=False)[cols].mean(numeric_only=True).reset_index()
    out["seeds"] = frame.groupby(keys, sort=False)["seed"].nunique().to_numpy() if "seed" in frame else 1
    return out.sort_values(keys, key=lambda col: setup_rank(col) if col.name == "setup" else col)


def demographic_probe_table(probes: pd.DataFrame, *, metric: str = "balanced_accuracy") -> pd.DataFrame:
    """Per setup x attribute x layer: mean probe ``metric``, mean CI bounds, chance, seeds.

    Higher than ``chance`` means the layer carries information about the attribute (see the probes
    module for why ``ci_low > chance`` is a liberal screen and the permutation p-value the valid test).
    """
    if probes is None or probes.empty or "metric" not in probes:
        return pd.DataFrame(columns=[*_KEYS, "estimate", "ci_low", "ci_high", "chance", "seeds"])
    rows = probes[probes["metric"] == metric]
    return _mean_over_seeds(rows, _KEYS, ["chance"]).reset_index(drop=True)


def task_probe_gap_table(task: pd.DataFrame, *, layer: str = "pooled") -> pd.DataFrame:
    """Per setup x attribute x group at ``layer``: mean AUROC gap of a group's own task probe over the pooled
    probe (above 0: the group is better served by its own decision boundary), mean CI bounds, seeds."""
    keys = ["setup", "attribute", "group"]
    if task is None or task.empty or "metric" not in task:
        return pd.DataFrame(columns=[*keys, "estimate", "ci_low", "ci_high", "seeds"])
    rows = task[(task["metric"] == "gap") & (task["layer"].astype(str) == layer)]
    return _mean_over_seeds(rows, keys, []).reset_index(drop=True)
