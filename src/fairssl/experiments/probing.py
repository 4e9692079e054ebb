"""Linear probes over every fine-tuned model's stored test activations (issue: beyond the paper).

For each fine-tuning run, the conv layers' activations on the test windows (and the pooled
representation, max over time of the last layer: the encoder's output) are probed:

- ``results/probes_demographic.csv``: how well a linear probe recovers each protected attribute from each
  layer (subject-disjoint cross-validation; balanced accuracy and AUROC against chance), per run;
- ``results/probes_task.csv``: per group, a group-specific task probe against one pooled probe (does a
  group need its own decision boundary?), per run;
- ``results/probes_cka_relation.csv``: per SSL run, the rank correlation across attributes x layers
  between the worst-vs-best group's task-probe gap contrast and its conditioned CKA difference against
  the supervised model (small n: a description of this study, not a test of a general relation).

See :mod:`fairssl.similarity.probes` for the estimators and the caveat on their intervals.

The models are probed independently: with two or more models and ``runtime.workers`` >= 2 (``--workers``;
default: the CPU cores, as for training) this process and ``workers - 1`` spawned processes share the
work, each on one BLAS thread, and the tables are concatenated in run order: the same tables as probing
the models one after the other in this process (``tests/experiments/test_probing_workers.py``). The pool
is shut down before :func:`run_probes` returns (its processes exit shortly after).
:class:`ProbeStage` starts the pool early: the study's analysis (:func:`fairssl.experiments.analyse.analyse`)
starts it right after evaluation, so the pool probes while this process computes the inference and the
CKA.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from fairssl.config import StudyConfig
from fairssl.experiments.artifacts import load_activations, with_activations
from fairssl.experiments.executors import resolve_workers
from fairssl.experiments.grid import RunSpec
from fairssl.experiments.unavailable import attribute_gap, skipped_group_gaps, study_gap
from fairssl.experiments.workspace import Workspace
from fairssl.results_schema import write_result
from fairssl.shared_jobs import SharedJobs
from fairssl.similarity.probes import demographic_probe, group_task_probe, relate_to_cka

Log = Callable[[str], None]


def pooled(flat: np.ndarray, channels: int) -> np.ndarray:
    """Global max over time of a flattened (N, C*T) conv activation: (N, C), the encoder's output."""
    n = flat.shape[0]
    return flat.reshape(n, channels, -1).max(axis=2)  # (N, C, T) -> (N, C)


def run_probes(
    config: StudyConfig,
    ws: Workspace,
    runs: list[RunSpec],
    preds: dict[str, pd.DataFrame],
    attributes: list[str],
    *,
    cka_best_worst: pd.DataFrame | None = None,
    gaps: list[dict[str, Any]] | None = None,
    log: Log = print,
) -> dict[str, pd.DataFrame]:
    """Probe every fine-tuning run; write and return ``probes_demographic``, ``probes_task`` and (given
    the stage-4 ``cka_best_worst`` table with setup and seed columns) ``probes_cka_relation``.

    :class:`ProbeStage` started and finished at once; start it early instead to overlap the probes with
    other work."""
    with ProbeStage(config, ws, runs, preds, attributes, log=log) as stage:
        return stage.finish(cka_best_worst=cka_best_worst, gaps=gaps, log=log)


