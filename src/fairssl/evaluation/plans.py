"""Comparison plans: which groups of an attribute are compared with which reference, fixed on the full data.

A :class:`ComparisonPlan` is decided once per attribute from the full-data counts
(:func:`plan_comparisons`) and then evaluated on any number of count sets (:func:`evaluate_plan`: all
bootstrap resamples at once), so references and minimum-size checks do not move between resamples.

Parity modes (:func:`plan_comparisons`). ``parity="pairwise"`` compares each group with a reference
chosen by ``reference`` (``majority``, ``rest``, ``best`` or named). ``parity="paper"`` is the paper's
binarised definition: per attribute the privileged group (``privileged[attribute]``) against all other
eligible non-missing groups pooled (``group="rest"``), one comparison per attribute, every ratio
``rate_rest / rate_privileged`` (AIF360: unprivileged over privileged).

A group whose windows, subjects or positives fall below the minimum sizes is NaN in every pairwise row
(``group_below_min_size|min_subjects|min_positives``, ``reference_below_min_...``), checked before the
rules of :mod:`~fairssl.evaluation.rates`. ``no_eligible_group_in_rest`` (paper mode: no other group
meets the minimum sizes) and ``no_valid_comparison`` (a ``worst`` row without any valid group row)
complete the reason codes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fairssl.data.dataset import MISSING
from fairssl.errors import ConfigError
from fairssl.evaluation.attribute_metrics import ATTRIBUTE_METRICS, attribute_metric, attribute_reason
from fairssl.evaluation.counts import FN, TP, GroupCodes, group_subjects, subjects_in
from fairssl.evaluation.rates import PAIRWISE_METRICS, is_ratio_metric, pairwise_metric, pairwise_reason
from fairssl.evaluation.references import (
    PARITY_MODES,
    close_to_majority,
    named_group,
    pick_reference,
    warn_reference,
)

REST_GROUP = "rest"
"""Name of a pooled side: the reference of ``reference="rest"``, the compared side of paper mode."""

WORST_GROUP = "worst"
"""Group label of the rows holding, per pairwise metric, the comparison farthest from the ideal."""
ALL_GROUPS = "all"
"""Group and reference label of the attribute-level rows (all eligible groups at once)."""


# ---------------------------------------------------------------------------------------- comparison plan
@dataclass(frozen=True, eq=False)
class ComparisonPlan:
    """Which groups of one attribute are compared with which reference, fixed on the full data.

    Rows of the attribute's block of the fairness table, in order: for each comparison c, one row per
    metric of :data:`PAIRWISE_METRICS`; then, when there is more than one comparison, one ``worst`` row per
    pairwise metric; then one row per metric of :data:`ATTRIBUTE_METRICS`.

    Attributes:
        codes: the attribute's group encoding.
        labels: (C,) compared group names (``"rest"`` for the pooled unprivileged side of paper mode).
        reference_labels: (C,) reference names (a group name, or ``"rest"``).
        group_matrix, reference_matrix: float (C, G) indicators of the groups pooled on each side.
        status: (C,) ``""`` or the reason all metrics of that comparison are NaN (minimum sizes).
        eligible: bool (G,) groups meeting every minimum size (windows, subjects, positives); they take
            part in the attribute-level metrics and in the majority/best/paper choices.
        note: ``""`` or how a fallback chose the reference (e.g. paper mode without a privileged group
            for this attribute); the same text is issued as a
            :class:`~fairssl.evaluation.references.ReferenceWarning`.
    """

    codes: GroupCodes
    labels: tuple[str, ...]
    reference_labels: tuple[str, ...]
    group_matrix: np.ndarray
    reference_matrix: np.ndarray
    status: tuple[str, ...]
    eligible: np.ndarray
    note: str = ""

    @property
    def n_comparisons(self) -> int:
        return len(self.labels)

    @property
    def has_worst(self) -> bool:
        return self.n_comparisons > 1

    @property
    def n_rows(self) -> int:
        m = len(PAIRWISE_METRICS)
        return self.n_comparisons * m + (m if self.has_worst else 0) + len(ATTRIBUTE_METRICS)


@dataclass(frozen=True)
class _Sides:
    """Sizes of the pooled sides of comparisons: windows, distinct subjects, positives."""

    codes: GroupCodes
    positives: np.ndarray  # (G,) positive windows per group
    subjects: np.ndarray | None  # (N,) subject codes, None: each window its own subject
    min_group_size: int
    min_subjects: int
    min_positives: int

    def group_subjects(self) -> np.ndarray:
        if self.subjects is None:
            return self.codes.sizes
        return group_subjects(self.codes.codes, self.subjects, self.codes.n_groups)

    def status(self, u_row: np.ndarray, p_row: np.ndarray) -> str:
        """First unmet minimum: the compared side's windows, subjects, positives, then the reference's."""
        for row, where in ((u_row, "group"), (p_row, "reference")):
            n = float(row @ self.codes.sizes)
            if n < self.min_group_size:
                return f"{where}_below_min_size"
            if self.min_subjects > 0:
                n_subj = n if self.subjects is None else subjects_in(self.codes.codes, self.subjects, row > 0)
                if n_subj < self.min_subjects:
                    return f"{where}_below_min_subjects"
            if float(row @ self.positives) < self.min_positives:
                return f"{where}_below_min_positives"
        return ""


def plan_comparisons(
    codes: GroupCodes,
    counts: np.ndarray,
    *,
    reference: str | Mapping[str, str] = "majority",
    min_group_size: int = 30,
    parity: str = "pairwise",
    privileged: Mapping[str, str] | None = None,
    min_subjects: int = 0,
    min_positives: int = 0,
    subjects: np.ndarray | None = None,
) -> ComparisonPlan:
    """Decide the comparisons of one attribute from its full-data counts (G, 4).

    ``parity="pairwise"`` (default): every group against a reference chosen by ``reference``:
    ``"majority"`` (the largest group), ``"best"`` (the group with the highest accuracy, ties to the
    larger group; choosing the best-served group makes every error ratio measure a gap to the best),
    ``"rest"`` (each group against all other groups pooled; with exactly two groups only the smaller one
    is compared, since the other row would mirror it), or a mapping attribute -> group name (attributes
    absent from the mapping use ``"majority"``). ``majority``/``best`` pick among eligible groups (any
    group if none is eligible) and never pick :data:`MISSING`.

    ``parity="paper"``: ONE comparison, the privileged group ``privileged[attribute]`` (the reference,
    AIF360's privileged group) against all other eligible non-missing groups pooled (``group="rest"``;
    :data:`MISSING` never joins, even with ``include_missing``); ratios are ``rate_rest /
    rate_privileged``. ``reference`` is not used. An attribute absent from ``privileged`` falls back to
    its majority group, recorded in :attr:`ComparisonPlan.note` and issued as a
    :class:`~fairssl.evaluation.references.ReferenceWarning`; a privileged name that is not a group of the
    attribute is a DataError naming the groups. With no other eligible group the row is NaN
    (``no_eligible_group_in_rest``); attributes with fewer than two non-missing groups get no comparison.

    Minimum sizes: a group is eligible when it has at least ``min_group_size`` windows,
    ``min_subjects`` distinct subjects and ``min_positives`` positive windows; a comparison whose
    compared side or reference (pooled sides counted as pooled, a subject in two pooled groups once)
    misses one is NaN with ``group_below_min_size|min_subjects|min_positives`` or
    ``reference_below_...`` (first unmet, compared side first).

    When ``majority`` is chosen (the strategy, a mapping's fallback, or paper mode's fallback) and
    another candidate's size is within 10% of the largest
    (:data:`~fairssl.evaluation.references.MAJORITY_TOLERANCE`), a
    :class:`~fairssl.evaluation.references.ReferenceWarning` names the attribute and the groups: the
    reference is then nearly arbitrary.

    Args:
        counts: float (G, 4) full-data confusion counts of the attribute's groups.
        subjects: int (N,) subject codes aligned with ``codes.codes`` (only read when ``min_subjects`` >
            0); None counts each window as its own subject.
    """
    if parity not in PARITY_MODES:
        raise ConfigError(f"parity must be one of {', '.join(PARITY_MODES)}; got {parity!r}")
    counts = np.asarray(counts, dtype=np.float64)
    g_count = codes.n_groups
    sides = _Sides(
        codes=codes,
        positives=counts[:, FN] + counts[:, TP] if g_count else np.zeros(0),
        subjects=None if subjects is None else np.asarray(subjects, dtype=np.int64),
        min_group_size=min_group_size,
        min_subjects=min_subjects,
        min_positives=min_positives,
    )
    eligible = codes.sizes >= min_group_size
    if min_subjects > 0:
        eligible &= sides.group_subjects() >= min_subjects
    if min_positives > 0:
        eligible &= sides.positives >= min_positives
    labels: list[str] = []
    ref_labels: list[str] = []
    u_rows: list[np.ndarray] = []
    p_rows: list[np.ndarray] = []
    status: list[str] = []
    note = ""

    def add(u: np.ndarray, p: np.ndarray, label: str, ref_label: str, blocked: str = "") -> None:
        labels.append(label)
        ref_labels.append(ref_label)
        u_rows.append(u)
        p_rows.append(p)
        status.append(blocked or sides.status(u, p))

    def indicator(members: Sequence[int]) -> np.ndarray:
        row = np.zeros(g_count)
        row[list(members)] = 1.0
        return row

    if parity == "paper":
        real = [g for g in range(g_count) if codes.groups[g] != MISSING]
        if len(real) >= 2:
            if privileged is not None and codes.attribute in privileged:
                priv = named_group(codes, str(privileged[codes.attribute]), "privileged")
            else:
                priv = pick_reference(codes, counts, "majority", eligible)
                close = close_to_majority(codes, eligible, priv)
                note = (
                    f"attribute {codes.attribute!r}: parity='paper' without a privileged group for it, "
                    f"so the majority group {codes.groups[priv]!r} is used"
                    + (f" ({close})" if close else "")
                    + f"; name it with privileged={{{codes.attribute!r}: group}}"
                )
                warn_reference(note)
            rest = [g for g in real if g != priv and eligible[g]]
            add(
                indicator(rest),
                indicator([priv]),
                REST_GROUP,
                codes.groups[priv],
                "" if rest else "no_eligible_group_in_rest",
            )
    elif g_count >= 2:
        strategy = reference if isinstance(reference, str) else "named"
        named = None
        if isinstance(reference, Mapping):
            if codes.attribute in reference:
                named = named_group(codes, str(reference[codes.attribute]), "reference")
            else:
                strategy = "majority"
        if strategy == "rest":
            compared = list(range(g_count))
            if g_count == 2:
                compared = [min(compared, key=lambda g: (codes.sizes[g], -g))]
            for g in compared:
                u = indicator([g])
                add(u, 1.0 - u, codes.groups[g], REST_GROUP)
        else:
            if named is not None:
                ref = named
            else:
                ref = pick_reference(codes, counts, strategy, eligible)
                close = close_to_majority(codes, eligible, ref) if strategy == "majority" else ""
                if close:
                    note = (
                        f"attribute {codes.attribute!r}: reference='majority' picked the majority group, "
                        f"but {close}; name the reference with reference={{{codes.attribute!r}: group}}"
                    )
                    warn_reference(note)
            for g in range(g_count):
                if g != ref:
                    add(indicator([g]), indicator([ref]), codes.groups[g], codes.groups[ref])
    n_comp = len(labels)
    return ComparisonPlan(
        codes=codes,
        labels=tuple(labels),
        reference_labels=tuple(ref_labels),
        group_matrix=np.array(u_rows).reshape(n_comp, g_count),
        reference_matrix=np.array(p_rows).reshape(n_comp, g_count),
        status=tuple(status),
        eligible=eligible,
        note=note,
    )


def _badness(values: np.ndarray, metric: str) -> np.ndarray:
    """Distance from the ideal: |log ratio| for ratios (0.5 and 2 equally bad), |difference| otherwise."""
    with np.errstate(divide="ignore", invalid="ignore"):
        bad = np.abs(np.log(values)) if is_ratio_metric(metric) else np.abs(values)
    return np.where(np.isnan(bad), -1.0, bad)


def evaluate_plan(plan: ComparisonPlan, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All metric values of one attribute's block for B count sets.

    Args:
        counts: (B, G, 4) confusion counts of the attribute's groups (B resamples, or B = 1).

    Returns:
        values float (B, R) in the row order of :class:`ComparisonPlan`, and worst_index int (B, M): the
        comparison attaining each ``worst`` row (-1 if none valid; empty (B, 0) without worst rows).
    """
    counts = np.asarray(counts, dtype=np.float64)
    b = counts.shape[0]
    c_u = np.einsum("bgk,cg->bck", counts, plan.group_matrix)  # (B, C, 4) counts of compared groups
    c_p = np.einsum("bgk,cg->bck", counts, plan.reference_matrix)  # (B, C, 4) counts of references
    blocked = np.array([s != "" for s in plan.status], dtype=bool)  # (C,)
    pair = np.stack([pairwise_metric(m, c_u, c_p) for m in PAIRWISE_METRICS], axis=-1)  # (B, C, M)
    pair[:, blocked, :] = np.nan
    blocks = [pair.reshape(b, -1)]  # (B, C*M), comparison-major
    worst_index = np.zeros((b, 0), dtype=np.int64)
    if plan.has_worst:
        worst = np.empty((b, len(PAIRWISE_METRICS)))
        worst_index = np.empty((b, len(PAIRWISE_METRICS)), dtype=np.int64)
        for j, metric in enumerate(PAIRWISE_METRICS):
            bad = _badness(pair[:, :, j], metric)  # (B, C), -1 where NaN
            idx = bad.argmax(axis=1)
            valid = bad.max(axis=1) >= 0
            worst[:, j] = np.where(valid, pair[np.arange(b), idx, j], np.nan)
            worst_index[:, j] = np.where(valid, idx, -1)
        blocks.append(worst)
    attr = np.stack(
        [attribute_metric(m, counts, plan.eligible) for m in ATTRIBUTE_METRICS], axis=-1
    )  # (B, 4)
    blocks.append(attr)
    return np.concatenate(blocks, axis=1), worst_index


