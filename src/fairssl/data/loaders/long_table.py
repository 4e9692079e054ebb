"""The ``long`` source: a long table (one row per subject and time step) cut into scaled windows.

Steps, in this order (each one-line error names the fix):

1. read the table (CSV/TSV/parquet, by magic bytes) and check its columns; a header-only table is an error;
2. split the subjects long enough for a window (``split_col``, or drawn stratified by "any positive row");
3. impute (``impute``) in the data's units with fills from the *training* subjects' rows;
4. cut windows (:func:`fairssl.data.windowing.windows_from_long`; ``max_gap`` drops windows that span a
   larger time step, and windows spanning steps > 3 x the subject's median step are counted);
5. scale every channel with statistics of the *training* windows' observed values
   (:func:`fairssl.data.scaling.scale_train_fitted`; ``scaling``, ``clip``).

The options and their defaults are tabulated in :mod:`fairssl.data.loaders.generic`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairssl.data.dataset import MISSING, WindowDataset
from fairssl.data.loaders.checks import check_labels, normalise_split
from fairssl.data.loaders.files import read_table
from fairssl.data.scaling import check_scaling, scale_train_fitted
from fairssl.data.splits import subject_split
from fairssl.data.windowing import Impute, LabelRule, check_columns, check_window_fits, windows_from_long
from fairssl.errors import ConfigError, DataError


def _demographics_frame(
    demographics: str | Path | pd.DataFrame, id_col: str, attributes: Sequence[str] | None
) -> pd.DataFrame:
    """The demographics table indexed by subject id (str), attribute columns only; duplicate ids raise."""
    demo = demographics.copy() if isinstance(demographics, pd.DataFrame) else read_table(demographics)
    check_columns(demo, [id_col], source="the demographics table")
    attr_cols = [c for c in demo.columns if c != id_col] if attributes is None else list(attributes)
    check_columns(demo, attr_cols, source="the demographics table")
    demo[id_col] = demo[id_col].astype(str)
    dup = demo[id_col].duplicated()
    if dup.any():
        raise DataError(
            f"the demographics table has {int(dup.sum())} duplicate id(s) in {id_col!r} "
            f"(e.g. {str(demo.loc[dup, id_col].iloc[0])!r}); keep one row per subject"
        )
    return demo.set_index(id_col)[attr_cols]


def _channel_columns(
    table: pd.DataFrame, channels: Sequence[str] | None, used: set[str], source: str
) -> list[str]:
    """The channel columns: ``channels``, or every numeric (non-bool) column not in ``used``."""
    if channels is not None:
        chan = [str(c) for c in channels]
        check_columns(table, chan, source=source)
        return chan
    chan = [
        str(c)
        for c in table.columns
        if c not in used
        and pd.api.types.is_numeric_dtype(table[c])
        and not pd.api.types.is_bool_dtype(table[c])
    ]
    if not chan:
        raise DataError(
            f"no numeric channel columns in {source} besides {sorted(used)}; "
            f"available columns: {', '.join(map(str, table.columns))}"
        )
    return chan


def _split_subjects(
    table: pd.DataFrame,
    *,
    subject_col: str,
    label_col: str,
    split_col: str | None,
    window: int,
    fractions: Sequence[float],
    seed: int,
) -> dict[str, str]:
    """subject -> split for the subjects with at least ``window`` rows (given or drawn by subject)."""
    lengths = table.groupby(subject_col, sort=True).size()
    check_window_fits(lengths.index.to_numpy(), lengths.to_numpy(), window)
    eligible = lengths.index[lengths.to_numpy() >= window].to_numpy()
    if split_col is not None:
        per_subject = table.groupby(subject_col)[split_col].nunique()
        mixed = per_subject[per_subject > 1]
        if len(mixed):
            raise DataError(
                f"subject {str(mixed.index[0])!r} appears in more than one split in column {split_col!r} "
                f"({len(mixed)} such subject(s)); splits must be subject-disjoint: re-split by subject"
            )
        first = table.groupby(subject_col)[split_col].first().loc[eligible]
        return dict(zip(eligible.tolist(), normalise_split(first).tolist(), strict=True))
    y_rows = pd.to_numeric(table[label_col], errors="coerce")
    stratum = y_rows.groupby(table[subject_col]).max().reindex(eligible).fillna(-1).to_numpy()
    drawn = subject_split(eligible, fractions=fractions, seed=seed, stratify=stratum)
    return dict(zip(eligible.tolist(), drawn.tolist(), strict=True))


def _train_fill_values(
    table: pd.DataFrame, train_rows: np.ndarray, chan: list[str], impute: Impute | None
) -> dict[str, float] | None:
    """Per-channel fill values (data units) for "ffill"/"mean": means over the training rows."""
    if impute not in ("ffill", "mean"):
        return None
    values = table.loc[train_rows, chan].apply(pd.to_numeric, errors="coerce")
    return {str(k): float(v) for k, v in values.replace([np.inf, -np.inf], np.nan).mean().fillna(0.0).items()}


def load_long_table(
    path: str | Path | pd.DataFrame,
    *,
    subject_col: str = "subject",
    time_col: str = "time",
    label_col: str = "label",
    channels: Sequence[str] | None = None,
    window: int,
    stride: int = 1,
    label_rule: LabelRule = "last",
    demographics: str | Path | pd.DataFrame | None = None,
    demographics_id_col: str | None = None,
    attributes: Sequence[str] | None = None,
    split_col: str | None = None,
    impute: Impute | None = None,
    min_coverage: float = 0.0,
    max_gap: Any = None,
    scaling: str = "standard",
    clip: float | None = None,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int = 0,
    binary: bool = True,
    name: str | None = None,
) -> WindowDataset:
    """Load a long table (CSV/parquet or DataFrame: one row per subject and time step) as windows.

    ``channels`` None = every numeric column other than the subject, time, label, split and attribute
    columns. Windows of ``window`` rows every ``stride`` rows, labelled by ``label_rule`` (see
    :func:`fairssl.data.windowing.windows_from_long`); ``max_gap`` drops windows that span a larger
    time step (a number in ``time_col``'s units, or a duration such as ``"2D"`` for dates).

    Protected attributes come from ``demographics`` (a table with one row per subject, joined on
    ``demographics_id_col``, default ``subject_col``; ``attributes`` picks columns, default all) or, without
    it, from the ``attributes`` columns of the long table (first non-missing value per subject). Subjects
    without demographics get the explicit :data:`~fairssl.data.dataset.MISSING` category; they are never
    dropped nor merged into another group.

    The split is per subject: ``split_col`` if given (constant per subject), else drawn over the subjects
    long enough for a window, stratified by "any positive row". Imputation ("ffill", "mean") falls back on
    column means of the *training* subjects' rows; "zero" fills 0 (data units). Channels are then scaled
    (``scaling`` "standard" by default, "robust" or "none"; ``clip``) with the training windows' observed
    values only; ``info`` records the centre and scale of each channel and the windowing counts
    (``info["windowing"]``: ``windows_dropped_gap``, ``windows_spanning_gaps``, ...).
    """
    check_scaling(scaling, clip)
    table = path.copy() if isinstance(path, pd.DataFrame) else read_table(path)
    source = "a DataFrame" if isinstance(path, pd.DataFrame) else str(path)
    if len(table) == 0:
        raise DataError(
            f"{source} has no rows (only a header: {', '.join(map(str, table.columns))}); "
            "export the data rows too"
        )
    base = [subject_col, time_col, label_col] + ([split_col] if split_col else [])
    check_columns(table, base, source=source)
    table[subject_col] = table[subject_col].astype(str)

    demo: pd.DataFrame | None = None
    table_attr_cols: list[str] = []
    if demographics is not None:
        demo = _demographics_frame(demographics, demographics_id_col or subject_col, attributes)
    elif demographics_id_col is not None:
        raise ConfigError(
            "demographics_id_col is set but no demographics table was given; pass demographics="
        )
    else:
        table_attr_cols = list(attributes or [])
        check_columns(table, table_attr_cols, source=source)
    chan = _channel_columns(table, channels, set(base) | set(table_attr_cols), source)

    # Per-subject split, drawn before windowing so imputation and scaling use training statistics only.
    subject_to_split = _split_subjects(
        table, subject_col=subject_col, label_col=label_col, split_col=split_col, window=window,
        fractions=fractions, seed=seed,
    )  # fmt: skip
    train_rows = table[subject_col].map(subject_to_split).eq("train").to_numpy()
    fill_values = _train_fill_values(table, train_rows, chan, impute)
    windows = windows_from_long(
        table, subject_col=subject_col, time_col=time_col, channels=chan, label_col=label_col,
        window=window, stride=stride, label_rule=label_rule, min_coverage=min_coverage, impute=impute,
        fill_values=fill_values, max_gap=max_gap,
    )  # fmt: skip
    split = np.array([subject_to_split[s] for s in windows.subject], dtype=object)
    y = check_labels(windows.y, binary=binary, split=split)
    X, scale_info = scale_train_fitted(
        windows.X, split, method=scaling, clip=clip, mask=windows.mask, channel_names=chan
    )

    if demo is not None:
        attrs = demo.reindex(windows.subject).reset_index(drop=True)
        n_missing_subjects = int((~pd.Index(np.unique(windows.subject)).isin(demo.index)).sum())
    else:
        per_subject_attr = table.groupby(subject_col)[table_attr_cols].first() if table_attr_cols else None
        attrs = (
            per_subject_attr.reindex(windows.subject).reset_index(drop=True)
            if per_subject_attr is not None
            else pd.DataFrame(index=range(len(y)))
        )
        n_missing_subjects = 0
    info = {
        "source": source,
        "windowing": windows.report,
        "split": "column " + split_col
        if split_col
        else f"drawn by subject (fractions {list(fractions)}, seed {seed})",
        "fill_values": fill_values,
        "subjects_without_demographics": n_missing_subjects,
        "missing_category": MISSING,
        **scale_info,
    }
    return WindowDataset.build(
        X,
        y,
        subject=windows.subject,
        split=split,
        attributes=attrs,
        window_id=windows.window_id,
        channel_names=chan,
        name=name or (Path(path).stem if not isinstance(path, pd.DataFrame) else "long_table"),
        mask=windows.mask,
        info=info,
    )


__all__ = ["load_long_table"]
