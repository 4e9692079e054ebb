"""What the analysis of a run folder did: each stage's status and what could not be computed.

Two optional files of ``results/`` (older run folders have neither; the report then falls back to
``config.toml`` and says the record is missing):

- ``analysis.json``: ``{"fairssl_version", "settings": {"evaluation", "similarity", "probes"}, "stages":
  {"evaluation" | "inference" | "similarity" | "probes": {"status": "completed" | "failed" | "skipped",
  "reason", "seconds"}}, "finished_at"}``; a failed stage's ``reason`` is its one-line error.
- ``unavailable.csv``: one row per thing that could not be computed, columns :data:`UNAVAILABLE_COLUMNS`
  (``stage``, ``setup`` ``""`` = every setup, ``attribute``, ``group``, ``quantity``, ``reason`` code,
  ``detail``: one sentence saying why and which setting to change).

:func:`read_analysis_record` reads both (never raises on a damaged file: its ``problem`` says what was
wrong) and :func:`stage_note` words, for a section without data, why: the stage failed (with its error),
was skipped (with why), did not run, or, without a record, what ``config.toml`` says.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from fairssl.report.conventions import to_float

STAGES = ("evaluation", "inference", "similarity", "probes")
"""The analysis stages ``analysis.json`` records, in the order they run."""

UNAVAILABLE_COLUMNS = ("stage", "setup", "attribute", "group", "quantity", "reason", "detail")
"""Columns of ``results/unavailable.csv`` (all text); a grid study's stacked table leads with ``variant``,
which is kept."""

RECORD_NAME = "analysis.json"
GAPS_NAME = "unavailable.csv"
LOG_NAME = "analysis.log"
"""The analysis record's files in ``results/`` (written by :mod:`fairssl.experiments.record`)."""

NOT_RECORDED = "not_recorded"
"""Status of a stage the record does not list (the analysis stopped before it, or no record at all)."""

STAGE_OUTPUTS = {
    "evaluation": "results/results.parquet",
    "inference": "results/summary.csv, comparison.csv and changes.csv",
    "similarity": "results/cka*.csv",
    "probes": "results/probes_*.csv",
}
"""The tables each stage writes, for the sentences that say they are missing."""

_SWITCHES = {"similarity": "similarity.enabled", "probes": "probes.enabled"}
"""The config switch that turns a stage off (stages without one always run)."""


@dataclass(frozen=True)
class StageStatus:
    """One analysis stage: ``status`` completed | failed | skipped | :data:`NOT_RECORDED` (or what the
    record says), ``reason`` (a failed stage's one-line error, a skipped stage's why), ``seconds``."""

    stage: str
    status: str
    reason: str = ""
    seconds: float = float("nan")


@dataclass
class StoredAnalysis:
    """``results/analysis.json`` and ``results/unavailable.csv`` of a run folder, plus its config."""

    present: bool
    """Whether ``analysis.json`` exists and could be read."""
    stages: dict[str, StageStatus] = field(default_factory=dict)
    unavailable: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=UNAVAILABLE_COLUMNS))
    """``unavailable.csv`` (empty with :data:`UNAVAILABLE_COLUMNS` when absent), every column text."""
    version: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    finished_at: float = float("nan")
    problem: str = ""
    """Why ``analysis.json`` could not be read ("" when it was fine or absent)."""
    unavailable_problem: str = ""
    """Why ``unavailable.csv`` could not be read ("" when it was fine or absent)."""
    config: dict[str, Any] = field(default_factory=dict)
    """``config.toml`` of the run folder ({} when absent or unreadable): the fallback without a record."""
    log: str = ""
    """``results/analysis.log`` (a failed stage's traceback) when it exists, else ""."""

    def stage(self, name: str) -> StageStatus:
        """The named stage's status (:data:`NOT_RECORDED` when the record does not list it)."""
        return self.stages.get(name, StageStatus(name, NOT_RECORDED))

    def incomplete(self) -> list[StageStatus]:
        """The recorded stages that did not complete, in :data:`STAGES` order (then any other)."""
        names = [*STAGES, *(s for s in self.stages if s not in STAGES)]
        return [self.stages[s] for s in names if s in self.stages and self.stages[s].status != "completed"]


def _read_config(root: Path) -> dict[str, Any]:
    path = root / "config.toml"
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
        return {}


def _stage_status(name: str, entry: Any) -> StageStatus:
    if not isinstance(entry, dict):
        return StageStatus(name, str(entry or NOT_RECORDED))
    reason = entry.get("reason", "")
    return StageStatus(
        name,
        str(entry.get("status", NOT_RECORDED) or NOT_RECORDED),
        "" if reason is None else str(reason).strip(),
        to_float(entry.get("seconds")),
    )


def read_unavailable(path: Path) -> tuple[pd.DataFrame, str]:
    """``unavailable.csv`` as text columns (:data:`UNAVAILABLE_COLUMNS`, missing ones blank) and a problem
    sentence ("" when the file is fine or absent)."""
    empty = pd.DataFrame(columns=list(UNAVAILABLE_COLUMNS))
    if not path.is_file() or path.stat().st_size <= 1:
        return empty, ""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        return empty, ""
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as err:
        return empty, f"results/{path.name} could not be read ({type(err).__name__}); it is ignored"
    if not {"reason", "quantity"} & set(frame.columns):
        return empty, f"results/{path.name} has no reason or quantity column; it is ignored"
    columns = (["variant"] if "variant" in frame.columns else []) + list(UNAVAILABLE_COLUMNS)
    return frame.reindex(columns=columns).fillna("").reset_index(drop=True), ""


