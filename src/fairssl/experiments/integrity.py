"""Checksums of a run's published artifacts, and whether a run folder can be trusted.

When a run is published, ``done.json`` records the size and SHA-256 of every file in its folder
(:func:`fingerprint`) and the torch thread count it ran with. On resume and before analysis,
:func:`check_run` compares the files against that record: a truncated or rewritten ``model.pt``,
``encoder.pt``, ``predictions.parquet`` or ``activations.npz`` (or ``history.csv``, ``spec.json``, ...)
makes the run *damaged* and it is re-run. Verifying is cheap: the default study's 8 runs (22 MB)
take about 20 ms.

Run folders published before checksums were recorded (*legacy*) are checked by decoding every required
artifact instead (about 0.1 s per run) and trusted when they decode.

A pre-training run's checkpoint (``runs/.partial/<id>/checkpoint.pt``) is checked by loading it
(:func:`checkpoint_problem`); a damaged one is discarded and the run restarts from its first epoch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from fairssl.checksums import compare, file_digest
from fairssl.checksums import fingerprint as checksum_fingerprint

if TYPE_CHECKING:
    from fairssl.experiments.grid import RunSpec
    from fairssl.experiments.workspace import Workspace

REQUIRED: dict[str, tuple[str, ...]] = {
    "pretrain": ("encoder.pt",),
    "finetune": ("model.pt", "predictions.parquet", "activations.npz"),
}
"""The artifacts a published run of each kind must hold (besides ``done.json``)."""

OPTIONAL: dict[str, tuple[str, ...]] = {
    "pretrain": (),
    "finetune": ("trajectory.parquet",),
}
"""Artifacts a run of each kind may hold: checksummed like every file when present (a damaged one makes
the run damaged), but a run without them is complete (``trajectory.parquet``, the supervised model's
per-epoch scores, is only written since the trained accuracy-matched reference exists)."""

UNRECORDED = frozenset({"done.json", "progress.json"})
"""Files in a run folder that are not fingerprinted (the record itself, the live progress file)."""

CHECKPOINT_KEYS = frozenset(
    {"encoder", "head", "optimizer", "scheduler", "generator", "torch_rng", "best_state", "result"}
)

State = Literal["absent", "ok", "legacy", "damaged", "mismatch"]


@dataclass(frozen=True)
class RunCheck:
    """What :func:`check_run` found.

    ``absent``: not published; ``ok``: every recorded checksum matches; ``legacy``: published without
    checksums but every artifact decodes; ``damaged``: a file is missing, truncated or changed;
    ``mismatch``: intact, but trained with another torch thread count than the spec asks for.
    ``reason`` is one line for ``damaged`` and ``mismatch`` (and ``absent``).
    """

    state: State
    reason: str | None = None
    record: dict[str, Any] | None = None

    @property
    def usable(self) -> bool:
        return self.state in ("ok", "legacy")


def fingerprint(folder: Path) -> dict[str, dict[str, Any]]:
    """``name -> file_digest`` of every file of a run folder except :data:`UNRECORDED` (and temporary
    files), sorted by name."""
    return checksum_fingerprint(folder, exclude=UNRECORDED)


def _read_record(done_json: Path) -> dict[str, Any] | str:
    try:
        record = json.loads(done_json.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return f"done.json is unreadable ({type(exc).__name__})"
    return record if isinstance(record, dict) else "done.json is not a JSON object"


def _decodes(path: Path) -> str | None:
    """A legacy artifact's problem, by decoding it whole; None when it decodes."""
    try:
        if path.suffix == ".pt":
            import torch

            torch.load(path, map_location="cpu", weights_only=True)
        elif path.suffix == ".parquet":
            import pandas as pd

            pd.read_parquet(path)
        elif path.suffix == ".npz":
            import numpy as np

            with np.load(path, allow_pickle=False) as npz:
                for key in npz.files:
                    npz[key]  # reading checks the zip member's CRC
    except Exception as exc:  # any decoding failure means the file is damaged
        return f"{path.name} cannot be read ({type(exc).__name__})"
    return None


def check_run(ws: Workspace, spec: RunSpec) -> RunCheck:
    """Whether ``runs/<run_id>/`` holds this run's intact artifacts (see :class:`RunCheck`)."""
    folder = ws.run(spec.run_id)
    done_json = folder / "done.json"
    if not done_json.is_file():
        return RunCheck("absent", f"run {spec.run_id} has not been published (no {done_json})")
    record = _read_record(done_json)
    if isinstance(record, str):
        return RunCheck("damaged", record)
    if record.get("run_id") != spec.run_id:
        return RunCheck("damaged", f"done.json belongs to run {record.get('run_id')!r}", record)
    for name in REQUIRED[spec.kind]:
        if not (folder / name).is_file():
            return RunCheck("damaged", f"{name} is missing", record)
    recorded = record.get("artifacts")
    if not isinstance(recorded, dict):
        present = [n for n in OPTIONAL[spec.kind] if (folder / n).is_file()]
        for name in (*REQUIRED[spec.kind], *present):
            problem = _decodes(folder / name)
            if problem:
                return RunCheck("damaged", problem, record)
        return RunCheck("legacy", None, record)
    problem = compare(folder, recorded, verb="published")
    if problem:
        return RunCheck("damaged", problem, record)
    threads = record.get("threads")
    if threads != spec.threads:
        return RunCheck(
            "mismatch",
            f"it was trained with {threads} torch thread(s), the study asks for {spec.threads} "
            "(runtime.threads)",
            record,
        )
    return RunCheck("ok", None, record)


def verify_run(ws: Workspace, spec: RunSpec) -> str | None:
    """Why run ``spec`` cannot be used as it is (one line), or None when its artifacts are intact.

    Reasons: not published, ``done.json`` unreadable or for another run, an artifact missing, truncated
    or changed since it was published, trained with another thread count than ``spec.threads``.
    """
    check = check_run(ws, spec)
    return None if check.usable else check.reason


def checkpoint_problem(path: Path, *, threads: int | None = None) -> str | None:
    """Why a pre-training checkpoint cannot be resumed from (one line), or None when it loads.

    ``threads``: the thread count the resumed run will use; a checkpoint whose folder's ``spec.json``
    records another one is refused too (resuming would mix two numerics in one run).
    """
    if not path.is_file():
        return None
    spec_json = path.parent / "spec.json"
    if threads is not None and spec_json.is_file():
        try:
            written = json.loads(spec_json.read_text(encoding="utf-8")).get("threads")
        except (OSError, UnicodeDecodeError, ValueError, AttributeError):
            written = None
        if written != threads:
            return f"it was written with {written} torch thread(s), the run now uses {threads}"
    try:
        import torch

        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # truncated, zeroed, not a torch file
        return f"it cannot be loaded ({type(exc).__name__})"
    if not isinstance(state, dict) or not set(state) >= CHECKPOINT_KEYS:
        return "it lacks the saved training state"
    return None


__all__ = [
    "OPTIONAL",
    "REQUIRED",
    "RunCheck",
    "check_run",
    "checkpoint_problem",
    "file_digest",
    "fingerprint",
    "verify_run",
]