def plan_table(plan: ComparisonPlan, counts: np.ndarray) -> pd.DataFrame:
    """The attribute's block of :func:`~fairssl.evaluation.fairness.fairness_table` from counts (G, 4).

    ``counts`` are the full-data counts; the table has the columns of
    :data:`~fairssl.evaluation.fairness.TABLE_COLUMNS` (``attribute`` first, ``value`` before ``reason``).
    """
    counts = np.asarray(counts, dtype=np.float64)
    values, worst_index = evaluate_plan(plan, counts[None])
    sizes = plan.codes.sizes
    n_u = (plan.group_matrix @ sizes).astype(np.int64)  # (C,)
    n_p = (plan.reference_matrix @ sizes).astype(np.int64)  # (C,)
    c_u = plan.group_matrix @ counts  # (C, 4)
    c_p = plan.reference_matrix @ counts  # (C, 4)
    rows: list[tuple[str, str, int, int, str, str]] = []
    for c in range(plan.n_comparisons):
        for metric in PAIRWISE_METRICS:
            reason = plan.status[c] or str(pairwise_reason(metric, c_u[c], c_p[c]))
            rows.append((plan.labels[c], plan.reference_labels[c], int(n_u[c]), int(n_p[c]), metric, reason))
    if plan.has_worst:
        for j, metric in enumerate(PAIRWISE_METRICS):
            c = int(worst_index[0, j])
            if c >= 0:
                rows.append((WORST_GROUP, plan.reference_labels[c], int(n_u[c]), int(n_p[c]), metric, ""))
            else:
                rows.append((WORST_GROUP, plan.reference_labels[0], 0, 0, metric, "no_valid_comparison"))
    n_all = int(sizes[plan.eligible].sum())
    for metric in ATTRIBUTE_METRICS:
        rows.append(
            (ALL_GROUPS, ALL_GROUPS, n_all, n_all, metric, attribute_reason(metric, counts, plan.eligible))
        )
    table = pd.DataFrame(
        rows, columns=["group", "reference_group", "n_group", "n_reference", "metric", "reason"]
    )
    table.insert(0, "attribute", plan.codes.attribute)
    table.insert(6, "value", values[0])
    return table