def read_analysis_record(root: Path) -> StoredAnalysis:
    """Read ``<root>/results/analysis.json`` and ``unavailable.csv`` (either may be absent or damaged)."""
    res = root / "results"
    unavailable, unavailable_problem = read_unavailable(res / GAPS_NAME)
    config = _read_config(root)
    log = f"results/{LOG_NAME}" if (res / LOG_NAME).is_file() else ""
    path = res / RECORD_NAME
    if not path.is_file():
        return StoredAnalysis(
            False, unavailable=unavailable, unavailable_problem=unavailable_problem, config=config
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except (ValueError, UnicodeDecodeError, OSError) as err:
        return StoredAnalysis(
            False,
            unavailable=unavailable,
            problem=f"results/analysis.json could not be read: {type(err).__name__}",
            unavailable_problem=unavailable_problem,
            config=config,
        )
    stages: dict[str, Any] = data["stages"] if isinstance(data.get("stages"), dict) else {}
    settings: dict[str, Any] = data["settings"] if isinstance(data.get("settings"), dict) else {}
    return StoredAnalysis(
        True,
        stages={str(k): _stage_status(str(k), v) for k, v in stages.items()},
        unavailable=unavailable,
        version=str(data.get("fairssl_version", "") or ""),
        settings=settings,
        finished_at=to_float(data.get("finished_at")),
        unavailable_problem=unavailable_problem,
        config=config,
        log=log,
    )


def reanalyse_hint(root: Path | str = "RUN_DIR") -> str:
    """The command that recomputes the analysis (stages 4-5) and the report of a run folder on its stored
    models, without training."""
    return f"`fairssl analyse {root}` (no retraining)"


def status_sentence(status: StageStatus) -> str:
    """One sentence on a stage: ``The similarity stage failed: <error>.``, ``... was skipped: <why>.``,
    ``... completed in 3.2 s.``, or that the record does not list it."""
    name = f"The {status.stage} stage"
    why = status.reason.rstrip(".")
    if status.status == "completed":
        secs = status.seconds
        return f"{name} completed" + (f" in {secs:.1f} s." if secs == secs else ".")
    if status.status == "failed":
        return f"{name} failed" + (f": {why}." if why else " (no error recorded).")
    if status.status == "skipped":
        return f"{name} was skipped" + (f": {why}." if why else ".")
    if status.status == NOT_RECORDED:
        return f"{name} has no entry in the analysis record: the analysis stopped before it (interrupted?)."
    return f"{name} did not finish (status '{status.status}')" + (f": {why}." if why else ".")


def _config_switch(config: dict[str, Any], stage: str) -> bool | None:
    """The config's ``<stage>.enabled`` (None when the stage has no switch or the config does not say)."""
    key = _SWITCHES.get(stage)
    if key is None:
        return None
    section, _, name = key.partition(".")
    value = config.get(section, {}).get(name) if isinstance(config.get(section), dict) else None
    return value if isinstance(value, bool) else None


def stage_note(record: StoredAnalysis, stage: str, *, root: Path | str = "RUN_DIR") -> str:
    """Why a section fed by ``stage`` has no data, or "" when the stage completed (the caller then says
    what else emptied its table).

    With a record: the stage failed (its error; its sections are missing), was skipped (why), or is not
    listed (the analysis stopped before it). Without one: "disabled" only when ``config.toml`` switches
    the stage off; otherwise that the record is missing, so a failure or interruption cannot be ruled out.
    """
    outputs = STAGE_OUTPUTS.get(stage, f"the {stage} tables")
    if record.present:
        status = record.stage(stage)
        if status.status == "completed":
            return ""
        sentence = status_sentence(status)
        if status.status == "skipped":
            return sentence
        return (
            f"{sentence} Its tables ({outputs}) are missing; fix the cause and re-analyse: "
            f"{reanalyse_hint(root)}."
        )
    switch = _config_switch(record.config, stage)
    if switch is False:
        key = _SWITCHES[stage]
        return f"The {stage} stage is disabled in config.toml ({key} = false)."
    lead = (
        f"The analysis record is unusable ({record.problem})"
        if record.problem
        else "The analysis record (results/analysis.json) is missing (the run folder predates it)"
    )
    return (
        f"{lead}, so whether the {stage} stage failed, was interrupted or produced nothing is not known; "
        f"re-analyse to find out: {reanalyse_hint(root)}."
    )


def lower_first(text: str) -> str:
    """``text`` with its first letter in lower case (a sentence continued after a colon)."""
    return text[:1].lower() + text[1:]


def stale_note(record: StoredAnalysis, stage: str) -> str:
    """A note for tables present although the record says their stage did not complete this time (an
    earlier analysis left them), "" otherwise (and always without a record)."""
    if not record.present or record.stage(stage).status == "completed":
        return ""
    return (
        f"{status_sentence(record.stage(stage))} The tables below were left by an earlier analysis and may "
        "not match the rest of this report."
    )
