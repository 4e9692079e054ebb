"""The report's shared conventions for reading the stored result tables.

Every table, figure and section of the report reads ``results/`` and ``dataset/`` the same way: the
supervised baseline is the setup named :data:`SUPERVISED`; setups are shown in order of the level of
supervision (:func:`setup_order`); the variants of a grid study (column :data:`VARIANT`) are compared
separately, never pooled (:func:`split_variants`); numeric columns are read leniently (:func:`numeric_column`:
missing column or text -> NaN); a value that differs between seeds is shown as ``"a / b (varies)"``
(:func:`consensus`); a ratio inside 0.8-1.25 passes the four-fifths rule (:func:`in_four_fifths_band`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from fairssl.config import SETUP_NAMES

SUPERVISED = "supervised"
"""Name of the fully supervised baseline setup every SSL setup is compared against."""

VARIANT = "variant"
"""Column naming the grid variant of a row (``fairssl run`` with a ``[grid]``); several variants are
compared separately, never pooled."""

FOUR_FIFTHS = 0.2
"""|1 - ratio| <= 0.2 is (about) the four-fifths band 0.8-1.25 of a ratio."""

FOUR_FIFTHS_BAND = (0.8, 1.25)
"""A ratio (e.g. disparate impact) inside [0.8, 1.25] passes the four-fifths rule; outside it fails."""

_VARIES = " (varies)"


# ------------------------------------------------------------------------------------------- setups
def setup_order(setups: Iterable[Any]) -> list[str]:
    """Setups in order of the level of supervision (the paper's order), unknown names last, sorted."""
    names = {str(s) for s in setups}
    known = [s for s in SETUP_NAMES if s in names]
    return known + sorted(names - set(known))


def setup_rank(setups: pd.Series) -> pd.Series:
    """Each setup's position in :func:`setup_order` of the series' own setups (a ``sort_values`` key)."""
    order = {s: i for i, s in enumerate(setup_order(setups.unique()))}
    return setups.map(order)


def in_four_fifths_band(ratio: float) -> bool:
    """True when ``ratio`` lies in :data:`FOUR_FIFTHS_BAND` (False for NaN)."""
    low, high = FOUR_FIFTHS_BAND
    return bool(low <= ratio <= high)


# ------------------------------------------------------------------------------------------- values
def numeric_column(frame: pd.DataFrame, column: str) -> np.ndarray:
    """``frame[column]`` as float64 (n,); NaN where a value is not a number, all NaN without the column."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)


def to_float(value: Any) -> float:
    """``value`` as a float; NaN for None, NA and anything ``float()`` cannot read."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def study_alpha(comparison: pd.DataFrame) -> float:
    """The study's alpha (``evaluation.alpha``) from ``comparison.csv``'s ``alpha`` column; 0.05 when
    absent."""
    if comparison is None or comparison.empty or "alpha" not in comparison:
        return 0.05
    values = pd.to_numeric(comparison["alpha"], errors="coerce").to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    return float(finite[0]) if finite.size else 0.05


def as_bool(values: pd.Series) -> pd.Series:
    """A stored flag column as bool: ``True``/``true``/``1`` (as text after a CSV round trip) -> True."""
    return values.astype(str).str.lower().isin(["true", "1"])


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``frame`` as dicts keyed by column name (values typed Any)."""
    return [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]


def by_setup(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Rows of a one-row-per-setup table keyed by setup name (the last row wins on a repeated name)."""
    return {str(r["setup"]): r for r in records(frame)}


def consensus(values: pd.Series) -> str:
    """The value all seeds agree on, else ``"a / b (varies)"`` listing them by frequency."""
    counts = values.astype(str).value_counts(sort=True)
    if len(counts) == 1:
        return str(counts.index[0])
    return " / ".join(str(v) for v in counts.index) + _VARIES


def varies_text(value: Any) -> str:
    """:func:`consensus`' ``"race / sex (varies)"`` -> ``"race or sex, depending on the seed"``; other
    values unchanged."""
    text = str(value)
    if text.endswith(_VARIES):
        return text.removesuffix(_VARIES).replace(" / ", " or ") + ", depending on the seed"
    return text


# ------------------------------------------------------------------------------------ labels, variants
def for_label(results: pd.DataFrame | None, label: str) -> pd.DataFrame:
    """The rows of ``results.parquet`` for one label set (``recorded`` or ``clean``); empty for no rows."""
    if results is None or results.empty:
        return pd.DataFrame()
    if "label" in results.columns:
        results = results[results["label"] == label]
    return results


def variant_names(frame: pd.DataFrame | None) -> list[str]:
    """The grid variants of a results table (its ``variant`` column, in order of appearance); [] if none."""
    if frame is None or frame.empty or VARIANT not in frame.columns:
        return []
    return list(dict.fromkeys(frame[VARIANT].astype(str)))


def split_variants(frame: pd.DataFrame) -> list[tuple[str | None, pd.DataFrame]]:
    """``[(variant, rows)]`` per grid variant; one ``(name or None, frame)`` without several variants."""
    names = variant_names(frame)
    if len(names) <= 1:
        return [(names[0] if names else None, frame)]
    col = frame[VARIANT].astype(str)
    return [(name, frame[col == name]) for name in names]
