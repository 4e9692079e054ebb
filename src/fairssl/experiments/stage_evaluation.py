"""Stage 5, per run: every performance and fairness metric of each fine-tuned model, per group, with
bootstrap intervals over test subjects (the ``results`` long table)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from fairssl.config import StudyConfig
from fairssl.data.dataset import WindowDataset
from fairssl.evaluation.bootstrap import bootstrap_ci
from fairssl.evaluation.fairness import fairness_table
from fairssl.evaluation.parity import attribute_parity_deviation, parity_deviation
from fairssl.evaluation.performance import performance_table
from fairssl.experiments.artifacts import load_predictions
from fairssl.experiments.grid import RunSpec
from fairssl.experiments.workspace import Workspace

Log = Callable[[str], None]


def _label_sets(pred: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    labels = [("recorded", pred["y"].to_numpy())]
    if "y_clean" in pred:
        labels.append(("clean", pred["y_clean"].to_numpy()))
    return labels


def fairness_options(config: StudyConfig) -> dict[str, Any]:
    """The parity definition and minimum sizes of ``evaluation.*``, as keyword arguments of the
    evaluation functions."""
    ev = config.evaluation
    return {
        "parity": ev.parity,
        "privileged": dict(ev.privileged) or None,
        "deviation": ev.deviation,
        "min_subjects": ev.min_subjects,
        "min_positives": ev.min_positives,
    }


def evaluate_run(
    pred: pd.DataFrame, attributes: list[str], config: StudyConfig, *, seed: int
) -> pd.DataFrame:
    """Every performance and fairness metric of one run, with bootstrap CIs when ``n_boot`` > 0."""
    ev = config.evaluation
    score = pred["prob_1"].to_numpy()
    sens = pred[attributes]
    clusters = pred["subject"].to_numpy() if ev.cluster == "subject" else None
    options = fairness_options(config)
    frames = []
    for label_name, y in _label_sets(pred):
        if ev.n_boot > 0:
            table = bootstrap_ci(
                y,
                score,
                sens,
                clusters=clusters,
                n_boot=ev.n_boot,
                threshold=ev.threshold,
                seed=seed,
                reference=ev.reference,
                min_group_size=ev.min_group_size,
                include_missing=ev.include_missing,
                subjects=pred["subject"].to_numpy(),
                **options,
            )
        else:
            perf = performance_table(
                y,
                score,
                sens,
                threshold=ev.threshold,
                min_group_size=ev.min_group_size,
                include_missing=ev.include_missing,
            )
            deviation = options["deviation"]  # a parity-deviation option, not a table option
            fair = fairness_table(
                y,
                (score >= ev.threshold).astype(int),
                sens,
                reference=ev.reference,
                min_group_size=ev.min_group_size,
                include_missing=ev.include_missing,
                subjects=pred["subject"].to_numpy(),
                **{k: v for k, v in options.items() if k != "deviation"},
            )
            per_attr = attribute_parity_deviation(fair, deviation=deviation)
            pd_row = pd.DataFrame(
                [
                    {
                        "attribute": attr,
                        "group": "all",
                        "metric": "parity_deviation",
                        "value": value,
                        "reason": "",
                    }
                    for attr, value in [
                        ("all", parity_deviation(fair, deviation=deviation)),
                        *per_attr.items(),
                    ]
                ]
            )
            table = pd.concat([perf, fair, pd_row], ignore_index=True)
            table["estimate"] = table["value"]
            table["ci_low"] = np.nan
            table["ci_high"] = np.nan
        table.insert(0, "label", label_name)
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def evaluate_runs(
    ds: WindowDataset,
    config: StudyConfig,
    ws: Workspace,
    runs: list[RunSpec],
    attributes: list[str],
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Stage 5, per run: every metric per group (``results`` long table) and the runs' predictions."""
    tables = []
    preds: dict[str, pd.DataFrame] = {}
    for spec in runs:
        pred = preds[spec.run_id] = load_predictions(ws, spec.run_id, ds)
        table = evaluate_run(pred, attributes, config, seed=spec.seed)
        table.insert(0, "seed", spec.seed)
        table.insert(0, "setup", spec.setup)
        table.insert(0, "run_id", spec.run_id)
        tables.append(table)
    return pd.concat(tables, ignore_index=True), preds


__all__ = ["evaluate_run", "evaluate_runs", "fairness_options"]
