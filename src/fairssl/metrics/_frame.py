"""The result object of the metrics API: tidy tables per group, per comparison and per attribute."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fairssl.evaluation.attribute_metrics import ATTRIBUTE_METRICS
from fairssl.evaluation.rates import PAIRWISE_METRICS

if TYPE_CHECKING:
    from fairssl.metrics._options import Options

INTERVAL_COLUMNS = ["ci_low", "ci_high", "n_valid"]
"""Columns added to every table when intervals were asked (``n_boot > 0``)."""


def _number(value: float) -> str:
    return "NaN" if not np.isfinite(value) else f"{value:.3g}"


@dataclass(frozen=True, eq=False)
class GroupMetrics:
    """Group fairness and performance of one model's predictions (fairlearn ``MetricFrame``-like).

    Tables (pandas DataFrames, long format; ``value`` is NaN exactly where ``reason`` is not ``""``;
    with ``n_boot > 0`` they also have ``ci_low``, ``ci_high`` (percentile interval at ``confidence``;
    NaN where the value is undefined in more than half the resamples) and ``n_valid`` (resamples where the
    value was defined)):

    - :attr:`by_group`: one row per (attribute, group, metric): ``n`` windows, ``positives``, and the
      metrics selection_rate, true/false positive/negative rates, positive predictive value (precision),
      false discovery/omission rates, error rate, accuracy, balanced accuracy, F1, and with scores AUROC
      and AUPRC. Groups below ``min_group_size`` are NaN (``group_below_min_size``). Descriptive: no
      ideal value (compare groups with :attr:`pairwise`). :attr:`by_group_wide` pivots the values.
    - :attr:`pairwise`: each group against its reference for each AIF360 metric
      (:data:`~fairssl.evaluation.rates.PAIRWISE_METRICS`; ``*_difference`` ideal 0, ``*_ratio`` ideal 1,
      farther is worse), plus a ``group="worst"`` row per metric when an attribute has several
      comparisons; ``reason`` says why a value is undefined (codes in :mod:`fairssl.evaluation.fairness`).
    - :attr:`between_groups`: fairlearn's attribute-level metrics (demographic parity and equalized odds
      difference/ratio over all eligible groups of an attribute).
    - :attr:`parity_deviation`: the paper's single score: ``attribute="all"`` (the mean over
      attributes) then one row per attribute (mean ``|1 - r|`` over its defined parity ratios); ideal 0,
      larger is worse, 0.2 marks the edge of the four-fifths band. Its interval is the study's
      bias-aware one: a mean of ``|1 - r|`` is biased upward on a finite sample (its resampled values sit
      above the estimate), so the interval is centred on ``estimate_bc = value - bias`` (normal, bootstrap
      SD, clipped at 0) and may sit below ``value``; columns ``bias`` and ``estimate_bc`` show it.
    - :attr:`overall`: the metrics of :attr:`by_group` over all windows, indexed by metric.
    """

    by_group: pd.DataFrame
    fairness: pd.DataFrame
    """Every comparison row in the order of :func:`~fairssl.evaluation.fairness.fairness_table`."""
    parity_deviation: pd.DataFrame
    overall: pd.DataFrame
    options: Options
    n_boot: int = 0
    confidence: float = 0.95
    clustered: bool = False
    """Whether intervals resampled clusters (subjects) rather than windows."""

    @property
    def pairwise(self) -> pd.DataFrame:
        """Group-vs-reference rows (AIF360 metrics), with the ``worst`` rows."""
        return self.fairness[self.fairness["metric"].isin(PAIRWISE_METRICS)].reset_index(drop=True)

    @property
    def between_groups(self) -> pd.DataFrame:
        """Attribute-level rows (fairlearn ``between_groups`` / ``worst_case``), ``group = "all"``."""
        return self.fairness[self.fairness["metric"].isin(ATTRIBUTE_METRICS)].reset_index(drop=True)

    @property
    def by_group_wide(self) -> pd.DataFrame:
        """:attr:`by_group` values pivoted: index (attribute, group), columns n, positives, then metrics."""
        table = self.by_group
        order = list(pd.unique(table["metric"]))
        wide = table.pivot_table(
            index=["attribute", "group"], columns="metric", values="value", sort=False, dropna=False
        )
        sizes = table.drop_duplicates(["attribute", "group"]).set_index(["attribute", "group"])
        wide = wide.reindex(index=sizes.index, columns=order)
        wide.columns.name = None
        return pd.concat([sizes[["n", "positives"]], wide], axis=1)

    @property
    def attributes(self) -> tuple[str, ...]:
        """The protected attributes, in input order."""
        return tuple(str(a) for a in self.parity_deviation["attribute"].iloc[1:])

    def _headline(self) -> list[str]:
        pooled = self.parity_deviation.iloc[0]
        interval = ""
        if "ci_low" in self.parity_deviation.columns and np.isfinite(pooled["ci_low"]):
            interval = f" [{_number(pooled['ci_low'])}, {_number(pooled['ci_high'])}]"
        rows = self.parity_deviation.iloc[1:]
        per = ", ".join(
            f"{a} {_number(v)}"
            for a, v in zip(rows["attribute"], rows["value"].to_numpy(dtype=np.float64), strict=True)
        )
        groups = self.by_group.drop_duplicates(["attribute", "group"])["attribute"].value_counts(sort=False)
        sizes = {a: int(groups.get(a, 0)) for a in self.attributes}
        attrs = ", ".join(f"{a}: {k} group{'' if k == 1 else 's'}" for a, k in sizes.items())
        windows = f"{int(self.overall['n'].iloc[0])} windows; " if len(self.overall) else ""
        lines = [
            f"GroupMetrics: {windows}{attrs}; reference={self.options.reference!r}, "
            f"parity={self.options.parity!r}",
            f"parity deviation {_number(float(pooled['value']))}{interval} (ideal 0; {per})",
        ]
        if len(self.overall):
            shown = ("selection_rate", "true_positive_rate", "false_positive_rate", "auroc")
            values = self.overall["value"].to_numpy(dtype=np.float64)
            position = {str(m): i for i, m in enumerate(self.overall.index)}
            text = ", ".join(f"{m} {_number(values[position[m]])}" for m in shown if m in position)
            lines.append(f"overall: {text}")
        if self.n_boot:
            unit = "clusters" if self.clustered else "windows"
            lines.append(
                f"intervals: {self.confidence:.0%}, {self.n_boot} resamples of {unit} (percentile; parity "
                "deviation: bias-corrected)"
            )
        return lines

    def __repr__(self) -> str:
        tables = ".by_group, .by_group_wide, .pairwise, .between_groups, .parity_deviation, .overall"
        return "\n".join([*self._headline(), f"tables: {tables}"])

    def _repr_html_(self) -> str:
        lines = "".join(f"<div>{html.escape(line)}</div>" for line in self._headline())
        wide = self.by_group_wide.to_html(float_format=lambda v: f"{v:.3f}", na_rep="NaN")
        return f"<div class='fairssl-group-metrics'>{lines}{wide}</div>"
