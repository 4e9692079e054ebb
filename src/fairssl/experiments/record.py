"""What an analysis did: each stage's status, what could not be computed and why, the settings used.

Written to a results folder as

- ``analysis.json``: ``{"fairssl_version", "settings": {"evaluation", "similarity", "probes"},
  "settings_digest", "stages": {name: {"status", "reason", "seconds"}}, "finished_at"}`` with status
  ``completed`` | ``failed`` | ``skipped`` (``reason``: why skipped, or the failure's one line);
- ``unavailable.csv``: one row per thing that could not be computed (:data:`GAP_COLUMNS`).

The record is written when the analysis starts (every stage ``pending``) and as each stage starts
(``running``) and ends, so a killed analysis says where it stopped. Thin data is not a failure: a group
below the minimum size, an attribute left with one group or a model at chance are rows of
``unavailable.csv`` and the stage still completes. A stage fails only on an error; its traceback goes
to ``analysis.log`` beside the record, and the stages after it still run when they do not need its
output.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from fairssl.atomic import write_json_atomic
from fairssl.errors import FairsslError
from fairssl.report.analysis_record import (  # the files' schema: one definition, read by the report
    GAPS_NAME,
    LOG_NAME,
    RECORD_NAME,
    STAGES,
)
from fairssl.report.analysis_record import UNAVAILABLE_COLUMNS as GAP_COLUMNS
from fairssl.results_schema import write_result

T = TypeVar("T")


def one_line(exc: BaseException) -> str:
    """``Type: message`` on one line (a user error's message alone)."""
    text = " ".join(str(exc).split())
    if isinstance(exc, FairsslError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass
class AnalysisRecord:
    """Collects stage outcomes and gaps while an analysis runs; :meth:`write` stores them.

    ``settings``: the analysis sections of the config (``evaluation``, ``similarity``, ``probes``).
    """

    folder: Path
    settings: Mapping[str, Any]
    digest: str = ""
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    gaps: list[dict[str, Any]] = field(default_factory=list)

    @property
    def log_path(self) -> Path:
        return self.folder / LOG_NAME

    def start(self) -> None:
        """Record every stage as ``pending`` (written at once): a killed analysis leaves a record that
        says how far it got, never a previous analysis's record."""
        self.stages = {s: {"status": "pending", "reason": "", "seconds": 0.0} for s in STAGES}
        self.write()

    def skip(self, stage: str, reason: str) -> None:
        self.stages[stage] = {"status": "skipped", "reason": reason, "seconds": 0.0}

    def add_gaps(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self.gaps.append({c: row.get(c, "") for c in GAP_COLUMNS})

    def run(self, stage: str, fn: Callable[[], T], *, since: float | None = None) -> T | None:
        """``fn()``, timed and recorded; an exception marks the stage failed (traceback appended to
        ``analysis.log``) and returns None instead of raising. ``since``: the ``time.perf_counter()`` the
        stage's time counts from (a stage started earlier in the background), default now."""
        started = time.perf_counter() if since is None else since
        self.stages[stage] = {"status": "running", "reason": "", "seconds": 0.0}
        self.write()  # killed now, the record says which stage was running
        try:
            out = fn()
        except Exception as exc:
            self.stages[stage] = {
                "status": "failed",
                "reason": one_line(exc),
                "seconds": round(time.perf_counter() - started, 2),
                "internal": not isinstance(exc, FairsslError),
            }
            self.folder.mkdir(parents=True, exist_ok=True)
            with self.log_path.open("a", encoding="utf-8") as log:
                log.write(f"--- stage {stage} failed at {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
                log.write(traceback.format_exc())
            return None
        self.stages[stage] = {
            "status": "completed",
            "reason": "",
            "seconds": round(time.perf_counter() - started, 2),
        }
        return out

    @property
    def failed(self) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.stages.items() if v["status"] == "failed"}

    def gaps_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.gaps, columns=list(GAP_COLUMNS))
        return frame.drop_duplicates(ignore_index=True)

    def to_dict(self) -> dict[str, Any]:
        from fairssl import __version__

        return {
            "fairssl_version": __version__,
            "settings": dict(self.settings),
            "settings_digest": self.digest,
            "stages": {s: self.stages[s] for s in [*STAGES, *self.stages] if s in self.stages},
            "finished_at": time.time(),
        }

    def write(self) -> None:
        """``analysis.json`` and ``unavailable.csv``, each replaced atomically."""
        self.folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.folder / RECORD_NAME, self.to_dict())
        write_result(self.folder, "unavailable", self.gaps_frame())


__all__ = [
    "GAPS_NAME",
    "GAP_COLUMNS",
    "LOG_NAME",
    "RECORD_NAME",
    "STAGES",
    "AnalysisRecord",
    "one_line",
]
