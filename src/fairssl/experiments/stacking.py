"""Fine-tuning runs of a grid trained together as one stacked model (``runtime.stack_runs`` > 1).

Which runs may share a task (:func:`stack_key`): fine-tuning runs of one variant (so one dataset, split
and config) that wait on the same pre-training run (the SSL setups of a seed; of every seed when the
seeds share one encoder, e.g. ``pretrain.weights``) or on none (``supervised`` and the ``random:<setup>``
controls, of every seed), with the same kind of head and thread count, on the conv encoder, without
gradual unfreezing of frozen layers. Runs of one key become ready together, so each task is whole when
it is submitted. The scheduler cuts each such group, in grid
order, into tasks of at most ``stack_runs`` runs (:func:`fairssl.experiments.executors.execute`), so
which runs share a task never depends on ``--workers`` or timing on a fresh study.

A task (:func:`execute_stacked`) trains its runs with :func:`fairssl.finetune.batched.finetune_many`
(each run keeps its own initialisation, data order, dropout draws, optimiser, schedule, early stopping
and best checkpoint, and equals its one-by-one run to float rounding), then writes and publishes every
run exactly as a run trained alone (:func:`fairssl.experiments.training.write_finetuned`), adding
``stacked_runs`` (how many trained together) to its summary. Runs the stacked engine refuses after all
(:class:`~fairssl.finetune.batched.BatchUnsupportedError`) are trained one by one in the same task.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fairssl.config import StudyConfig
    from fairssl.data.dataset import WindowDataset
    from fairssl.experiments.grid import RunSpec
    from fairssl.experiments.workspace import Workspace


def stack_key(spec: RunSpec, config: StudyConfig) -> Hashable | None:
    """The key of the runs ``spec`` may train with as one stacked model (under ``config``, its variant's
    config), or None when it trains alone: pre-training runs, encoders other than the conv ``cnn``, a
    frozen setup under gradual unfreezing."""
    if spec.kind != "finetune" or config.runtime.stack_runs < 2:
        return None
    if config.model.arch != "cnn" or config.model.factory is not None:
        return None
    from fairssl.finetune.setups import get_setup
    from fairssl.ssl.encoders import encoder_layer_names

    setup = get_setup(spec.setup or "supervised", encoder_layer_names(config.model))
    if config.finetune.unfreeze_every and setup.frozen:
        return None
    return (spec.variant, spec.depends_on, setup.linear_head, spec.threads)


def stack_batches(
    ready: Sequence[RunSpec], key: Mapping[str, Hashable | None], size: int
) -> list[list[RunSpec]]:
    """``ready`` cut into tasks: runs of one non-None ``key`` (run id -> key) together, in chunks of at most
    ``size`` in their order; every other run alone. Tasks come in the order of their first run."""
    tasks: list[list[RunSpec]] = []
    open_: dict[Hashable, list[RunSpec]] = {}
    for spec in ready:
        k = key.get(spec.run_id)
        if k is None or size < 2:
            tasks.append([spec])
            continue
        chunk = open_.get(k)
        if chunk is None or len(chunk) >= size:
            chunk = open_[k] = []
            tasks.append(chunk)
        chunk.append(spec)
    return tasks


def execute_stacked(
    specs: Sequence[RunSpec], ds: WindowDataset, config: StudyConfig, ws: Workspace
) -> list[dict[str, Any] | Exception]:
    """Train ``specs`` (fine-tuning runs sharing a :func:`stack_key`) as one stacked model, then write and
    publish each as :func:`~fairssl.experiments.training.execute_run` would; returns, in order, each run's
    summary or the exception that kept it from being published (training itself failing raises).

    Each summary's ``seconds`` is the stacked training's time divided among the runs plus the run's own
    writing time."""
    from fairssl.experiments.training import (
        execute_run,
        finetune_inputs,
        publish_run,
        start_run,
        write_finetuned,
    )
    from fairssl.experiments.workspace import epoch_reporter
    from fairssl.finetune.batched import BatchUnsupportedError, FinetuneJob, finetune_many
    from fairssl.runtime import resolve_device

    start = time.perf_counter()
    parts = [start_run(spec, ws) for spec in specs]
    jobs = []
    for spec, part in zip(specs, parts, strict=True):
        inputs = finetune_inputs(spec, ds, config, ws)
        jobs.append(
            FinetuneJob(
                inputs.setup,
                seed=spec.seed,
                encoder_state=inputs.encoder_state,
                groups=inputs.groups,
                on_epoch=epoch_reporter(part, config.finetune.epochs),
                record_splits=inputs.record,
            )
        )
    tr, va = ds.indices("train"), ds.indices("val")
    try:
        trained = finetune_many(
            ds.X[tr],
            ds.y[tr],
            ds.X[va],
            ds.y[va],
            jobs=jobs,
            model=config.model,
            config=config.finetune,
            n_classes=max(2, ds.n_classes),
            device=resolve_device(config.runtime.device),
        )
    except BatchUnsupportedError:  # the engine's own check is the last word: train them one by one
        alone: list[dict[str, Any] | Exception] = []
        for spec in specs:
            try:
                alone.append(execute_run(spec, ds, config, ws))
            except Exception as exc:
                alone.append(exc)
        return alone
    share = (time.perf_counter() - start) / len(specs)
    out: list[dict[str, Any] | Exception] = []
    for spec, part, (model, result) in zip(specs, parts, trained, strict=True):
        began = time.perf_counter()
        try:
            summary = write_finetuned(model, result, ds, config, part)
            summary["stacked_runs"] = len(specs)
            summary["seconds"] = round(share + time.perf_counter() - began, 2)
            publish_run(spec, ws, summary)
        except Exception as exc:  # this run's files: the others are still published
            out.append(exc)
            continue
        out.append(summary)
    return out


__all__ = ["execute_stacked", "stack_batches", "stack_key"]