class ProbeStage:
    """The probe stage, started in the background and finished later (a context manager: leaving it
    shuts the pool down, cancelling what has not started).

    Creating it logs the stage, checks the test subjects against ``probes.n_splits`` and, with two or
    more jobs and ``runtime.workers`` >= 2, starts a pool of ``workers - 1`` spawned processes and hands
    it every job (each a model's demographic or task probe). The caller's process is then free for other
    work (stage 5's inference and stage 4's CKA in :func:`fairssl.experiments.analyse.analyse`, which use
    one core) while the pool probes; :meth:`finish` joins in, taking the jobs the pool has not started
    from the back, and writes the tables. Every job is a pure function of its inputs, so who fits it and
    when does not change a table (``tests/experiments/test_probing_workers.py``).
    """

    def __init__(
        self,
        config: StudyConfig,
        ws: Workspace,
        runs: list[RunSpec],
        preds: dict[str, pd.DataFrame],
        attributes: list[str],
        *,
        log: Log = print,
    ) -> None:
        pc = config.probes
        self.config, self.ws = config, ws
        self.started = time.perf_counter()
        self.gaps: list[dict[str, Any]] = []
        n_subjects = min((preds[s.run_id]["subject"].nunique() for s in runs), default=0)
        if n_subjects < pc.n_splits:  # subject-disjoint folds need a subject per fold
            self.gaps.append(
                study_gap(
                    "probes",
                    "probes",
                    "too_few_subjects",
                    f"the test set has {n_subjects} subjects, fewer than the probes' subject-disjoint folds "
                    f"(probes.n_splits = {pc.n_splits}); lower probes.n_splits or use more test subjects",
                )
            )
            log(f"probes: skipped ({n_subjects} test subjects < probes.n_splits = {pc.n_splits})")
            runs = []
        self.runs = runs
        workers = min(resolve_workers(config.runtime)[0], len(runs))
        shown = f", {workers} processes" if workers > 1 else ""
        log(f"probes: {len(runs)} models x {len(attributes)} attributes, linear probes per layer{shown}")
        jobs = [
            (config, ws, spec, preds[spec.run_id], attributes, probe) for spec in runs for probe in PROBES
        ]
        self.jobs = _share(jobs, workers)

    @property
    def in_background(self) -> bool:
        """True while a pool of worker processes is probing (until :meth:`finish` or :meth:`close`)."""
        return self.jobs.in_background

    def __enter__(self) -> ProbeStage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Shut the pool down (jobs not started are cancelled); idempotent."""
        self.jobs.close()

    def finish(
        self,
        *,
        cka_best_worst: pd.DataFrame | None = None,
        gaps: list[dict[str, Any]] | None = None,
        log: Log = print,
    ) -> dict[str, pd.DataFrame]:
        """Wait for (and help with) every job, then write and return the tables (see :func:`run_probes`);
        the rows of ``unavailable.csv`` are appended to ``gaps``."""
        pc, ev = self.config.probes, self.config.evaluation
        demo_frames, task_frames = [], []
        skipped: list[dict[str, Any]] = []
        skipped_attributes: list[dict[str, Any]] = []
        frames = iter(self.jobs.results())
        for spec in self.runs:
            demo, task = next(frames), next(frames)  # in PROBES order
            ids = {"run_id": spec.run_id, "setup": spec.setup, "seed": spec.seed}
            demo_frames.append(demo.assign(**ids))
            task_frames.append(task.assign(**ids))
            for kind, frame in (("probe_demographic", demo), ("probe_task", task)):
                skipped += [{**r, "quantity": kind} for r in frame.attrs.get("skipped", [])]
                skipped_attributes += [
                    {**r, "quantity": kind} for r in frame.attrs.get("skipped_attributes", [])
                ]
        out = {
            "probes_demographic": pd.concat(demo_frames, ignore_index=True)
            if demo_frames
            else pd.DataFrame(),
            "probes_task": pd.concat(task_frames, ignore_index=True) if task_frames else pd.DataFrame(),
            "probes_cka_relation": _relation(self.runs, task_frames, cka_best_worst),
        }
        for name, frame in out.items():
            write_result(self.ws.results, name, frame)
        if gaps is not None:
            gaps += self.gaps
            gaps += _probe_gaps(skipped, skipped_attributes, {"n_splits": pc.n_splits, **ev.model_dump()})
        log(f"probes done ({time.perf_counter() - self.started:.0f} s)")
        return out


PROBES = ("demographic", "task")
"""The probes fitted on every model: :func:`demographic_probe` and :func:`group_task_probe`."""

Job = tuple[StudyConfig, Workspace, RunSpec, pd.DataFrame, list[str], str]


def probe_model(
    config: StudyConfig, ws: Workspace, spec: RunSpec, pred: pd.DataFrame, attributes: list[str], probe: str
) -> pd.DataFrame:
    """One fine-tuning run's ``probe`` table (one of :data:`PROBES`; without the run's id columns), from
    its stored test activations plus the pooled representation and its predictions ``pred`` (window_id,
    subject, y and the ``attributes`` columns)."""
    pc, ev = config.probes, config.evaluation
    pred = with_activations(ws, spec.run_id, pred)  # finetune.activation_windows may cap the sample
    acts = load_activations(ws, spec.run_id, pred["window_id"].to_numpy())
    last = list(acts)[-1]
    acts["pooled"] = pooled(acts[last], config.model.widths[-1])
    options: dict[str, Any] = {
        "subjects": pred["subject"].to_numpy(),
        "n_splits": pc.n_splits,
        "min_group_size": ev.min_group_size,
        "include_missing": ev.include_missing,
        "n_boot": pc.n_boot,
        "seed": spec.seed,
        "max_features": pc.max_features,
    }
    if probe == "demographic":
        return demographic_probe(acts, pred[attributes], n_permutations=pc.n_permutations, **options)
    return group_task_probe(acts, pred["y"].to_numpy(), pred[attributes], **options)


_LIMITS: list[Any] = []
"""The pool worker's thread limits (held so they stay in force)."""


