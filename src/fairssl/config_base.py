"""The base of every config section: unknown keys are rejected, values are frozen after validation."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A config section (a TOML table): ``extra = "forbid"`` (a typo'd key is an error), frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


__all__ = ["Section"]
