"""A study config -> run specs with content-hash ids.

Two kinds of run: a *pre-training* run per (dataset, seed, model, pre-training settings), shared by
every fine-tuning setup of that seed, and a *fine-tuning* run per (setup, seed, ...). A run's id is a
hash of exactly the settings that determine its result, so the same spec always maps to the same id
(resume) and a changed setting gets a new id (no stale reuse).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from fairssl.config import StudyConfig
from fairssl.finetune.setups import get_setup


def content_id(prefix: str, payload: dict[str, Any]) -> str:
    """``prefix-<12 hex>``: sha256 of the canonical JSON of ``payload``."""
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{prefix}-{digest}"


@dataclass(frozen=True)
class RunSpec:
    """One unit of work. ``kind`` is ``pretrain`` or ``finetune``; ``depends_on`` names a pretrain id."""

    run_id: str
    kind: str
    seed: int
    setup: str | None = None
    depends_on: str | None = None
    payload: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "kind": self.kind,
            "seed": self.seed,
            "setup": self.setup,
            "depends_on": self.depends_on,
            "payload": self.payload,
        }


def dataset_key(config: StudyConfig) -> dict[str, Any]:
    return config.to_dict()["data"]


def expand(config: StudyConfig) -> list[RunSpec]:
    """All runs of the study, pre-training runs first, in a deterministic order."""
    cfg = config.to_dict()
    data = dataset_key(config)
    specs: list[RunSpec] = []
    finetunes: list[RunSpec] = []
    for seed in config.seeds:
        pre_payload = {"data": data, "model": cfg["model"], "pretrain": cfg["pretrain"], "seed": seed}
        pre_id = content_id("pre", pre_payload)
        needs_pretrain = False
        for name in config.finetune.setups:
            setup = get_setup(name, [f"conv{i + 1}" for i in range(len(config.model.widths))])
            needs_pretrain |= setup.pretrained
            payload = {
                "data": data,
                "model": cfg["model"],
                "finetune": {k: v for k, v in cfg["finetune"].items() if k != "setups"},
                "setup": name,
                "seed": seed,
                "pretrain": pre_id if setup.pretrained else None,
            }
            finetunes.append(
                RunSpec(
                    content_id("ft", payload),
                    "finetune",
                    seed,
                    setup=name,
                    depends_on=pre_id if setup.pretrained else None,
                    payload=payload,
                )
            )
        if needs_pretrain:
            specs.append(RunSpec(pre_id, "pretrain", seed, payload=pre_payload))
    return specs + finetunes
