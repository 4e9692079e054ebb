"""Composition of the pre-training pool: which unlabelled windows SimCLR sees.

The pool is the ``pool`` and ``train`` splits (labels unused). A *pool spec* restricts it by one
protected attribute, so a grid can ask whether the make-up of the pre-training data changes downstream
fairness (``[grid] "pretrain.pool" = ["full", "balanced:race", "exclude:race=black"]``):

==========================  =====================================================================
spec                        windows used
==========================  =====================================================================
``full``                    all pool and train windows
``balanced:<attr>``         every known group of ``attr`` subsampled (seeded) to the smallest group's
                            size; the ``missing`` group is left out
``group:<attr>=<value>``    only the windows of that group
``exclude:<attr>=<value>``  all windows but that group's
==========================  =====================================================================

Subsampling (not reweighting) keeps SimCLR's batches plain: every window in the pool is equally likely.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fairssl.data.dataset import MISSING, WindowDataset
from fairssl.errors import ConfigError, DataError

POOL_KINDS = ("full", "balanced", "group", "exclude")


@dataclass(frozen=True)
class PoolSpec:
    """A parsed pool spec: ``kind`` and, except for ``full``, the attribute (and group)."""

    kind: str
    attribute: str | None = None
    group: str | None = None


def parse_pool_spec(spec: str) -> PoolSpec:
    """Parse ``full``, ``balanced:<attr>``, ``group:<attr>=<value>`` or ``exclude:<attr>=<value>``."""
    hint = "use full, balanced:<attribute>, group:<attribute>=<value> or exclude:<attribute>=<value>"
    text = spec.strip()
    if text == "full":
        return PoolSpec("full")
    kind, sep, rest = text.partition(":")
    if not sep or kind not in POOL_KINDS[1:] or not rest.strip():
        raise ConfigError(f"unknown pre-training pool {spec!r}; {hint}")
    if kind == "balanced":
        if "=" in rest:
            raise ConfigError(f"pool {spec!r}: balanced takes an attribute only (balanced:race); {hint}")
        return PoolSpec(kind, rest.strip())
    attribute, eq, group = rest.partition("=")
    if not eq or not attribute.strip() or not group.strip():
        raise ConfigError(f"pool {spec!r} needs an attribute and a group, e.g. {kind}:race=black; {hint}")
    return PoolSpec(kind, attribute.strip(), group.strip())


def select_pool(ds: WindowDataset, spec: str, *, seed: int = 0) -> np.ndarray:
    """Sorted row indices (int64) of the pre-training windows of ``ds`` under ``spec``.

    Raises DataError (one line) when the attribute or group does not exist or the pool comes out empty.
    """
    parsed = parse_pool_spec(spec)
    candidates = np.sort(np.concatenate([ds.indices("pool"), ds.indices("train")]))
    if parsed.kind == "full":
        return candidates
    attribute = str(parsed.attribute)
    if attribute not in ds.attributes.columns:
        raise DataError(
            f"pool {spec!r}: the dataset has no attribute {attribute!r}; it has {ds.attribute_names}"
        )
    values = ds.attributes[attribute].astype(str).to_numpy()[candidates]
    if parsed.kind == "balanced":
        groups = sorted(set(values) - {MISSING})
        if len(groups) < 2:
            raise DataError(f"pool {spec!r}: balancing needs at least two known groups of {attribute!r}")
        size = min(int((values == g).sum()) for g in groups)
        rng = np.random.default_rng(seed)
        keep = [rng.choice(candidates[values == g], size=size, replace=False) for g in groups]
        return np.sort(np.concatenate(keep))
    if parsed.group not in set(values):
        raise DataError(
            f"pool {spec!r}: group {parsed.group!r} of {attribute!r} has no pre-training windows; "
            f"groups present: {sorted(set(values))}"
        )
    chosen = candidates[(values == parsed.group) == (parsed.kind == "group")]
    if len(chosen) == 0:
        raise DataError(f"pool {spec!r} leaves no pre-training windows; choose another pool")
    return chosen


def pool_shares(ds: WindowDataset, index: np.ndarray) -> pd.DataFrame:
    """Group shares of the pool ``index``: one row per attribute x group (windows, share in [0, 1])."""
    rows = []
    for attribute in ds.attribute_names:
        values = ds.attributes[attribute].astype(str).to_numpy()[index]
        groups, counts = np.unique(values, return_counts=True)
        for group, count in zip(groups, counts, strict=True):
            rows.append(
                {
                    "attribute": attribute,
                    "group": group,
                    "windows": int(count),
                    "share": count / max(len(index), 1),
                }
            )
    return pd.DataFrame(rows, columns=["attribute", "group", "windows", "share"])