def _one_blas_thread() -> None:
    """Pool worker start-up: one BLAS/OpenMP thread (the workers share the cores), kept for the worker's
    life (the process is ours and ends with the pool)."""
    _LIMITS.append(threadpool_limits(limits=1))


def _share(jobs: list[Job], workers: int) -> SharedJobs[pd.DataFrame]:
    """The jobs started on a pool of ``workers - 1`` spawned processes (one BLAS thread each; none when
    ``workers`` < 2): this process joins in at :meth:`~fairssl.shared_jobs.SharedJobs.results`, on one
    BLAS thread too, so the workers split the cores evenly."""
    return SharedJobs(
        probe_model, jobs, workers - 1, initializer=_one_blas_thread, local=_one_blas_thread_here
    )


def _one_blas_thread_here(call: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    with threadpool_limits(limits=1, user_api="blas"):  # one BLAS thread, as in the workers
        return call()


def _probe_gaps(
    skipped: list[dict[str, Any]], skipped_attributes: list[dict[str, Any]], settings: dict[str, Any]
) -> list[dict[str, Any]]:
    """Rows of ``unavailable.csv``: each (probe, attribute, group) skipped once, each attribute without
    two usable groups once."""
    groups = {(r["quantity"], str(r["attribute"]), str(r["group"])): r for r in skipped}
    rows: list[dict[str, Any]] = []
    for (quantity, _, _), rec in sorted(groups.items()):
        rows += skipped_group_gaps("probes", quantity, [rec], settings)
    attrs = {(r["quantity"], str(r["attribute"])): r for r in skipped_attributes}
    for (quantity, attribute), rec in sorted(attrs.items()):
        rows.append(
            attribute_gap("probes", quantity, attribute, "too_few_groups", f"{attribute}: {rec['reason']}")
        )
    return rows


def _relation(
    runs: list[RunSpec], task_frames: list[pd.DataFrame], cka_best_worst: pd.DataFrame | None
) -> pd.DataFrame:
    """One row per SSL run with both a task probe and a conditioned-CKA difference: rho, p, n, caveat."""
    columns = ["run_id", "setup", "seed", "spearman", "p_value", "n", "caveat"]
    if cka_best_worst is None or cka_best_worst.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for spec, task in zip(runs, task_frames, strict=True):
        cka = cka_best_worst[
            (cka_best_worst["setup"].astype(str) == str(spec.setup)) & (cka_best_worst["seed"] == spec.seed)
        ]
        if cka.empty or task.empty:
            continue
        rel = relate_to_cka(task, cka, seed=spec.seed)
        if rel.n == 0:  # no attribute has both a task probe and a CKA contrast (thin groups)
            continue
        rows.append(
            {
                "run_id": spec.run_id,
                "setup": spec.setup,
                "seed": spec.seed,
                "spearman": rel.spearman,
                "p_value": rel.p_value,
                "n": rel.n,
                "caveat": rel.caveat,
            }
        )
    return pd.DataFrame(rows, columns=columns)
