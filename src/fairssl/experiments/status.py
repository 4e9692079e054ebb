"""``fairssl status``: what a study has done and what is left, read from its store (never written)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from fairssl.config import load_config
from fairssl.errors import DataError
from fairssl.experiments.grid import expand, unique_runs
from fairssl.experiments.store import STORE_NAME, RunRecord, Store
from fairssl.experiments.workspace import Workspace, read_progress
from fairssl.report.analysis_record import StoredAnalysis, read_analysis_record


@dataclass
class StudyStatus:
    """Counts per state (``interrupted``: running with a dead worker) and the failed runs' messages."""

    run_dir: Path
    total: int
    counts: dict[str, int]
    failures: list[RunRecord]
    running: list[RunRecord]
    analysis: StoredAnalysis | None = None
    """``results/analysis.json`` and ``unavailable.csv`` (each analysis stage's status)."""

    def _epoch(self, rec: RunRecord) -> str:
        """``, epoch k/N, loss x`` from the run's progress.json, if it has written one."""
        progress = read_progress(Workspace(self.run_dir).partial(rec.run_id))
        if not progress:
            return ""
        loss = f", val loss {progress['val_loss']:.3f}" if "val_loss" in progress else ""
        return f", epoch {int(progress['epoch'])}/{int(progress['of'])}{loss}"

    def lines(self) -> list[str]:
        c = self.counts
        out = [
            f"{self.total} runs: {c['done']} done, {c['running']} running, {c['interrupted']} interrupted, "
            f"{c['failed']} failed, {c['pending']} pending"
        ]
        for rec in self.running:
            state = "interrupted" if rec.interrupted else "running"
            since = (
                f" since {time.strftime('%H:%M:%S', time.localtime(rec.started_at))}"
                if rec.started_at
                else ""
            )
            out.append(f"{state}: {rec.label}{since} (worker {rec.worker}){self._epoch(rec)}")
        for rec in self.failures:
            tries = f"{rec.attempts} attempt{'s' if rec.attempts != 1 else ''}"
            out.append(f"failed: {rec.label} after {tries}: {rec.error}")
        if c["failed"] or c["interrupted"] or c["pending"]:
            out.append("run the same `fairssl run` command again to finish (failed runs are retried)")
        out.append(self._analysis_line())
        return out

    def _analysis_line(self) -> str:
        """Which analysis stages completed, failed or were skipped (and why), or why none is recorded."""
        c = self.counts
        if self.analysis is None or not self.analysis.present:
            if c["done"] < self.total:
                return "analysis: not run yet (it runs once every run is done)"
            return (
                f"analysis: no record (interrupted, or written by an older fairssl); "
                f"run `fairssl analyse {self.run_dir}` to (re)compute it"
            )
        parts = []
        for stage in self.analysis.stages.values():
            why = f" ({stage.reason})" if stage.reason and stage.status != "completed" else ""
            parts.append(f"{stage.stage} {stage.status}{why}")
        gaps = len(self.analysis.unavailable)
        left = f"; {gaps} thing{'s' if gaps != 1 else ''} could not be computed (results/unavailable.csv)"
        return "analysis: " + ", ".join(parts) + (left if gaps else "")


def study_status(run_dir: str | Path) -> StudyStatus:
    """What a study has done and what is left, read from its store (never written)."""
    root = Path(run_dir)
    if not (root / "config.toml").is_file():
        raise DataError(
            f"{root} is not a run folder (no config.toml); give a folder written by `fairssl run`"
        )
    expected = unique_runs(expand(load_config(root / "config.toml")))
    records: list[RunRecord] = []
    if (root / STORE_NAME).is_file():
        with Store(root / STORE_NAME, readonly=True) as store:
            records = store.records()
    known = {r.run_id for r in records}
    counts = dict.fromkeys(("done", "running", "interrupted", "failed", "pending"), 0)
    for rec in records:
        key = "interrupted" if rec.interrupted else rec.status
        counts[key] += 1
    counts["pending"] += sum(1 for s in expected if s.run_id not in known)
    return StudyStatus(
        analysis=read_analysis_record(root),
        run_dir=root,
        total=len(known | {s.run_id for s in expected}),
        counts=counts,
        failures=[r for r in records if r.status == "failed"],
        running=[r for r in records if r.status == "running"],
    )


__all__ = ["StudyStatus", "study_status"]
