"""Label-bias amplification: does a model widen the gap that biased labels put between groups?

When the clean labels are known (the simulator keeps them), three disparities of one group against its
reference can be set side by side, each a ratio of positive rates (disparate impact; 1 = parity):

- ``clean``: the true prevalence ratio, P(y_clean = 1 | group) / P(y_clean = 1 | reference);
- ``recorded``: the same for the recorded (possibly under-recorded) labels the models were trained on;
- ``model``: the selection-rate ratio of the model's predictions (mean over seeds per setup).

``label_bias`` = |log recorded| - |log clean| (> 0: the recording widened the gap) and ``amplification``
= |log model| - |log recorded| (> 0: the model's predictions are further from parity than the labels it
learned from; < 0: it narrowed the gap). Log ratios make 0.5 and 2 equally far from parity.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fairssl.evaluation.counts import as_sensitive_frame

AMPLIFICATION_COLUMNS = [
    "setup",
    "attribute",
    "group",
    "reference_group",
    "clean",
    "recorded",
    "model",
    "label_bias",
    "amplification",
    "n_seeds",
]


def _log_distance(ratio: float) -> float:
    """|log ratio|: the distance of a ratio from parity (NaN unless the ratio is positive and finite)."""
    return float(abs(np.log(ratio))) if np.isfinite(ratio) and ratio > 0 else float("nan")


def _rate_ratio(y: np.ndarray, in_group: np.ndarray, in_reference: np.ndarray) -> float:
    """P(y = 1 | group) / P(y = 1 | reference); NaN when either side is empty or the reference rate is 0."""
    if not in_group.any() or not in_reference.any():
        return float("nan")
    ref = float(y[in_reference].mean())
    return float(y[in_group].mean()) / ref if ref > 0 else float("nan")


def label_bias_amplification(
    y_recorded: np.ndarray,
    y_clean: np.ndarray,
    sensitive_features: pd.DataFrame,
    model_ratios: pd.DataFrame,
) -> pd.DataFrame:
    """Clean-label, recorded-label and model disparity per (setup, attribute, group) (see the module).

    Args:
        y_recorded, y_clean: 0/1 labels (N,) of the test windows.
        sensitive_features: DataFrame, N rows, one column per attribute.
        model_ratios: the models' disparate-impact rows: columns setup, seed, attribute, group,
            reference_group (a group name, or ``rest`` for all other groups), value.

    Returns:
        DataFrame with :data:`AMPLIFICATION_COLUMNS`, one row per setup x compared group; ``model`` is the
        mean over seeds of the finite ratios.
    """
    frame = as_sensitive_frame(sensitive_features, len(y_recorded))
    yr, yc = np.asarray(y_recorded, dtype=np.float64), np.asarray(y_clean, dtype=np.float64)
    pairs = model_ratios[["attribute", "group", "reference_group"]].drop_duplicates()
    labels: dict[tuple[str, str, str], tuple[float, float]] = {}
    for attribute, group, reference in pairs.itertuples(index=False):
        if str(attribute) not in frame.columns:
            continue
        values = frame[str(attribute)].astype(str).to_numpy()
        in_group = values == str(group)
        in_ref = ~in_group if str(reference) == "rest" else values == str(reference)
        labels[(str(attribute), str(group), str(reference))] = (
            _rate_ratio(yc, in_group, in_ref),
            _rate_ratio(yr, in_group, in_ref),
        )
    model = (
        model_ratios.assign(value=pd.to_numeric(model_ratios["value"], errors="coerce"))
        .groupby(["setup", "attribute", "group", "reference_group"], sort=False)["value"]
        .agg(["mean", "count"])
        .reset_index()
    )
    rows = []
    for rec in model.to_dict("records"):
        key = (str(rec["attribute"]), str(rec["group"]), str(rec["reference_group"]))
        if key not in labels:
            continue
        clean, recorded = labels[key]
        mean = float(rec["mean"])
        dist = {k: _log_distance(v) for k, v in (("c", clean), ("r", recorded), ("m", mean))}
        rows.append(
            {
                "setup": rec["setup"],
                "attribute": key[0],
                "group": key[1],
                "reference_group": key[2],
                "clean": clean,
                "recorded": recorded,
                "model": mean,
                "label_bias": dist["r"] - dist["c"],
                "amplification": dist["m"] - dist["r"],
                "n_seeds": int(rec["count"]),
            }
        )
    return pd.DataFrame(rows, columns=AMPLIFICATION_COLUMNS)
