"""Stages 4-5 over the stored artifacts of a study's runs, then the report.

Reads each fine-tuning run's ``predictions.parquet`` and ``activations.npz`` (ids checked against the
dataset's test windows, never aligned by order alone) and writes to ``results/``:

- ``results.parquet`` / ``.csv``: one row per run x label x attribute x group x metric, with the groups
  compared, their sizes, the estimate, bootstrap CI and a reason code where a value is undefined;
- ``summary.csv``: per run (setup, seed): AUROC and parity deviation with their test-sampling intervals;
- ``setups.csv``, ``changes.csv``, ``comparison.csv``, ``family.json``: the study's inference
  (:func:`~fairssl.evaluation.inference.study_inference`): per-setup values over seeds and test subjects,
  paired changes against supervised and against controls with the family's corrected tests, verdicts
  and power; ``comparison.csv`` is the one-row-per-setup view the report prints;
- ``label_amplification.csv`` (clean labels known): per setup and group, the clean-label,
  recorded-label and model disparity (does the model amplify the label bias?);
- ``accuracy_curve.csv``: the supervised models' group-blind accuracy-fairness curve (AUROC and PD as
  their scores are degraded towards noise), the reference of the fairness-accuracy figure;
- ``pool.csv``: per pre-training run (seed), the pool's windows and share per attribute x group;
- ``cka.csv``, ``cka_conditioned.csv``, ``cka_best_worst.csv``, ``cka_ratio.csv``: stage 4;
- ``environment.json``: versions of fairssl, Python, torch, numpy, pandas... and the platform.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from fairssl.config import StudyConfig
from fairssl.data.dataset import WindowDataset
from fairssl.errors import DataError
from fairssl.evaluation.amplification import AMPLIFICATION_COLUMNS, label_bias_amplification
from fairssl.evaluation.bootstrap import bootstrap_ci
from fairssl.evaluation.fairness import fairness_table
from fairssl.evaluation.inference import InferenceSettings, StudyDraws, StudyInference, study_inference
from fairssl.evaluation.matching import MATCHED_PREFIX, degradation_curve, match_auroc
from fairssl.evaluation.parity import attribute_parity_deviation, parity_deviation
from fairssl.evaluation.performance import performance_table
from fairssl.evaluation.resampling import ModelDraws, resample_models
from fairssl.evaluation.verdicts import setup_table
from fairssl.experiments.grid import RunSpec
from fairssl.similarity.cka import cka_matrix
from fairssl.similarity.conditioned import (
    PERMUTATION,
    REFERENCE_SETUP,
    best_worst_difference,
    conditioned_cka,
    dissimilarity_ratio,
    summarise_conditioned,
)

if TYPE_CHECKING:
    from fairssl.experiments.workspace import Workspace

Log = Callable[[str], None]


def write_audit(ds: WindowDataset, config: StudyConfig, out: Path) -> dict[str, pd.DataFrame]:
    """Stage 1: the dataset audit tables, written as CSV to ``out``."""
    from fairssl.data.audit import audit

    out.mkdir(parents=True, exist_ok=True)
    result = audit(ds, reference=config.evaluation.reference)
    frames = result.to_frames()
    for name, frame in frames.items():
        # keep a named index (the split of ``sizes``) as the first column
        (frame.reset_index() if frame.index.name else frame).to_csv(out / f"{name}.csv", index=False)
    (out / "warnings.txt").write_text("\n".join(result.warnings) + ("\n" if result.warnings else ""))
    return frames


def write_environment(path: Path) -> dict[str, str]:
    """Write the software versions (fairssl, Python, torch, numpy, pandas, ..., platform) as JSON to
    ``path`` (``results/environment.json``); the report shows them."""
    import json

    from fairssl.report.html import software_versions

    env = software_versions()
    path.write_text(json.dumps(env, indent=2) + "\n")
    return env


def _attributes(ds: WindowDataset, config: StudyConfig) -> list[str]:
    wanted = config.evaluation.attributes
    if wanted is None:
        return ds.attribute_names
    unknown = [a for a in wanted if a not in ds.attribute_names]
    if unknown:
        raise DataError(
            f"evaluation.attributes names unknown attribute(s) {unknown}; "
            f"the dataset has {ds.attribute_names}"
        )
    return list(wanted)


def load_predictions(ws: Workspace, run_id: str, ds: WindowDataset) -> pd.DataFrame:
    """A run's test predictions joined to the dataset's attributes by window id."""
    pred = pd.read_parquet(ws.run(run_id) / "predictions.parquet")
    attrs = ds.attributes.reindex(pred["window_id"].to_numpy())
    if attrs.isna().any(axis=None):
        raise DataError(f"run {run_id}: predictions hold window ids the dataset does not have; re-run it")
    return pred.join(attrs.reset_index(drop=True).astype(str))


def load_activations(ws: Workspace, run_id: str, window_ids: np.ndarray) -> dict[str, np.ndarray]:
    """A run's stored activations, reordered to ``window_ids``."""
    with np.load(ws.run(run_id) / "activations.npz") as npz:
        stored = npz["window_id"]
        pos = pd.Index(stored).get_indexer(window_ids)
        if (pos < 0).any():
            raise DataError(f"run {run_id}: activations lack some test windows; re-run it")
        return {k: npz[k][pos].astype(np.float32) for k in npz.files if k != "window_id"}


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


