"""Stage 5, the study: every model scored on shared resamples of test subjects, setups compared with the
supervised baseline, accuracy-matched references and controls (one testing family), and the curves and
tables that read those comparisons (``summary``, ``setups``, ``changes``, ``comparison``,
``accuracy_curve``, ``checkpoint_match``, ``label_amplification``, ``pool``).

The trained accuracy-matched reference ``checkpoint:<setup>``: where the supervised run of an SSL run's
seed stored its training trajectory (``trajectory.parquet``), the epoch whose validation AUROC is closest
to the SSL model's validation AUROC is chosen (:func:`~fairssl.evaluation.matching.choose_checkpoint`)
and its test scores join the study as one more model. The SSL model's validation AUROC is computed from
its stored ``val_predictions.parquet`` (the selected model's own scores), with the same labels and the
same AUROC function as every trajectory epoch's, rather than read from its history: both sides of the
match are then one computation on one set of windows. With ``finetune.mitigation = "thresholds"`` no
checkpoint reference is built (the setups' test scores are threshold-adjusted, the trajectory's are the
model's own)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fairssl.atomic import write_json_atomic
from fairssl.config import StudyConfig
from fairssl.errors import DataError
from fairssl.evaluation.amplification import AMPLIFICATION_COLUMNS, label_bias_amplification
from fairssl.evaluation.auroc import binary_auroc
from fairssl.evaluation.inference import InferenceSettings, StudyDraws, StudyInference, study_inference
from fairssl.evaluation.matching import (
    CHECKPOINT_PREFIX,
    MATCHED_PREFIX,
    choose_checkpoint,
    degradation_curve,
    match_auroc,
)
from fairssl.evaluation.resampling import ModelDraws, resample_models
from fairssl.evaluation.verdicts import setup_table
from fairssl.experiments.grid import RunSpec
from fairssl.experiments.stage_evaluation import fairness_options
from fairssl.experiments.workspace import Workspace
from fairssl.results_schema import write_result


def _resample(
    pred: pd.DataFrame, scores: list[np.ndarray], attributes: list[str], config: StudyConfig, *, n_boot: int
) -> ModelDraws:
    """Models' scores (K arrays aligned to ``pred``'s windows) on ``n_boot`` shared resamples of test
    subjects, with the study's evaluation settings."""
    ev = config.evaluation
    return resample_models(
        pred["y"].to_numpy(),
        scores,
        pred[attributes],
        pred["subject"].to_numpy(),
        n_boot=n_boot,
        seed=0,
        threshold=ev.threshold,
        reference=ev.reference,
        min_group_size=ev.min_group_size,
        include_missing=ev.include_missing,
        fairness_options=fairness_options(config),
    )


CHECKPOINT_COLUMNS = [
    "setup",
    "seed",
    "epoch",
    "val_auroc_ssl",
    "val_auroc_checkpoint",
    "test_auroc_checkpoint",
]
"""``results/checkpoint_match.csv``: per SSL run, the chosen supervised epoch and the AUROCs of the match."""


def _auroc(y: np.ndarray, scores: np.ndarray) -> float:
    return binary_auroc(y, scores) if np.unique(y).size == 2 else float("nan")


