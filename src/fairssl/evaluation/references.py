"""Who is compared with whom: the fairness options, checked once, and the choice of a reference group.

Options: ``reference`` (:data:`REFERENCE_STRATEGIES` or a mapping attribute -> group), ``parity``
(:data:`PARITY_MODES`), ``privileged`` (paper mode), ``deviation`` (:data:`DEVIATIONS`, read by
:mod:`~fairssl.evaluation.parity`) and the minimum sizes; :func:`validate_reference` and
:func:`validate_parity_options` check them at the boundary (ConfigError for a bad option, DataError for a
name that is not in the data).

Choice (used by :func:`~fairssl.evaluation.plans.plan_comparisons`): ``majority`` (the largest group) or
``best`` (the highest accuracy) among eligible non-missing groups, or a named group; a majority within
:data:`MAJORITY_TOLERANCE` of another candidate, or a fallback, is reported as a :class:`ReferenceWarning`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from fairssl.data.dataset import MISSING
from fairssl.errors import ConfigError, DataError
from fairssl.evaluation.counts import GroupCodes, check_min_size
from fairssl.evaluation.rates import group_rate

REFERENCE_STRATEGIES = ("majority", "rest", "best")
PARITY_MODES = ("pairwise", "paper")
"""``parity`` options: each group against a reference, or the paper's privileged group vs the rest."""
DEVIATIONS = ("abs", "log")
"""``deviation`` options of the parity deviation: ``|1 - r|`` or ``|log r|``."""
MAJORITY_TOLERANCE = 0.10
"""A majority reference within this relative size of another candidate triggers a ReferenceWarning."""


class ReferenceWarning(UserWarning):
    """The reference (or privileged) group of an attribute was chosen by a fallback or is nearly arbitrary."""


def validate_reference(reference: str | Mapping[str, str], attributes: Sequence[str]) -> None:
    """ConfigError unless ``reference`` is a strategy or a mapping naming columns of the data."""
    if isinstance(reference, str):
        if reference not in REFERENCE_STRATEGIES:
            raise ConfigError(
                f"reference must be one of {', '.join(REFERENCE_STRATEGIES)} or a mapping "
                f"attribute -> group; got {reference!r}"
            )
        return
    if not isinstance(reference, Mapping):
        raise ConfigError(
            f"reference must be a string or a mapping attribute -> group; got {type(reference).__name__}"
        )
    unknown = sorted(set(map(str, reference)) - set(attributes))
    if unknown:
        raise ConfigError(
            f"reference names attribute(s) {unknown} that are not columns of sensitive_features "
            f"{list(attributes)}; fix the names"
        )


def validate_parity_options(
    parity: str,
    privileged: Mapping[str, str] | None,
    attributes: Sequence[str] | None = None,
    *,
    deviation: str | None = None,
    min_subjects: int = 0,
    min_positives: int = 0,
) -> None:
    """Check the parity options once per call (ConfigError for a bad option, DataError for a mismatch).

    ``privileged`` is only read in paper mode; there it must name attributes among ``attributes`` (the
    columns of the data; DataError otherwise). Unknown group names are caught per attribute by
    :func:`~fairssl.evaluation.plans.plan_comparisons` (DataError naming the groups).
    """
    if parity not in PARITY_MODES:
        raise ConfigError(f"parity must be one of {', '.join(PARITY_MODES)}; got {parity!r}")
    if deviation is not None and deviation not in DEVIATIONS:
        raise ConfigError(f"deviation must be one of {', '.join(DEVIATIONS)}; got {deviation!r}")
    check_min_size(min_subjects, "min_subjects")
    check_min_size(min_positives, "min_positives")
    if privileged is None:
        return
    if not isinstance(privileged, Mapping):
        raise ConfigError(f"privileged must be a mapping attribute -> group; got {type(privileged).__name__}")
    if parity == "paper" and attributes is not None:
        unknown = sorted(set(map(str, privileged)) - set(map(str, attributes)))
        if unknown:
            raise DataError(
                f"privileged names attribute(s) {unknown} that are not columns of sensitive_features "
                f"{list(attributes)}; fix the names or evaluate those attributes"
            )


def _candidates(codes: GroupCodes, eligible: np.ndarray) -> list[int]:
    """Groups a reference may be picked from: eligible non-missing ones (else any non-missing, else any)."""
    candidates = [g for g in range(codes.n_groups) if codes.groups[g] != MISSING]
    return [g for g in candidates if eligible[g]] or candidates or list(range(codes.n_groups))


def pick_reference(codes: GroupCodes, counts: np.ndarray, strategy: str, eligible: np.ndarray) -> int:
    """Index of the reference group for ``majority`` / ``best`` among eligible non-missing groups."""
    pool = _candidates(codes, eligible)
    if strategy == "majority":
        return max(pool, key=lambda g: (codes.sizes[g], -g))
    accuracy = group_rate(counts, "accuracy")
    return max(pool, key=lambda g: (accuracy[g], codes.sizes[g], -g))


def close_to_majority(codes: GroupCodes, eligible: np.ndarray, ref: int) -> str:
    """``""``, or a sentence naming candidates within :data:`MAJORITY_TOLERANCE` of the majority's size."""
    sizes = codes.sizes
    pool = _candidates(codes, eligible)
    close = [g for g in pool if g != ref and sizes[ref] - sizes[g] < MAJORITY_TOLERANCE * sizes[ref]]
    if not close:
        return ""
    others = ", ".join(f"{codes.groups[g]!r} ({int(sizes[g])})" for g in close)
    return (
        f"{codes.groups[ref]!r} ({int(sizes[ref])} windows) is larger than {others} by less than "
        f"{MAJORITY_TOLERANCE:.0%}, so the choice is nearly arbitrary and the ratios depend on it"
    )


def warn_reference(text: str) -> None:
    """Issue ``text`` as a :class:`ReferenceWarning` at the caller of the planning function."""
    warnings.warn(text, ReferenceWarning, stacklevel=3)


def named_group(codes: GroupCodes, name: str, what: str) -> int:
    """Index of a named reference (``what="reference"``) or privileged group; DataError naming the groups."""
    if name not in codes.groups or (what == "privileged" and name == MISSING):
        shown = [g for g in codes.groups if g != MISSING] if what == "privileged" else list(codes.groups)
        hint = "" if what == "privileged" else " (missing values count only with include_missing)"
        raise DataError(
            f"{what} group {name!r} of attribute {codes.attribute!r} is not among its groups {shown}; "
            f"name one of them{hint}"
        )
    return codes.groups.index(name)
