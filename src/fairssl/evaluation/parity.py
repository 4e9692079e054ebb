"""Parity deviation: the paper's single fairness score of a model, per attribute and pooled.

The six ratios of :data:`PARITY_RATIOS` turned into deviations from parity, ``|1 - r|``
(``deviation="abs"``, the paper's) or ``|log r|`` (``"log"``, symmetric: r and 1/r count alike); per
attribute the mean deviation over its defined ratio rows; pooled, the mean over attributes, so each
attribute weighs equally whatever its number of groups (before this, all ratio rows were pooled, so a
five-group attribute outweighed a two-group one four to one). Ideal 0; larger is worse.

Everything reads a fairness table (:func:`~fairssl.evaluation.fairness.fairness_table`) or B value vectors
laid out like one (bootstrap resamples): :func:`parity_mask` and :func:`parity_layout` say which rows are
pooled and for which attribute.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from fairssl.errors import ConfigError, DataError
from fairssl.evaluation.plans import WORST_GROUP
from fairssl.evaluation.references import DEVIATIONS

PARITY_RATIOS: tuple[str, ...] = (
    "disparate_impact",
    "error_rate_ratio",
    "false_discovery_rate_ratio",
    "false_negative_rate_ratio",
    "false_omission_rate_ratio",
    "false_positive_rate_ratio",
)
"""The six ratios pooled by :func:`parity_deviation`."""


def parity_mask(table: pd.DataFrame) -> np.ndarray:
    """bool (R,): rows pooled by :func:`parity_deviation` (the six ratios, not ``worst`` rows)."""
    return np.asarray(table["metric"].isin(PARITY_RATIOS) & (table["group"] != WORST_GROUP), dtype=bool)


def _check_deviation(deviation: str) -> None:
    if deviation not in DEVIATIONS:
        raise ConfigError(f"deviation must be one of {', '.join(DEVIATIONS)}; got {deviation!r}")


def ratio_deviation(ratios: np.ndarray, deviation: str = "abs") -> np.ndarray:
    """Distance of ratios from parity, element-wise, any shape -> same shape.

    ``"abs"``: ``|1 - r|`` (the paper's; 0.5 and 2 count 0.5 and 1). ``"log"``: ``|log r|`` (symmetric:
    r and 1/r count alike; 0.8 and 1.25 both about 0.22). Ideal 0; larger is worse. NaN stays NaN (and
    r <= 0, which :func:`pairwise_metric` never returns, gives NaN for ``"log"``).
    """
    _check_deviation(deviation)
    r = np.asarray(ratios, dtype=np.float64)
    if deviation == "abs":
        return np.abs(1.0 - r)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(r > 0, np.abs(np.log(np.where(r > 0, r, 1.0))), np.nan)


def parity_layout(table: pd.DataFrame) -> tuple[np.ndarray, tuple[str, ...]]:
    """Which attribute each parity row belongs to.

    Returns:
        index int (R,): for rows of :func:`parity_mask`, the position of the row's attribute in
        ``names``; -1 for every other row. names (A,): the table's attributes in order of first appearance
        (all of them, also those without parity rows, e.g. a single-group attribute).
    """
    missing = [c for c in ("attribute", "metric", "group", "value") if c not in table.columns]
    if missing:
        raise DataError(
            "parity_deviation needs a fairness_table with columns attribute, metric, group, value; "
            f"missing {missing}"
        )
    names = tuple(str(a) for a in pd.unique(table["attribute"].astype(str)))
    position = {name: i for i, name in enumerate(names)}
    index = table["attribute"].astype(str).map(position).to_numpy(dtype=np.int64)
    return np.where(parity_mask(table), index, -1), names


def attribute_means(values: np.ndarray, index: np.ndarray, n_attributes: int, deviation: str) -> np.ndarray:
    """(B, R) values -> (B, A): per attribute the mean deviation over its non-NaN parity rows (or NaN)."""
    v = np.asarray(values, dtype=np.float64)
    out = np.full((v.shape[0], n_attributes), np.nan)
    for a in range(n_attributes):
        cols = np.flatnonzero(index == a)
        if cols.size == 0:
            continue
        dev = ratio_deviation(np.ascontiguousarray(v[:, cols]), deviation)  # (B, R_a), C order
        valid = ~np.isnan(dev)
        n_valid = valid.sum(axis=1)
        total = np.where(valid, dev, 0.0).sum(axis=1)
        out[:, a] = np.where(n_valid > 0, total / np.maximum(n_valid, 1), np.nan)
    return out


def pool_attributes(attribute_values: np.ndarray) -> np.ndarray:
    """Pooled parity deviation: (B, A) per-attribute values -> (B,), the mean over defined attributes.

    Each attribute weighs equally; an attribute without a defined ratio (NaN) is left out; NaN when none
    is defined.
    """
    a = np.asarray(attribute_values, dtype=np.float64)
    valid = ~np.isnan(a)
    n_valid = valid.sum(axis=1)
    total = np.where(valid, a, 0.0).sum(axis=1)
    return np.where(n_valid > 0, total / np.maximum(n_valid, 1), np.nan)


def attribute_parity_values(values: np.ndarray, table: pd.DataFrame, *, deviation: str = "abs") -> np.ndarray:
    """Per-attribute parity deviation of B value vectors laid out like ``table``: (B, R) -> (B, A).

    ``PD_a = mean over the defined parity-ratio rows i of attribute a of dev(r_i)``, with dev ``|1 - r|``
    (``"abs"``) or ``|log r|`` (``"log"``); the attributes (A,) are :func:`parity_layout`'s names. Ideal 0;
    larger is worse; NaN for an attribute without a defined ratio.
    """
    index, names = parity_layout(table)
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != len(table):
        raise DataError(f"values must have shape (B, {len(table)}) like the table; got {v.shape}")
    return attribute_means(v, index, len(names), deviation)


def parity_deviation_values(
    values: np.ndarray,
    mask: np.ndarray,
    *,
    attributes: np.ndarray | Sequence[str] | None = None,
    deviation: str = "abs",
) -> np.ndarray:
    """Parity deviation of B value vectors: (B, R) -> (B,).

    Args:
        values: (B, R) rows of a fairness table (or B resamples of them).
        mask: bool (R,) the parity rows (:func:`parity_mask`).
        attributes: (R,) the attribute of each row. Given: attributes weigh equally (the mean over
            attributes of each attribute's mean deviation, as :func:`parity_deviation`). None: every
            masked row weighs equally (the pooling used before attributes were weighed equally; identical
            for a single attribute).
        deviation: ``"abs"`` (``|1 - r|``) or ``"log"`` (``|log r|``).

    Ideal 0; larger is worse; NaN when no masked entry is defined.
    """
    v = np.asarray(values, dtype=np.float64)
    m = np.asarray(mask, dtype=bool)
    if attributes is None:
        return attribute_means(v, np.where(m, 0, -1), 1, deviation)[:, 0]
    names, index = np.unique(np.asarray(attributes).astype(str), return_inverse=True)
    return pool_attributes(attribute_means(v, np.where(m, index, -1), len(names), deviation))


def attribute_parity_deviation(table: pd.DataFrame, *, deviation: str = "abs") -> pd.Series:
    """Per-attribute parity deviation of a :func:`fairness_table`: a float Series indexed by attribute.

    ``PD_a`` = mean ``|1 - r|`` (or ``|log r|``) over attribute a's defined rows of the six
    :data:`PARITY_RATIOS` (``worst`` rows and NaN values left out). Ideal 0; larger is worse; NaN for an
    attribute without a defined ratio.
    """
    index, names = parity_layout(table)
    values = table["value"].to_numpy(dtype=np.float64)[None, :]  # (1, R)
    per = attribute_means(values, index, len(names), deviation)[0]
    return pd.Series(per, index=pd.Index(names, name="attribute"), name="parity_deviation")


def parity_deviation(table: pd.DataFrame, *, deviation: str = "abs") -> float:
    """The paper's single fairness score of a model: the mean deviation from parity of the six ratios.

    ``PD = mean over attributes a of PD_a``, ``PD_a = mean over a's defined ratio rows of |1 - r|``
    (``deviation="abs"``, the paper's) or ``|log r|`` (``"log"``, symmetric). The ratios are the rows of
    :func:`fairness_table` whose metric is one of :data:`PARITY_RATIOS` (disparate impact, error-rate,
    FDR, FNR, FOR and FPR ratios), ``worst`` rows and NaN values left out. Attributes weigh equally
    whatever their number of groups (a change: all rows used to be pooled, so an attribute with five
    groups counted four times as much as one with two); attributes without a defined ratio are left out
    (see :func:`attribute_parity_deviation` for the per-attribute values). Ideal 0; larger is worse; with
    ``"abs"``, 0.2 marks the edge of the four-fifths band (0.8-1.25). NaN when no ratio is defined.
    """
    return float(pool_attributes(attribute_parity_deviation(table, deviation=deviation).to_numpy()[None])[0])


def improvement(pd_setup: float | np.ndarray, pd_supervised: float | np.ndarray) -> float | np.ndarray:
    """Relative fairness improvement of a setup over the supervised baseline.

    ``(PD_supervised - PD_setup) / PD_supervised``: positive when the setup is fairer (0.3 = parity
    deviation 30% lower), negative when less fair; NaN when PD_supervised is 0 or NaN. Works element-wise
    on arrays (bootstrap resamples).
    """
    setup = np.asarray(pd_setup, dtype=np.float64)
    sup = np.asarray(pd_supervised, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(sup != 0, (sup - setup) / np.where(sup != 0, sup, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out
