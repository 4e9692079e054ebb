"""Recorded labels from the truth: the two kinds of label bias.

- random under-recording (``label_bias``): a true positive of the group is recorded as negative with
  probability ``rate``, whatever its signals;
- signal-dependent under-diagnosis (``under_diagnosis``): a true positive of the group whose true risk
  (Bayes score) is below ``threshold`` is recorded as negative: mild cases are missed, severe ones are not,
  so the model learns a higher threshold for the group.

Negatives are never recorded as positive.
"""

from __future__ import annotations

import numpy as np


def under_record(y: np.ndarray, rows: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Copy of ``y`` (N,) with each positive of ``rows`` set to 0 with probability ``rate``."""
    drop = rows & (y == 1) & (rng.random(y.shape[0]) < rate)
    return np.where(drop, 0, y)


def under_diagnose(y: np.ndarray, rows: np.ndarray, bayes: np.ndarray, threshold: float) -> np.ndarray:
    """Copy of ``y`` (N,) with the positives of ``rows`` whose Bayes score is below ``threshold`` set to 0."""
    return np.where(rows & (y == 1) & (bayes < threshold), 0, y)
