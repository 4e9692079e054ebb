"""Stages 4-5 over the stored artifacts of a study's runs, then the report.

Reads each fine-tuning run's ``predictions.parquet`` and ``activations.npz`` (ids checked against the
dataset's test windows, never aligned by order alone) and writes to ``results/``:

- ``results.parquet`` / ``.csv``: one row per run x label x attribute x group x metric, with the groups
  compared, their sizes, the estimate, bootstrap CI and a reason code where a value is undefined;
- ``summary.csv``: per run (setup, seed): AUROC and parity deviation (with CIs), improvement over the
  supervised run of the same seed (paired bootstrap CI);
- ``seeds.csv`` / ``tests.csv``: across-seed means and CIs; paired tests against supervised (Holm);
- ``pool.csv``: per pre-training run (seed), the pool's windows and share per attribute x group;
- ``cka.csv``, ``cka_conditioned.csv``, ``cka_best_worst.csv``, ``cka_ratio.csv``: stage 4;
- ``environment.json``: versions of fairssl, Python, torch, numpy, pandas... and the platform.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fairssl.config import StudyConfig
from fairssl.data.dataset import WindowDataset
from fairssl.errors import DataError
from fairssl.evaluation.bootstrap import bootstrap_ci, paired_bootstrap_difference
from fairssl.evaluation.compare import aggregate_seeds, compare_to_baseline
from fairssl.evaluation.fairness import fairness_table, improvement, parity_deviation
from fairssl.evaluation.performance import performance_table
from fairssl.experiments.grid import RunSpec
from fairssl.similarity.cka import cka_matrix
from fairssl.similarity.conditioned import (
    best_worst_difference,
    conditioned_cka,
    dissimilarity_ratio,
    summarise_conditioned,
)

if TYPE_CHECKING:
    from fairssl.experiments.runner import Workspace

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


def evaluate_run(
    pred: pd.DataFrame, attributes: list[str], config: StudyConfig, *, seed: int
) -> pd.DataFrame:
    """Every performance and fairness metric of one run, with bootstrap CIs when ``n_boot`` > 0."""
    ev = config.evaluation
    score = pred["prob_1"].to_numpy()
    sens = pred[attributes]
    clusters = pred["subject"].to_numpy() if ev.cluster == "subject" else None
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
            fair = fairness_table(
                y,
                (score >= ev.threshold).astype(int),
                sens,
                reference=ev.reference,
                min_group_size=ev.min_group_size,
                include_missing=ev.include_missing,
            )
            pd_row = pd.DataFrame(
                [
                    {
                        "attribute": "all",
                        "group": "all",
                        "metric": "parity_deviation",
                        "value": parity_deviation(fair),
                        "reason": "",
                    }
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
    tables, summary_rows = [], []
    preds: dict[str, pd.DataFrame] = {}
    for spec in runs:
        pred = preds[spec.run_id] = load_predictions(ws, spec.run_id, ds)
        table = evaluate_run(pred, attributes, config, seed=spec.seed)
        table.insert(0, "seed", spec.seed)
        table.insert(0, "setup", spec.setup)
        table.insert(0, "run_id", spec.run_id)
        tables.append(table)
        auroc, pdev = _metric(table, "auroc"), _metric(table, "parity_deviation")
        summary_rows.append(
            {
                "run_id": spec.run_id,
                "setup": spec.setup,
                "seed": spec.seed,
                "auroc": auroc["estimate"],
                "auroc_low": auroc["ci_low"],
                "auroc_high": auroc["ci_high"],
                "parity_deviation": pdev["estimate"],
                "pd_low": pdev["ci_low"],
                "pd_high": pdev["ci_high"],
            }
        )
    results = pd.concat(tables, ignore_index=True)
    summary = pd.DataFrame(summary_rows)

    # Improvement of each setup over the supervised run of the same seed (paired bootstrap on one test set).
    sup = {s.seed: s.run_id for s in runs if s.setup == "supervised"}
    paired = []
    for spec in runs:
        if spec.setup == "supervised" or spec.seed not in sup:
            continue
        base = summary.loc[summary.run_id == sup[spec.seed], "parity_deviation"].iloc[0]
        own = summary.loc[summary.run_id == spec.run_id, "parity_deviation"].iloc[0]
        row: dict[str, Any] = {"run_id": spec.run_id, "improvement": improvement(own, base)}
        if ev.n_boot > 0:
            p_sup, p_own = preds[sup[spec.seed]], preds[spec.run_id]
            diff = paired_bootstrap_difference(
                p_own["y"].to_numpy(),
                p_own["prob_1"].to_numpy(),
                p_sup["prob_1"].to_numpy(),
                p_own[attributes],
                clusters=p_own["subject"].to_numpy() if ev.cluster == "subject" else None,
                n_boot=ev.n_boot,
                threshold=ev.threshold,
                seed=spec.seed,
                reference=ev.reference,
                min_group_size=ev.min_group_size,
                include_missing=ev.include_missing,
            )
            for _, r in diff.iterrows():
                key = str(r["metric"])
                row[f"{key}_diff"] = r["estimate"]
                row[f"{key}_diff_low"] = r["ci_low"]
                row[f"{key}_diff_high"] = r["ci_high"]
        paired.append(row)
    if paired:
        summary = summary.merge(pd.DataFrame(paired), on="run_id", how="left")
    long = summary.melt(
        id_vars=["setup", "seed"],
        value_vars=["auroc", "parity_deviation"],
        var_name="metric",
        value_name="value",
    )
    seeds = aggregate_seeds(long)
    tests = (
        pd.concat(
            [
                compare_to_baseline(long, baseline="supervised", metric=m)
                for m in ("auroc", "parity_deviation")
            ],
            ignore_index=True,
        )
        if "supervised" in set(summary["setup"])
        else pd.DataFrame()
    )

    write_environment(ws.results / "environment.json")
    results.to_parquet(ws.results / "results.parquet", index=False)
    results.to_csv(ws.results / "results.csv", index=False)
    summary.to_csv(ws.results / "summary.csv", index=False)
    seeds.to_csv(ws.results / "seeds.csv", index=False)
    tests.to_csv(ws.results / "tests.csv", index=False)
    pools = pool_table(ws, specs)
    pools.to_csv(ws.results / "pool.csv", index=False)
    out: dict[str, Any] = {
        "results": results,
        "summary": summary,
        "seeds": seeds,
        "tests": tests,
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
    """Stage 4: supervised x SSL layer CKA, overall and conditioned on each attribute's groups."""
    sim = config.similarity
    sup = {s.seed: s for s in runs if s.setup == "supervised"}
    mats, conds, diffs, ratios = [], [], [], []
    sup_acts: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]] = {}  # read once per supervised run
    for spec in runs:
        base = sup.get(spec.seed)
        if base is None or spec.setup == "supervised":
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
        diff = best_worst_difference(summ, perf)
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
