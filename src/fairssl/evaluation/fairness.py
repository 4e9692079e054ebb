"""Group-fairness tables (AIF360 ClassificationMetric and fairlearn definitions) of hard predictions.

:func:`fairness_table` gives one row per (attribute, compared group, metric); :func:`intersect` builds
intersectional groups. The pieces:

- :mod:`~fairssl.evaluation.rates`: group rates, the AIF360 pairwise metrics
  (:data:`~fairssl.evaluation.rates.PAIRWISE_METRICS`) and the rules that make a value NaN;
- :mod:`~fairssl.evaluation.attribute_metrics`: fairlearn's attribute-level metrics
  (:data:`~fairssl.evaluation.attribute_metrics.ATTRIBUTE_METRICS`);
- :mod:`~fairssl.evaluation.references`: the options (reference, parity mode, privileged groups) and the
  choice of the reference group;
- :mod:`~fairssl.evaluation.plans`: the comparisons of an attribute, fixed on the full data, their minimum
  sizes and their evaluation on any number of count sets;
- :mod:`~fairssl.evaluation.parity`: the parity deviation of a table.

Reason codes of the table's ``reason`` column (``""`` when the value is valid):
``no_positives_in_group|reference``, ``no_negatives_in_group|reference``,
``no_predicted_positives_in_group|reference``, ``no_predicted_negatives_in_group|reference``,
``empty_group|reference`` (rules 1-2 of :mod:`~fairssl.evaluation.rates`), ``zero_denominator`` /
``zero_numerator`` (rule 3; for fairlearn ratios: the largest group rate is 0), ``group_below_min_size``,
``group_below_min_subjects``, ``group_below_min_positives`` and
``reference_below_min_size|min_subjects|min_positives``, ``no_eligible_group_in_rest`` (paper mode: no
other group meets the minimum sizes), ``fewer_than_two_groups``, ``no_positives_in_a_group`` /
``no_negatives_in_a_group`` (fairlearn equalized odds), ``no_valid_comparison`` (a worst-case row
without any valid group row).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from fairssl.data.dataset import MISSING
from fairssl.errors import DataError
from fairssl.evaluation.counts import (
    as_sensitive_frame,
    binarise,
    check_min_group_size,
    confusion_counts,
    encode_groups,
    encode_subjects,
)
from fairssl.evaluation.plans import plan_comparisons, plan_table
from fairssl.evaluation.references import validate_parity_options, validate_reference

TABLE_COLUMNS = [
    "attribute",
    "group",
    "reference_group",
    "n_group",
    "n_reference",
    "metric",
    "value",
    "reason",
]


def _check_labels(y_true: np.ndarray, y_pred: np.ndarray) -> int:
    n = int(np.asarray(y_true).shape[0]) if np.asarray(y_true).ndim else 0
    if np.asarray(y_pred).shape != np.asarray(y_true).shape:
        raise DataError(
            f"y_true has shape {np.shape(y_true)} but y_pred has shape {np.shape(y_pred)}; "
            "give one prediction per window"
        )
    if n == 0:
        raise DataError("y_true is empty; give at least one window")
    return n


def fairness_table(
    y_true: np.ndarray | Sequence[int],
    y_pred: np.ndarray | Sequence[int],
    sensitive_features: pd.DataFrame | pd.Series,
    *,
    reference: str | Mapping[str, str] = "majority",
    min_group_size: int = 30,
    include_missing: bool = False,
    pos_label: int = 1,
    parity: str = "pairwise",
    privileged: Mapping[str, str] | None = None,
    min_subjects: int = 0,
    min_positives: int = 0,
    subjects: np.ndarray | Sequence | None = None,
) -> pd.DataFrame:
    """Group-fairness metrics of hard predictions, one row per (attribute, compared group, metric).

    Args:
        y_true, y_pred: class labels (N,); binarised one-vs-rest as ``label == pos_label``.
        sensitive_features: DataFrame, N rows, one column per protected attribute (see :func:`intersect`
            for intersectional groups). NaN/None/'' and :data:`MISSING` form the ``missing`` group, which
            is left out of every comparison unless ``include_missing``.
        reference: ``"majority"``, ``"rest"``, ``"best"`` or a mapping attribute -> reference group (see
            :func:`~fairssl.evaluation.plans.plan_comparisons`); used with ``parity="pairwise"``.
        min_group_size: groups (and references) with fewer windows get NaN with a reason code.
        parity: ``"pairwise"`` (each group against ``reference``) or ``"paper"`` (per attribute the
            privileged group against the pooled rest, one comparison; see
            :func:`~fairssl.evaluation.plans.plan_comparisons`).
        privileged: paper mode: attribute -> privileged group; attributes absent use their majority group
            (with a :class:`~fairssl.evaluation.references.ReferenceWarning`); an attribute that is not a
            column is a DataError.
        min_subjects: groups (and references) with fewer distinct subjects get NaN
            (``group_below_min_subjects``); 0 (default) checks nothing. Needs ``subjects``, else each
            window counts as a subject.
        min_positives: groups (and references) with fewer positive windows get NaN
            (``group_below_min_positives``); 0 (default) checks nothing.
        subjects: (N,) subject ids of the windows (for ``min_subjects``).

    Returns:
        DataFrame with columns attribute, group, reference_group, n_group, n_reference, metric, value,
        reason. Per attribute: each compared group against its reference for every metric of
        :data:`~fairssl.evaluation.rates.PAIRWISE_METRICS` (AIF360 definitions; NaN rules in
        :mod:`~fairssl.evaluation.rates`), a ``group="worst"`` row per metric when an attribute has more
        than one comparison (the valid value farthest from the ideal: largest ``|difference|`` or
        ``|log ratio|``; n_group/reference_group name the comparison attaining it), and the fairlearn
        attribute-level metrics (:data:`~fairssl.evaluation.attribute_metrics.ATTRIBUTE_METRICS`,
        ``group = reference_group = "all"``, n_group = n_reference = windows in eligible groups). In paper
        mode the compared group is ``"rest"`` and the reference the privileged group. ``value`` is NaN
        exactly where ``reason`` is not ``""``.
    """
    n = _check_labels(np.asarray(y_true), np.asarray(y_pred))
    check_min_group_size(min_group_size)
    frame = as_sensitive_frame(sensitive_features, n)
    validate_reference(reference, list(frame.columns))
    validate_parity_options(
        parity, privileged, list(frame.columns), min_subjects=min_subjects, min_positives=min_positives
    )
    subject_codes = None if subjects is None else encode_subjects(subjects, n)
    yt = binarise(y_true, pos_label=pos_label, name="y_true")
    yp = binarise(y_pred, pos_label=pos_label, name="y_pred")
    blocks = []
    for codes in encode_groups(frame, include_missing=include_missing):
        counts = confusion_counts(yt, yp, codes.codes, n_groups=codes.n_groups)
        plan = plan_comparisons(
            codes,
            counts,
            reference=reference,
            min_group_size=min_group_size,
            parity=parity,
            privileged=privileged,
            min_subjects=min_subjects,
            min_positives=min_positives,
            subjects=subject_codes,
        )
        blocks.append(plan_table(plan, counts))
    return pd.concat(blocks, ignore_index=True)[TABLE_COLUMNS]


def fairness_table_per_class(
    y_true: np.ndarray | Sequence[int],
    y_pred: np.ndarray | Sequence[int],
    sensitive_features: pd.DataFrame | pd.Series,
    *,
    classes: Sequence[int] | None = None,
    reference: str | Mapping[str, str] = "majority",
    min_group_size: int = 30,
    include_missing: bool = False,
    parity: str = "pairwise",
    privileged: Mapping[str, str] | None = None,
    min_subjects: int = 0,
    min_positives: int = 0,
    subjects: np.ndarray | Sequence | None = None,
) -> pd.DataFrame:
    """Multiclass labels: :func:`fairness_table` one-vs-rest per class, with a leading ``pos_label`` column.

    ``classes`` defaults to the sorted labels present in ``y_true``; positives (``min_positives``) are the
    windows of the class in turn.
    """
    labels = np.unique(np.asarray(y_true)) if classes is None else np.asarray(list(classes))
    tables = []
    for k in labels:
        table = fairness_table(
            y_true,
            y_pred,
            sensitive_features,
            reference=reference,
            min_group_size=min_group_size,
            include_missing=include_missing,
            pos_label=int(k),
            parity=parity,
            privileged=privileged,
            min_subjects=min_subjects,
            min_positives=min_positives,
            subjects=subjects,
        )
        table.insert(0, "pos_label", int(k))
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def intersect(
    sensitive_features: pd.DataFrame,
    columns: Sequence[str],
    *,
    sep: str = " & ",
    name: str | None = None,
) -> pd.Series:
    """Intersectional groups: one column joining the values of ``columns`` (e.g. ``"female & 65+"``).

    A window missing any of the attributes is :data:`MISSING`. Use the result as an extra column of
    ``sensitive_features``; ``min_group_size`` guards against tiny cells. The Series keeps the index of
    ``sensitive_features`` and is named ``name`` (default the column names joined by ``sep``).
    """
    if not isinstance(sensitive_features, pd.DataFrame):
        raise DataError(f"intersect needs a DataFrame of attributes; got {type(sensitive_features).__name__}")
    cols = [str(c) for c in columns]
    absent = [c for c in cols if c not in map(str, sensitive_features.columns)]
    if not cols or absent:
        raise DataError(
            f"intersect columns {absent or cols} are not columns of sensitive_features "
            f"{list(sensitive_features.columns)}; name at least one existing attribute"
        )
    frame = as_sensitive_frame(sensitive_features, len(sensitive_features))
    values = frame[cols].astype(str)
    joined = values.agg(sep.join, axis=1)
    any_missing = (values == MISSING).any(axis=1)
    out = joined.where(~any_missing, MISSING)
    out.index = sensitive_features.index
    out.name = name if name is not None else sep.join(cols)
    return out.astype(object)
