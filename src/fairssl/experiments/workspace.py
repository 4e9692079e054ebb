"""A run folder's layout, what makes a run's artifacts complete, and where a study's folder lives.

Run folder layout (``<output_dir>/<name>-<config hash>/``)::

    config.toml                 the resolved config (all defaults filled in)
    results.sqlite              the results store: status of every run (source of truth), run metrics
    dataset/                    the audit tables of stage 1
    runs/<run_id>/              spec.json, history.csv, model.pt | encoder.pt,
                                predictions.parquet and activations.npz (fine-tuning runs), done.json
                                (the spec, its thread count, run metrics, and the size and SHA-256 of
                                every file: :mod:`fairssl.experiments.integrity`); written under
                                runs/.partial/<run_id>/ and published by one rename
    results/                    results.parquet/.csv (one row per variant x run x attribute x group x
                                metric), summary.csv, cka.csv, cka_conditioned.csv, ...
    variants/<slug>/            with a grid of several variants: each variant's own results/ and report
    figures/                    PNG and PDF of every figure
    report.html                 the self-contained report
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fairssl.atomic import write_json_atomic
from fairssl.config import StudyConfig
from fairssl.data.dataset import WindowDataset
from fairssl.experiments.store import STORE_NAME


@dataclass
class Workspace:
    """Paths of a run folder. ``runs_root`` lets a variant's folder share the study's ``runs/``."""

    root: Path
    runs_root: Path | None = None

    @property
    def runs(self) -> Path:
        return self.runs_root if self.runs_root is not None else self.root / "runs"

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def figures(self) -> Path:
        return self.root / "figures"

    @property
    def store_path(self) -> Path:
        return self.root / STORE_NAME

    def run(self, run_id: str) -> Path:
        return self.runs / run_id

    def partial(self, run_id: str) -> Path:
        """Where a run writes before it is published (kept across attempts: pre-training checkpoints)."""
        return self.runs / ".partial" / run_id

    def is_done(self, run_id: str) -> bool:
        """Whether the run's artifacts were published (``done.json`` is the last file written)."""
        return (self.run(run_id) / "done.json").is_file()


ANALYSIS_SECTIONS = ("evaluation", "similarity", "probes")
"""Config sections that only change the analysis of trained models: left out of the run folder's hash,
so changing them re-analyses the same models instead of training new ones."""


def study_digest(config: StudyConfig) -> str:
    """The hash of every training-relevant setting: all but ``runtime``, ``output_dir`` and the
    analysis sections (:data:`ANALYSIS_SECTIONS`). Two configs with the same digest train the same runs."""
    sections = [k for k in config.to_dict() if k not in ("runtime", "output_dir", *ANALYSIS_SECTIONS)]
    return config.digest(*sections)


def study_label(config: StudyConfig) -> str:
    """``<name>-<study digest>``: the default run folder's name."""
    return f"{config.name}-{study_digest(config)}"


def run_dir_for(config: StudyConfig) -> Path:
    """``<output_dir>/<name>-<hash>`` (:func:`study_label`), so the same study always lands in the same
    folder whatever executor or worker count runs it, and a changed analysis setting re-analyses its
    models."""
    return Path(config.output_dir) / study_label(config)


def load_study_data(config: StudyConfig) -> WindowDataset:
    """The dataset named by ``config.data`` (the simulator by default)."""
    if config.data.source == "simulate":
        from fairssl.data.simulate import simulate

        return simulate(config.data.simulate, seed=config.data.simulate.seed)
    from fairssl.data.loaders import load_dataset

    return load_dataset(config.data.source, config.data.path, **config.data.options)


PROGRESS_FILE = "progress.json"


PROGRESS_INTERVAL = 1.0
"""Seconds between two writes of a run's ``progress.json`` (the first and the last epoch always write)."""


def epoch_reporter(
    out: Path, total_epochs: int, *, interval: float = PROGRESS_INTERVAL
) -> Callable[[dict[str, float]], None]:
    """An ``on_epoch`` callback writing ``progress.json`` (epoch, of, last losses) atomically in ``out``,
    at most every ``interval`` seconds (plus the first and the last epoch) and without fsync: the file is
    live and transient, and writing it durably every epoch cost a quick fine-tuning run 14% of its time.

    Works in any process (local workers, Ray): ``fairssl status`` reads it for running runs.
    """
    last = [-float("inf")]

    def report(row: dict[str, float]) -> None:
        now = time.monotonic()
        final = row.get("epoch", 0) >= total_epochs
        if now - last[0] < interval and not final:
            return
        last[0] = now
        write_json_atomic(out / PROGRESS_FILE, {**row, "of": total_epochs, "at": time.time()}, durable=False)

    return report


def read_progress(out: Path) -> dict[str, float] | None:
    """The last ``progress.json`` of a run folder, or None (absent or being replaced)."""
    try:
        data = json.loads((out / PROGRESS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


__all__ = [
    "ANALYSIS_SECTIONS",
    "PROGRESS_FILE",
    "PROGRESS_INTERVAL",
    "Workspace",
    "epoch_reporter",
    "load_study_data",
    "read_progress",
    "run_dir_for",
    "study_digest",
    "study_label",
]
