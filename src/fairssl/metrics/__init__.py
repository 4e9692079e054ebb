"""fairssl.metrics: group fairness of your own model's predictions, the way the pipeline measures it.

A fairlearn ``MetricFrame``-like entry point over the pipeline's own metric code (AIF360 definitions,
reason codes where a value is undefined, the paper's parity deviation, subject-level bootstrap
intervals)::

    >>> import numpy as np, pandas as pd
    >>> from fairssl.metrics import group_metrics
    >>> rng = np.random.default_rng(0)
    >>> sex = rng.choice(["female", "male"], 400)
    >>> y = rng.integers(0, 2, 400)
    >>> score = np.clip(0.35 * y + 0.15 * (sex == "male") + rng.uniform(0, 0.6, 400), 0, 1)
    >>> gm = group_metrics(y, y_score=score, sensitive_features=pd.DataFrame({"sex": sex}))
    >>> bool(gm.by_group_wide.loc[("sex", "female"), "selection_rate"] < 0.5)  # females selected less
    True
    >>> bool(gm.pairwise.query("metric == 'disparate_impact'")["value"].iloc[0] < 0.8)
    True
    >>> gm.parity_deviation.columns.tolist()
    ['attribute', 'value', 'reason']

Add ``n_boot=1000, clusters=subject_ids`` for intervals (``ci_low``, ``ci_high``, ``n_valid`` columns)
that resample subjects. Inside a training loop, :class:`GroupMetricsAccumulator` adds per-group
confusion counts batch by batch; :mod:`fairssl.metrics.from_counts` holds the count-level functions.

Public names: :func:`group_metrics`, :class:`GroupMetrics`, :class:`GroupMetricsAccumulator`,
:mod:`from_counts`, :class:`WindowResamplingWarning` (intervals asked without ``clusters``).
"""

from fairssl.metrics import from_counts
from fairssl.metrics._accumulator import GroupMetricsAccumulator
from fairssl.metrics._frame import GroupMetrics
from fairssl.metrics._group_metrics import group_metrics
from fairssl.metrics._intervals import WindowResamplingWarning

__all__ = [
    "GroupMetrics",
    "GroupMetricsAccumulator",
    "WindowResamplingWarning",
    "from_counts",
    "group_metrics",
]