def _metric(table: pd.DataFrame, metric: str, *, label: str = "recorded") -> pd.Series:
    rows = table[(table["metric"] == metric) & (table["label"] == label)]
    if metric == "auroc":
        rows = rows[rows["attribute"] == "overall"]
    if rows.empty:
        return pd.Series({"estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan})
    return rows.iloc[0][["estimate", "ci_low", "ci_high"]]


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


def study_inference_of(
    runs: list[RunSpec], preds: dict[str, pd.DataFrame], attributes: list[str], config: StudyConfig
) -> StudyInference:
    """The study's inference over every fine-tuning run: all models resampled on the same test subjects.

    Predictions are aligned by window id to the first run's order (a run scored on other windows is a
    DataError: every model of a study must see the same test set). Each SSL run also gets its
    accuracy-matched reference ``matched:<setup>``: the supervised run of its seed degraded, group-blind,
    to its test AUROC (:func:`~fairssl.evaluation.matching.match_auroc`).
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
            target = float(roc_auc_score(y, scores[i]))
            matched, _, _ = match_auroc(y, scores[sup[spec.seed]], target, seed=spec.seed)
            scores.append(matched)
            setups.append(MATCHED_PREFIX + name)
            seeds.append(spec.seed)
    draws = _resample(first, scores, attributes, config, n_boot=ev.n_boot)
    settings = InferenceSettings(
        alpha=ev.alpha,
        correction=ev.correction,
        power=ev.power,
        target_pd_change=ev.target_change,
        pretraining_shared=config.pretrain.seed is not None,
    )
    study = StudyDraws(tuple(setups), tuple(seeds), draws)
    return study_inference(study, settings)


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
    model = rows.rename(columns={"estimate": "value"})[
        ["setup", "seed", "attribute", "group", "reference_group", "value"]
    ]
    return label_bias_amplification(
        first["y"].to_numpy(), first["y_clean"].to_numpy(), first[attributes], model
    )


def accuracy_curve(
    runs: list[RunSpec], preds: dict[str, pd.DataFrame], attributes: list[str], config: StudyConfig
) -> pd.DataFrame:
    """The supervised models' group-blind accuracy-fairness curve: per supervised seed and lambda (0 = the
    model, 1 = noise; :func:`~fairssl.evaluation.matching.degradation_curve`), test AUROC and parity
    deviation. Columns seed, lambda, auroc, parity_deviation. Empty without a supervised run."""
    rows = []
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
            rows.append({"seed": spec.seed, "lambda": lam, "auroc": v[0], "parity_deviation": v[1]})
    return pd.DataFrame(rows, columns=["seed", "lambda", "auroc", "parity_deviation"])


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


def analyse(
    ds: WindowDataset, config: StudyConfig, ws: Workspace, specs: list[RunSpec], *, log: Log = print
) -> dict[str, Any]:
    """Evaluate every fine-tuning run, compare setups, compute conditioned CKA, and build the report."""
    ws.results.mkdir(parents=True, exist_ok=True)
    attributes = _attributes(ds, config)
    runs = [s for s in specs if s.kind == "finetune"]
    ev = config.evaluation
    started = time.perf_counter()
    log(f"evaluation: {len(runs)} models x {len(attributes)} attributes, {ev.n_boot} bootstrap resamples")
    tables = []
    preds: dict[str, pd.DataFrame] = {}
    for spec in runs:
        pred = preds[spec.run_id] = load_predictions(ws, spec.run_id, ds)
        table = evaluate_run(pred, attributes, config, seed=spec.seed)
        table.insert(0, "seed", spec.seed)
        table.insert(0, "setup", spec.setup)
        table.insert(0, "run_id", spec.run_id)
        tables.append(table)
    results = pd.concat(tables, ignore_index=True)
    log(f"inference: {len(runs)} models on {ev.n_boot} shared resamples of test subjects")
    inference = study_inference_of(runs, preds, attributes, config)
    summary = run_summary(runs, inference)
    comparison = setup_table(inference)
    write_environment(ws.results / "environment.json")
    results.to_parquet(ws.results / "results.parquet", index=False)
    results.to_csv(ws.results / "results.csv", index=False)
    summary.to_csv(ws.results / "summary.csv", index=False)
    inference.estimates.to_csv(ws.results / "setups.csv", index=False)
    inference.changes.to_csv(ws.results / "changes.csv", index=False)
    comparison.to_csv(ws.results / "comparison.csv", index=False)
    curve = accuracy_curve(runs, preds, attributes, config)
    amplification = label_amplification(runs, preds, results, attributes)
    amplification.to_csv(ws.results / "label_amplification.csv", index=False)
    curve.to_csv(ws.results / "accuracy_curve.csv", index=False)
    (ws.results / "family.json").write_text(json.dumps(inference.family, indent=2) + "\n")
    pools = pool_table(ws, specs)
    pools.to_csv(ws.results / "pool.csv", index=False)
    out: dict[str, Any] = {
        "results": results,
        "summary": summary,
        "setups": inference.estimates,
        "changes": inference.changes,
        "comparison": comparison,
        "accuracy_curve": curve,
        "label_amplification": amplification,
        "pool": pools,
    }
    log(f"evaluation done ({time.perf_counter() - started:.0f} s)")
    if config.similarity.enabled:
        started = time.perf_counter()
        n_ssl = sum(s.setup != "supervised" for s in runs)
        log(f"similarity: CKA of {n_ssl} SSL models with their supervised baseline, conditioned on groups")
        out.update(_similarity(ds, config, ws, runs, preds, results, attributes, log=log))
        log(f"similarity done ({time.perf_counter() - started:.0f} s)")
    if config.probes.enabled:
        from fairssl.experiments.probing import run_probes

        out.update(
            run_probes(config, ws, runs, preds, attributes, cka_best_worst=out.get("cka_best_worst"), log=log)
        )
    from fairssl.report.html import build_report

    report = build_report(ws.root)
    log(f"report: {report}")
    return out


@dataclass(frozen=True)
class _Pair:
    """The (setup, seed, run id) that stage 4 compares with the supervised run of ``seed``."""

    setup: str
    seed: int
    run_id: str


def _similarity(
    ds: WindowDataset,
    config: StudyConfig,
    ws: Workspace,
    runs: list[RunSpec],
    preds: dict[str, pd.DataFrame],
    results: pd.DataFrame,
    attributes: list[str],
    *,
    log: Log,
) -> dict[str, pd.DataFrame]:
    """Stage 4: supervised x SSL layer CKA, overall and conditioned on each attribute's groups.

    The reference level (setup :data:`REFERENCE_SETUP`): each supervised model against the supervised
    model of the next seed, analysed exactly like an SSL model, so a best-vs-worst pattern or a
    dissimilarity ratio can be read against what two supervised models that differ only by seed show.
    """
    sim = config.similarity
    sup = {s.seed: s for s in runs if s.setup == "supervised"}
    mats, conds, diffs, ratios = [], [], [], []
    sup_acts: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]] = {}  # read once per supervised run
    sup_seeds = sorted(sup)
    reference = [
        _Pair(REFERENCE_SETUP, seed, sup[sup_seeds[(i + 1) % len(sup_seeds)]].run_id)
        for i, seed in enumerate(sup_seeds)
        if len(sup_seeds) >= 2
    ]
    pairs = [_Pair(str(s.setup), s.seed, s.run_id) for s in runs if s.setup != "supervised"]
    for spec in [*pairs, *reference]:
        base = sup.get(spec.seed)
        if base is None:
            continue
        window_ids = preds[spec.run_id]["window_id"].to_numpy()
        if base.run_id not in sup_acts or not np.array_equal(sup_acts[base.run_id][0], window_ids):
            sup_acts[base.run_id] = (window_ids, load_activations(ws, base.run_id, window_ids))
        acts_sup = sup_acts[base.run_id][1]
        acts_ssl = load_activations(ws, spec.run_id, window_ids)
        mat = cka_matrix(acts_sup, acts_ssl, debiased=sim.debiased)
        mats.append(
            mat.rename_axis("layer_a")
            .reset_index()
            .melt(id_vars="layer_a", var_name="layer_b", value_name="cka")
            .assign(setup=spec.setup, seed=spec.seed)
        )
        cond = conditioned_cka(
            acts_sup,
            acts_ssl,
            preds[spec.run_id][attributes],
            n_per_group=sim.n_per_group,
            n_draws=sim.n_draws,
            n_permutations=sim.n_permutations,
            min_group_size=config.evaluation.min_group_size,
            include_missing=config.evaluation.include_missing,
            debiased=sim.debiased,
            seed=spec.seed,
            subjects=preds[spec.run_id]["subject"].to_numpy(),
        )
        summ = summarise_conditioned(cond)
        conds.append(summ.assign(setup=spec.setup, seed=spec.seed))
        perf = results[
            (results.run_id == base.run_id)
            & (results.metric == "auroc")
            & (results.label == "recorded")
            & (results.attribute != "overall")
        ]
        perf = perf.rename(columns={"estimate": "performance"})[
            ["attribute", "group", "performance"]
        ].dropna()
        # best vs worst needs two groups with a performance value and a conditioned CKA (small groups
        # drop out of either); attributes without them are left out here, not an error
        groups_cka = summ[summ["group"] != PERMUTATION].groupby("attribute")["group"].apply(set)
        usable = [
            a
            for a, grp in groups_cka.items()
            if len(grp & set(perf.loc[perf["attribute"] == a, "group"].astype(str))) >= 2
        ]
        perf = perf[perf["attribute"].isin(usable) & perf["group"].astype(str).isin(set().union(*groups_cka))]
        summ_bw = summ[summ["attribute"].isin(usable)]
        diff = best_worst_difference(summ_bw, perf) if usable else pd.DataFrame()
        if not diff.empty:
            diffs.append(diff.assign(setup=spec.setup, seed=spec.seed))
            if diff["attribute"].nunique() >= 2:
                ratio = dissimilarity_ratio(diff)
                ratios.append(
                    ratio.table.assign(
                        setup=spec.setup, seed=spec.seed, ratio=ratio.ratio, spearman=ratio.spearman
                    )
                )
    out = {}
    for name, frames in (
        ("cka", mats),
        ("cka_conditioned", conds),
        ("cka_best_worst", diffs),
        ("cka_ratio", ratios),
    ):
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        frame.to_csv(ws.results / f"{name}.csv", index=False)
        out[name] = frame
    return out
