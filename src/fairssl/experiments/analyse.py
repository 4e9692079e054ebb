"""Stages 4-5 over the stored artifacts of one variant's runs (the report is built by the caller).

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
- ``checkpoint_match.csv``: per SSL run, the supervised epoch whose validation AUROC is closest to
  its own (the trained reference ``checkpoint:<setup>``), with both validation AUROCs;
- ``accuracy_curve.csv``: the supervised models' group-blind accuracy-fairness curve (AUROC and PD as
  their scores are degraded towards noise), the reference of the fairness-accuracy figure;
- ``pool.csv``: per pre-training run (seed), the pool's windows and share per attribute x group;
- ``cka.csv``, ``cka_conditioned.csv``, ``cka_best_worst.csv``, ``cka_ratio.csv``,
  ``cka_ratio_null.csv`` (the dissimilarity ratio's permutation null): stage 4;
- ``probes_*.csv``: the linear probes (:mod:`fairssl.experiments.probing`);
- ``environment.json``: versions of fairssl, Python, torch, numpy, pandas... and the platform;
- ``analysis.json`` and ``unavailable.csv``: each stage's status and what could not be computed, and
  why (:mod:`fairssl.experiments.record`); ``analysis.log``: the traceback of a failed stage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from threadpoolctl import threadpool_limits

from fairssl.atomic import write_json_atomic, write_table_atomic, write_text_atomic
from fairssl.config import StudyConfig
from fairssl.data.dataset import WindowDataset
from fairssl.errors import DataError
from fairssl.experiments.grid import RunSpec
from fairssl.experiments.record import GAPS_NAME, RECORD_NAME, AnalysisRecord
from fairssl.experiments.stage_evaluation import evaluate_runs
from fairssl.experiments.stage_inference import infer_study
from fairssl.experiments.stage_similarity import similarity_stage
from fairssl.experiments.unavailable import evaluation_gaps, inference_gaps
from fairssl.experiments.workspace import ANALYSIS_SECTIONS, Workspace
from fairssl.results_schema import write_result

if TYPE_CHECKING:
    from fairssl.experiments.probing import ProbeStage

Log = Callable[[str], None]


def write_audit(ds: WindowDataset, config: StudyConfig, out: Path) -> dict[str, pd.DataFrame]:
    """Stage 1: the dataset audit tables, written as CSV to ``out``."""
    from fairssl.data.audit import audit

    out.mkdir(parents=True, exist_ok=True)
    result = audit(ds, reference=config.evaluation.reference)
    frames = result.to_frames()
    for name, frame in frames.items():
        # keep a named index (the split of ``sizes``) as the first column
        write_table_atomic(frame.reset_index() if frame.index.name else frame, out / f"{name}.csv")
    write_text_atomic(out / "warnings.txt", "".join(f"{w}\n" for w in result.warnings))
    return frames


def write_environment(path: Path) -> dict[str, str]:
    """Write the software versions (fairssl, Python, torch, numpy, pandas, ..., platform) as JSON to
    ``path`` (``results/environment.json``); the report shows them."""

    from fairssl.report.html import software_versions

    env = software_versions()
    write_json_atomic(path, env)
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


def analysis_settings(config: StudyConfig) -> dict[str, Any]:
    """The config sections that only change the analysis (recorded beside its results)."""
    return {k: getattr(config, k).model_dump() for k in ANALYSIS_SECTIONS}


def analyse(
    ds: WindowDataset, config: StudyConfig, ws: Workspace, specs: list[RunSpec], *, log: Log = print
) -> tuple[dict[str, Any], AnalysisRecord]:
    """Stages 5 and 4 (and the probes) over the stored runs; writes ``results/`` and the analysis record.

    Never stops on thin data: what cannot be computed becomes rows of ``unavailable.csv``. A stage that
    fails on an error is recorded as failed (traceback in ``results/analysis.log``) and the stages that
    do not need its output still run; the caller decides what a failure means (see
    :func:`fairssl.experiments.study_analysis.analyse_study`). Builds no report.

    The probes start right after the evaluation: with ``runtime.workers`` >= 2 their pool
    (:class:`~fairssl.experiments.probing.ProbeStage`) probes while this process computes the inference
    and the CKA on one core (one BLAS thread meanwhile), then this process joins in; every table is what
    the stages give one after the other.
    """
    ws.results.mkdir(parents=True, exist_ok=True)
    for stale in (RECORD_NAME, GAPS_NAME, "comparison.csv"):
        (ws.results / stale).unlink(missing_ok=True)  # never pair a new analysis with an old record
    record = AnalysisRecord(
        ws.results, settings=analysis_settings(config), digest=config.digest(*ANALYSIS_SECTIONS)
    )
    record.start()
    attributes = _attributes(ds, config)
    runs = [s for s in specs if s.kind == "finetune"]
    ev = config.evaluation
    settings = ev.model_dump()
    out: dict[str, Any] = {}
    write_environment(ws.results / "environment.json")
    log(f"evaluation: {len(runs)} models x {len(attributes)} attributes, {ev.n_boot} bootstrap resamples")
    evaluated = record.run("evaluation", lambda: evaluate_runs(ds, config, ws, runs, attributes))
    if evaluated is None:
        for stage in ("inference", "similarity", "probes"):
            record.skip(stage, "the evaluation stage failed")
        record.write()
        return out, record
    results, preds = evaluated
    write_result(ws.results, "results", results)
    out["results"] = results
    record.add_gaps(evaluation_gaps(results, settings))
    gaps: list[dict[str, Any]] = []
    with _probes_beside(config, ws, runs, preds, attributes, record, log) as probing:
        log(f"inference: {len(runs)} models on {ev.n_boot} shared resamples of test subjects")
        inferred = record.run(
            "inference", lambda: infer_study(config, ws, runs, specs, preds, results, attributes)
        )
        if inferred is not None:
            out.update(inferred)
            record.add_gaps(inference_gaps(inferred["comparison"]))
        evaluated_in = _seconds(record, "evaluation") + _seconds(record, "inference")
        log(f"evaluation done ({evaluated_in:.0f} s)")
        if not config.similarity.enabled:
            record.skip("similarity", "similarity.enabled = false")
        else:
            n_ssl = sum(s.setup != "supervised" for s in runs)
            log(
                f"similarity: CKA of {n_ssl} SSL models with their supervised baseline, conditioned on groups"
            )
            tables = record.run(
                "similarity",
                lambda: similarity_stage(config, ws, runs, preds, results, attributes, gaps=gaps, log=log),
            )
            out.update(tables or {})
            log(f"similarity {_done(record, 'similarity')}")
        if probing is not None:
            probes = record.run(
                "probes",
                lambda: probing.finish(cka_best_worst=out.get("cka_best_worst"), gaps=gaps, log=log),
                since=probing.started,
            )
            out.update(probes or {})
    record.add_gaps(gaps)
    record.write()
    for stage, info in record.failed.items():
        log(f"{stage} FAILED: {info['reason']} (traceback in {record.log_path})")
    return out, record


@contextmanager
def _probes_beside(
    config: StudyConfig,
    ws: Workspace,
    runs: list[RunSpec],
    preds: dict[str, pd.DataFrame],
    attributes: list[str],
    record: AnalysisRecord,
    log: Log,
) -> Iterator[ProbeStage | None]:
    """The probe stage started in the background (None when skipped or failed to start): its pool
    probes while this process computes the inference and the CKA (one core each); shut down on leaving.

    Beside a pool this process keeps to one BLAS thread (the tables do not depend on it): a second one
    would spin-wait for a core the pool holds."""
    if not config.probes.enabled:
        record.skip("probes", "probes.enabled = false")
        yield None
        return
    from fairssl.experiments.probing import ProbeStage

    stage = record.run("probes", lambda: ProbeStage(config, ws, runs, preds, attributes, log=log))
    if stage is None:
        yield None
        return
    record.stages["probes"]["status"] = "running"  # until its finish() is recorded
    with stage, threadpool_limits(limits=1, user_api="blas") if stage.in_background else nullcontext():
        yield stage


def _seconds(record: AnalysisRecord, stage: str) -> float:
    return float(record.stages.get(stage, {}).get("seconds", 0.0))


def _done(record: AnalysisRecord, stage: str) -> str:
    info = record.stages[stage]
    return f"done ({info['seconds']:.0f} s)" if info["status"] == "completed" else info["status"].upper()