def read_trajectories(
    ws: Workspace, runs: list[RunSpec]
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """(supervised run id -> ``trajectory.parquet``, run id -> ``val_predictions.parquet``) of the runs
    that stored them; runs without the files are left out (they predate them)."""
    trajectories, val = {}, {}
    for spec in runs:
        folder = ws.run(spec.run_id)
        if spec.setup == "supervised" and (folder / "trajectory.parquet").is_file():
            trajectories[spec.run_id] = pd.read_parquet(folder / "trajectory.parquet")
        if (folder / "val_predictions.parquet").is_file():
            val[spec.run_id] = pd.read_parquet(
                folder / "val_predictions.parquet", columns=["window_id", "y", "prob_1"]
            )
    return trajectories, val


def _epoch_aurocs(trajectory: pd.DataFrame, split: str, labels: pd.Series) -> pd.Series:
    """epoch -> AUROC of the trajectory's ``split`` scores on ``labels`` (window_id -> y)."""
    rows = trajectory[trajectory["split"] == split]
    epochs = rows["epoch"].to_numpy()
    out = {}
    for epoch in np.unique(epochs):
        g = rows[epochs == epoch]
        out[int(epoch)] = _auroc(
            labels.loc[g["window_id"]].to_numpy(), g["prob_1"].to_numpy(dtype=np.float64)
        )
    return pd.Series(out, dtype=np.float64)


def checkpoint_matches(
    runs: list[RunSpec],
    order: np.ndarray,
    y_test: np.ndarray,
    trajectories: dict[str, pd.DataFrame],
    val_predictions: dict[str, pd.DataFrame],
) -> tuple[pd.DataFrame, dict[tuple[str, int], np.ndarray]]:
    """The trained reference of every SSL run whose seed's supervised run has a trajectory.

    For SSL run (setup, seed): target = AUROC of its validation scores; the supervised epoch whose
    validation AUROC is closest (ties to the later epoch) is chosen on validation only; that epoch's test
    scores, aligned to ``order`` (test window ids (N,), labels ``y_test`` (N,)), are the reference.
    Returns (:data:`CHECKPOINT_COLUMNS` table, (setup, seed) -> test scores (N,) float64).
    """
    sup = {s.seed: s.run_id for s in runs if s.setup == "supervised" and s.run_id in trajectories}
    rows, refs = [], {}
    for spec in runs:
        name = str(spec.setup)
        if name == "supervised" or name.startswith("random:") or spec.seed not in sup:
            continue
        sup_id = sup[spec.seed]
        if spec.run_id not in val_predictions or sup_id not in val_predictions:
            continue
        own = val_predictions[spec.run_id]
        target = _auroc(own["y"].to_numpy(), own["prob_1"].to_numpy(dtype=np.float64))
        traj = trajectories[sup_id]
        labels = val_predictions[sup_id].set_index("window_id")["y"]
        val_auc = _epoch_aurocs(traj, "val", labels)
        if not np.isfinite(target) or not np.isfinite(val_auc.to_numpy(dtype=float)).any():
            continue
        epoch = choose_checkpoint(val_auc.index.to_numpy(), val_auc.to_numpy(dtype=float), target)
        test = traj[(traj["split"] == "test") & (traj["epoch"] == epoch)].set_index("window_id")
        if len(test) != len(order) or not test.index.isin(order).all():
            raise DataError(
                f"the trajectory of run {sup_id} scored other test windows than the study's; re-run it"
            )
        scores = test.loc[order, "prob_1"].to_numpy(dtype=np.float64)
        refs[(name, spec.seed)] = scores
        rows.append(
            {
                "setup": name,
                "seed": spec.seed,
                "epoch": epoch,
                "val_auroc_ssl": target,
                "val_auroc_checkpoint": float(val_auc.loc[epoch]),
                "test_auroc_checkpoint": _auroc(y_test, scores),
            }
        )
    return pd.DataFrame(rows, columns=CHECKPOINT_COLUMNS), refs


def study_inference_of(
    runs: list[RunSpec],
    preds: dict[str, pd.DataFrame],
    attributes: list[str],
    config: StudyConfig,
    *,
    checkpoints: dict[tuple[str, int], np.ndarray] | None = None,
) -> StudyInference:
    """The study's inference over every fine-tuning run: all models resampled on the same test subjects.

    Predictions are aligned by window id to the first run's order (a run scored on other windows is a
    DataError: every model of a study must see the same test set). Each SSL run also gets its
    accuracy-matched reference ``matched:<setup>``: the supervised run of its seed degraded, group-blind,
    to its test AUROC (:func:`~fairssl.evaluation.matching.match_auroc`). ``checkpoints``: (setup, seed)
    -> test scores aligned to the first run's windows (:func:`checkpoint_matches`), added as
    ``checkpoint:<setup>``.
    """
    ev = config.evaluation
    first = preds[runs[0].run_id]
    order = first["window_id"].to_numpy()
    scores = []
    for spec in runs:
        pred = preds[spec.run_id].set_index("window_id")
        if len(pred) != len(order) or not pred.index.isin(order).all():
            raise DataError(
                f"run {spec.run_id} was scored on other test windows than run {runs[0].run_id}; "
                "every model of a study must see the same test set: re-run it"
            )
        scores.append(pred.loc[order, "prob_1"].to_numpy(dtype=np.float64))
    setups = [str(s.setup) for s in runs]
    seeds = [s.seed for s in runs]
    y = first["y"].to_numpy()
    sup = {s.seed: i for i, s in enumerate(runs) if s.setup == "supervised"}
    if np.unique(y).size == 2:  # accuracy-matched references: supervised degraded to each SSL model's AUROC
        for i, spec in enumerate(runs):
            name = str(spec.setup)
            if name == "supervised" or name.startswith("random:") or spec.seed not in sup:
                continue
            target = binary_auroc(y, scores[i])
            matched, _, _ = match_auroc(y, scores[sup[spec.seed]], target, seed=spec.seed)
            scores.append(matched)
            setups.append(MATCHED_PREFIX + name)
            seeds.append(spec.seed)
    for (name, seed), ref in sorted((checkpoints or {}).items()):
        scores.append(ref)
        setups.append(CHECKPOINT_PREFIX + name)
        seeds.append(seed)
    draws = _resample(first, scores, attributes, config, n_boot=ev.n_boot)
    study = StudyDraws(tuple(setups), tuple(seeds), draws)
    return study_inference(study, inference_settings(config))


def inference_settings(config: StudyConfig) -> InferenceSettings:
    """The study's testing policy from its ``evaluation`` section."""
    ev = config.evaluation
    return InferenceSettings(
        alpha=ev.alpha,
        correction=ev.correction,
        power=ev.power,
        target_pd_change=ev.target_change,
        pretraining_shared=config.pretrain.seed is not None,
    )


def label_amplification(
    runs: list[RunSpec], preds: dict[str, pd.DataFrame], results: pd.DataFrame, attributes: list[str]
) -> pd.DataFrame:
    """Clean-label vs recorded-label vs model disparity per setup and group
    (:func:`~fairssl.evaluation.amplification.label_bias_amplification`); empty without clean labels."""
    first = preds[runs[0].run_id]
    if "y_clean" not in first or results.empty:
        return pd.DataFrame(columns=AMPLIFICATION_COLUMNS)
    rows = results[
        (results["metric"] == "disparate_impact")
        & (results["label"] == "recorded")
        & ~results["group"].astype(str).isin(["worst", "all"])
    ]
    # with n_boot = 0 the results also hold the plug-in ``value`` column: keep one
    model = rows.drop(columns="value", errors="ignore").rename(columns={"estimate": "value"})[
        ["setup", "seed", "attribute", "group", "reference_group", "value"]
    ]
    return label_bias_amplification(
        first["y"].to_numpy(), first["y_clean"].to_numpy(), first[attributes], model
    )


CURVE_COLUMNS = ["kind", "seed", "lambda", "epoch", "auroc", "parity_deviation"]


def accuracy_curve(
    runs: list[RunSpec],
    preds: dict[str, pd.DataFrame],
    attributes: list[str],
    config: StudyConfig,
    *,
    trajectories: dict[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """The supervised models' accuracy-fairness curves, test AUROC and parity deviation per point.

    ``kind = "degradation"``: per supervised seed and lambda (0 = the model, 1 = noise;
    :func:`~fairssl.evaluation.matching.degradation_curve`), the group-blind curve. ``kind =
    "trajectory"``: per supervised seed with a stored trajectory (``trajectories``: run id -> table) and
    epoch, that epoch's test scores (the curve the trained ``checkpoint:`` references lie on). Columns
    :data:`CURVE_COLUMNS` (``lambda`` empty on trajectory rows, ``epoch`` on degradation rows). Empty
    without a supervised run."""
    rows: list[dict[str, Any]] = []
    for spec in runs:
        if spec.setup != "supervised":
            continue
        pred = preds[spec.run_id]
        y = pred["y"].to_numpy()
        if np.unique(y).size < 2:
            continue
        curve = degradation_curve(y, pred["prob_1"].to_numpy(dtype=np.float64), seed=spec.seed)
        values = _resample(pred, [scores for _, scores in curve], attributes, config, n_boot=0).values
        # values: (steps, Q) AUROC, PD, per-attribute PD
        for (lam, _), v in zip(curve, values, strict=True):
            rows.append(
                {
                    "kind": "degradation",
                    "seed": spec.seed,
                    "lambda": lam,
                    "auroc": v[0],
                    "parity_deviation": v[1],
                }
            )
        traj = (trajectories or {}).get(spec.run_id)
        if traj is None:
            continue
        test = traj[traj["split"] == "test"]
        order = pred["window_id"].to_numpy()
        epochs = sorted(int(e) for e in test["epoch"].unique())
        per_epoch = [
            test[test["epoch"] == e].set_index("window_id").loc[order, "prob_1"].to_numpy(dtype=np.float64)
            for e in epochs
        ]
        values = _resample(pred, per_epoch, attributes, config, n_boot=0).values
        for e, v in zip(epochs, values, strict=True):
            rows.append(
                {"kind": "trajectory", "seed": spec.seed, "epoch": e, "auroc": v[0], "parity_deviation": v[1]}
            )
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


def run_summary(runs: list[RunSpec], inference: StudyInference) -> pd.DataFrame:
    """One row per run: AUROC and parity deviation with their test-sampling intervals (centred on the
    bias-corrected value, at 1 - alpha), and the relative PD improvement over the supervised run of the
    same seed (point)."""
    per = inference.runs
    rows = []
    for spec in runs:
        mine = per[(per["setup"] == spec.setup) & (per["seed"] == spec.seed)].set_index("quantity")
        row: dict[str, Any] = {"run_id": spec.run_id, "setup": spec.setup, "seed": spec.seed}
        for q, name, lo, hi in (
            ("auroc", "auroc", "auroc_low", "auroc_high"),
            ("parity_deviation", "parity_deviation", "pd_low", "pd_high"),
        ):
            if q in mine.index:
                row[name], row[lo], row[hi] = (mine.loc[q, c] for c in ("estimate", "ci_low", "ci_high"))
        rows.append(row)
    out = pd.DataFrame(rows)
    sup = out[out["setup"] == "supervised"].set_index("seed")["parity_deviation"]
    base = out["seed"].map(sup).to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["improvement"] = np.where(base > 0, (base - out["parity_deviation"]) / base, np.nan)
    return out


def pool_table(ws: Workspace, specs: list[RunSpec]) -> pd.DataFrame:
    """The pre-training pools' group shares: one row per pre-training run x attribute x group.

    Columns run_id, seed, attribute, group, windows, share (in [0, 1]; the shares of one attribute sum
    to 1 per run). Read from each pre-training run's ``pool.csv``; a run without one is left out.
    """
    frames = []
    for spec in specs:
        path = ws.run(spec.run_id) / "pool.csv"
        if spec.kind != "pretrain" or not path.is_file():
            continue
        frame = pd.read_csv(path, dtype={"attribute": str, "group": str})
        frame.insert(0, "seed", spec.seed)
        frame.insert(0, "run_id", spec.run_id)
        frames.append(frame)
    columns = ["run_id", "seed", "attribute", "group", "windows", "share"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def infer_study(
    config: StudyConfig,
    ws: Workspace,
    runs: list[RunSpec],
    specs: list[RunSpec],
    preds: dict[str, pd.DataFrame],
    results: pd.DataFrame,
    attributes: list[str],
) -> dict[str, pd.DataFrame]:
    """Stage 5, the study: setups compared on shared resamples, verdicts, curves; tables written."""
    trajectories, val = read_trajectories(ws, runs)
    first = preds[runs[0].run_id]
    match = pd.DataFrame(columns=CHECKPOINT_COLUMNS)
    refs: dict[tuple[str, int], np.ndarray] = {}
    if config.finetune.mitigation != "thresholds" and np.unique(first["y"]).size == 2:
        match, refs = checkpoint_matches(
            runs, first["window_id"].to_numpy(), first["y"].to_numpy(), trajectories, val
        )
    inference = study_inference_of(runs, preds, attributes, config, checkpoints=refs)
    summary = run_summary(runs, inference)
    comparison = setup_table(inference, checkpoint_match=match)
    curve = accuracy_curve(runs, preds, attributes, config, trajectories=trajectories)
    amplification = label_amplification(runs, preds, results, attributes)
    pools = pool_table(ws, specs)
    out = {
        "summary": summary,
        "setups": inference.estimates,
        "changes": inference.changes,
        "accuracy_curve": curve,
        "checkpoint_match": match,
        "label_amplification": amplification,
        "pool": pools,
        "comparison": comparison,  # last: the report needs it, so it marks a complete inference
    }
    write_json_atomic(ws.results / "family.json", inference.family)
    for name, frame in out.items():
        write_result(ws.results, name, frame)
    return out


__all__ = [
    "CHECKPOINT_COLUMNS",
    "CURVE_COLUMNS",
    "accuracy_curve",
    "checkpoint_matches",
    "infer_study",
    "inference_settings",
    "label_amplification",
    "read_trajectories",
    "run_summary",
    "study_inference_of",
]
