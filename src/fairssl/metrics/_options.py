"""The comparison options every entry point of :mod:`fairssl.metrics` shares, checked once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fairssl.evaluation.counts import check_min_group_size
from fairssl.evaluation.references import validate_parity_options, validate_reference


@dataclass(frozen=True)
class Options:
    """The comparison options shared by every entry point (see :func:`fairssl.metrics.group_metrics`)."""

    reference: str | Mapping[str, str] = "majority"
    parity: str = "pairwise"
    privileged: Mapping[str, str] | None = None
    threshold: float = 0.5
    min_group_size: int = 30
    include_missing: bool = False
    deviation: str = "abs"

    def validate(self, attributes: list[str]) -> None:
        """ConfigError/DataError for a bad option (checked once, at the boundary)."""
        check_min_group_size(self.min_group_size)
        validate_reference(self.reference, attributes)
        validate_parity_options(self.parity, self.privileged, attributes, deviation=self.deviation)


__all__ = ["Options"]
