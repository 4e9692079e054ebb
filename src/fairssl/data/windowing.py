"""Long table (one row per subject and time step) -> fixed-length windows (N, C, T).

A *long* table has one row per (subject, time) with one column per channel and a label column. Each
subject's rows are sorted by time and cut into windows of ``window`` consecutive rows every ``stride``
rows (``numpy.lib.stride_tricks.sliding_window_view``, vectorised per subject). Windows never cross
subjects. Missing values are an error unless ``impute`` is given; imputation returns a ``mask`` that is
True where a value was observed.

The window label follows ``label_rule``:

- ``"last"``     label of the window's last row (predict the present from the recent past);
- ``"center"``   label of the middle row ``window // 2`` (e.g. MESA: 50 epochs either side of an epoch);
- ``"any"``      max over the window's rows (1 if any row is positive, for 0/1 labels);
- ``"majority"`` most frequent label in the window (ties go to the smallest label).

Rows whose label is NaN are unlabelled: a window whose rule yields no label (e.g. ``"last"`` on an
unlabelled row) is dropped and counted, which turns sparse labels (e.g. weekly surveys) into windows
that end on a label date.

Windows count rows, not time. ``max_gap`` drops the windows that span a step between consecutive rows
larger than it (counted as ``windows_dropped_gap``); whatever ``max_gap``, the kept windows that span a
step larger than 3 x their subject's median step are counted as ``windows_spanning_gaps`` (see
:mod:`fairssl.data.gaps`). Values beyond 1e20 (or too large for float32) are an error
(:mod:`fairssl.data.magnitude`).

This module decides which windows to keep (pass 1); :mod:`fairssl.data.window_writer` copies them into
RAM or a memory-mapped ``.npy`` file (pass 2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from fairssl.data.gaps import (
    GAP_RULE,
    count_in_windows,
    format_step,
    gap_limit,
    largest_step,
    long_steps,
    row_steps,
    time_axis,
)
from fairssl.data.impute import (
    IMPUTE_METHODS,
    Impute,
    fill_defaults,
    impute_rows,
    impute_windows,
    nonfinite_message,
)
from fairssl.data.magnitude import check_magnitude
from fairssl.data.window_writer import write_windows
from fairssl.errors import ConfigError, DataError

LabelRule = Literal["last", "center", "any", "majority"]
LABEL_RULES = ("last", "center", "any", "majority")


@dataclass(frozen=True, eq=False)
class Windows:
    """Windows cut from a long table, with the ids that travel with them.

    ``X`` float32 (N, C, T); ``y`` float64 (N,) window labels (never NaN); ``subject`` (N,) str;
    ``start_time`` / ``end_time`` (N,) time values of the first and last row of each window;
    ``window_id`` (N,) unique ``"<subject>@<start_time>"``; ``mask`` bool (N, C, T), True where observed
    (only when imputing, else None); ``report`` counts of what was kept, skipped and imputed.
    """

    X: np.ndarray
    y: np.ndarray
    subject: np.ndarray
    start_time: np.ndarray
    end_time: np.ndarray
    window_id: np.ndarray
    mask: np.ndarray | None
    report: dict[str, Any] = field(default_factory=dict)


def check_columns(table: pd.DataFrame, columns: Sequence[str], *, source: str = "the table") -> None:
    """Raise :class:`DataError` naming the ``columns`` absent from ``table`` and listing those present."""
    unknown = [c for c in columns if c not in table.columns]
    if unknown:
        available = ", ".join(map(str, table.columns))
        raise DataError(f"unknown column(s) {unknown} in {source}; available columns: {available}")


def check_window_fits(subjects: np.ndarray, lengths: np.ndarray, window: int) -> None:
    """Raise :class:`DataError` unless some subject's series (``lengths`` rows) holds ``window`` rows."""
    if len(lengths) == 0:
        raise DataError("the table has no rows; nothing to window")
    longest = int(np.argmax(lengths))
    if lengths[longest] < window:
        raise DataError(
            f"window longer than every subject's series: window={window} rows but the longest series "
            f"(subject {str(subjects[longest])!r}) has {int(lengths[longest])} rows; use a shorter window"
        )


def _window_labels(labels: np.ndarray, rule: str, classes: np.ndarray) -> np.ndarray:
    """Labels (n_w, T) of each window's rows -> (n_w,) window labels (NaN where undefined)."""
    n_w, t = labels.shape
    if rule == "last":
        return labels[:, -1].astype(float)
    if rule == "center":
        return labels[:, t // 2].astype(float)
    observed = ~np.isnan(labels)
    any_obs = observed.any(axis=1)
    if rule == "any":
        filled = np.where(observed, labels, -np.inf)
        return np.where(any_obs, filled.max(axis=1), np.nan)
    if len(classes) == 0:
        return np.full(n_w, np.nan)
    # majority: count each class per window -> (n_w, K), argmax (ties -> smallest class)
    counts = (labels[:, :, None] == classes[None, None, :]).sum(axis=1)  # (n_w, K)
    return np.where(any_obs, classes[np.argmax(counts, axis=1)], np.nan)


def _keep_windows(
    labels: np.ndarray,
    obs_rows: np.ndarray,
    far: np.ndarray,
    *,
    window: int,
    stride: int,
    label_rule: str,
    classes: np.ndarray,
    min_coverage: float,
    n_channels: int,
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """One subject's rows (L,) -> (kept window starts, their labels, drop counts).

    A window is dropped, in this order, for having no label, for spanning a step beyond ``max_gap``
    (``far`` marks the row a too-large step leads into), or for coverage below ``min_coverage``.
    """
    lab = sliding_window_view(labels, window)[::stride]  # (n_w, T)
    first = np.arange(lab.shape[0]) * stride
    wl = _window_labels(lab, label_rule, classes)
    cum = np.r_[0, np.cumsum(obs_rows)]
    coverage = (cum[first + window] - cum[first]) / (window * n_channels)
    ok_label = ~np.isnan(wl)
    ok_gap = count_in_windows(far, first, window) == 0
    ok_cov = coverage >= min_coverage
    counts = {
        "unlabelled": int((~ok_label).sum()),
        "gap": int((ok_label & ~ok_gap).sum()),
        "coverage": int((ok_label & ok_gap & ~ok_cov).sum()),
    }
    keep = ok_label & ok_gap & ok_cov
    return first[keep], wl[keep], counts


def _sorted_rows(table: pd.DataFrame, subject_col: str, time_col: str) -> tuple[np.ndarray, ...]:
    """(order, subject, time) of the rows sorted by subject then time; duplicate or missing times raise."""
    frame = pd.DataFrame(
        {"subject": table[subject_col].astype(str).to_numpy(), "time": table[time_col].to_numpy()}
    )
    if frame["time"].isna().any():
        raise DataError(
            f"time column {time_col!r} holds {int(frame['time'].isna().sum())} missing values; "
            "every row needs a time"
        )
    order = frame.sort_values(["subject", "time"], kind="mergesort").index.to_numpy()
    subj = frame["subject"].to_numpy()[order]
    times = frame["time"].to_numpy()[order]
    dup = pd.DataFrame({"s": subj, "t": times}).duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataError(
            f"subject {str(subj[i])!r} has more than one row at time {times[i]} ({int(dup.sum())} duplicate "
            f"(subject, {time_col}) rows); aggregate or drop duplicates first"
        )
    return order, subj, times


def _check_arguments(
    table: pd.DataFrame,
    *,
    subject_col: str,
    time_col: str,
    label_col: str,
    channels: Sequence[str],
    window: int,
    stride: int,
    label_rule: str,
    min_coverage: float,
    impute: str | None,
) -> None:
    """Raise :class:`ConfigError`/:class:`DataError` for bad options or columns (see windows_from_long)."""
    if int(window) != window or window < 1 or int(stride) != stride or stride < 1:
        raise ConfigError(
            f"window and stride must be positive integers; got window={window}, stride={stride}"
        )
    if label_rule not in LABEL_RULES:
        raise ConfigError(f"unknown label_rule {label_rule!r}; allowed: {', '.join(LABEL_RULES)}")
    if impute is not None and impute not in IMPUTE_METHODS:
        raise ConfigError(f"unknown impute {impute!r}; allowed: None, {', '.join(IMPUTE_METHODS)}")
    if not 0.0 <= min_coverage <= 1.0:
        raise ConfigError(f"min_coverage must be in [0, 1]; got {min_coverage}")
    if not channels:
        raise DataError("no channel columns to window; name at least one numeric channel column")
    check_columns(table, [subject_col, time_col, label_col, *channels])
    overlap = [c for c in channels if c in (subject_col, time_col, label_col)]
    if overlap:
        raise ConfigError(
            f"column(s) {overlap} are used as subject, time or label and cannot also be channels; "
            "leave them out of channels"
        )
    if len(table) == 0:
        raise DataError("the table has no rows; nothing to window")
    for col in [*channels, label_col]:
        if not pd.api.types.is_numeric_dtype(table[col]) or pd.api.types.is_bool_dtype(table[col]):
            sample = table[col].dropna().head(3).tolist()
            raise DataError(
                f"column {col!r} is not numeric (values such as {sample}); encode it as numbers "
                "or leave it out of the channels"
            )


def windows_from_long(
    table: pd.DataFrame,
    *,
    subject_col: str,
    time_col: str,
    channels: Sequence[str],
    label_col: str,
    window: int,
    stride: int = 1,
    label_rule: LabelRule = "last",
    min_coverage: float = 0.0,
    impute: Impute | None = None,
    fill_values: Mapping[str, float] | None = None,
    max_gap: Any = None,
    memmap_path: str | Path | None = None,
) -> Windows:
    """Cut a long table into windows (N, C, T) with T = ``window``, time-ordered within each subject.

    Parameters
    ----------
    table : one row per (subject, time); ``channels`` numeric columns; ``label_col`` numeric (NaN =
        unlabelled row). (subject, time) pairs must be unique.
    window, stride : rows per window and rows between window starts (both >= 1).
    label_rule : see the module docstring.
    min_coverage : drop windows whose fraction of observed (finite, not imputed) values is below this;
        0 keeps every window.
    impute : None (NaN/Inf is an error naming the column and count), ``"ffill"`` (carry the last observed
        value forward within the subject, then ``fill_values``), ``"zero"``, or ``"mean"``
        (``fill_values``). Inf counts as missing. Without ``fill_values`` the fallback is each column's
        mean over all observed rows; loaders pass training-subject statistics to avoid test leakage.
    max_gap : None (windows count rows only) or the largest step allowed between consecutive rows of a
        window: a number in the time column's units, or a duration (``"2D"``, ``"36h"``) for datetime or
        ISO-text times. Windows spanning a larger step are dropped and counted.
    memmap_path : write ``X`` into this ``.npy`` file (``numpy.lib.format.open_memmap``) instead of RAM:
        written under a private temporary name in the same folder and renamed into place when complete
        (a reader of the previous file keeps it intact; see :mod:`fairssl.data.window_writer`).

    Subjects with fewer than ``window`` rows are skipped and counted in ``report``; if none remains a
    :class:`DataError` names the longest series. ``report["windows_spanning_gaps"]`` counts the kept
    windows spanning a step > 3 x their subject's median step (None when times cannot be measured).
    """
    channels = [str(c) for c in channels]
    _check_arguments(
        table, subject_col=subject_col, time_col=time_col, label_col=label_col, channels=channels,
        window=window, stride=stride, label_rule=label_rule, min_coverage=min_coverage, impute=impute,
    )  # fmt: skip
    order, subj, times = _sorted_rows(table, subject_col, time_col)
    values = table[channels].to_numpy(dtype=float, na_value=np.nan)[order]  # (R, C)
    labels = table[label_col].to_numpy(dtype=float, na_value=np.nan)[order]  # (R,)
    check_magnitude(
        values,
        lambda rc: f"subject {str(subj[rc[0]])!r}, {time_col} {times[rc[0]]}, column {channels[rc[1]]!r}",
    )
    observed = np.isfinite(values)

    starts = np.flatnonzero(np.r_[True, subj[1:] != subj[:-1]])
    lengths = np.diff(np.append(starts, len(subj)))
    axis = time_axis(table[time_col], order)
    limit = gap_limit(max_gap, axis, time_col)
    steps = row_steps(axis.values, starts, time_col) if axis.values is not None else None
    imputed_counts = {c: int(n) for c, n in zip(channels, (~observed).sum(axis=0), strict=True) if n}
    if not observed.all():
        if impute is None:
            raise DataError(nonfinite_message(values, channels))
        defaults = fill_defaults(values, observed, channels, fill_values)
        values = impute_rows(values, observed, starts, impute, defaults)

    check_window_fits(subj[starts], lengths, window)
    n_per_subject = np.where(lengths >= window, (lengths - window) // stride + 1, 0)
    classes = np.unique(labels[~np.isnan(labels)])
    no_step = np.zeros(len(subj), dtype=bool)
    far = no_step if limit is None or steps is None else steps > limit  # (R,) NaN -> False
    gappy = no_step if steps is None else long_steps(steps, starts, lengths)  # (R,)

    # Pass 1: which windows to keep (labels, gaps and coverage only need the per-row vectors).
    keep_starts: list[np.ndarray] = []
    keep_labels: list[np.ndarray] = []
    dropped = {"unlabelled": 0, "gap": 0, "coverage": 0}
    spanning, largest = 0, float("nan")
    obs_rows = observed.sum(axis=1)  # (R,) observed values per row
    for a, length, n_w in zip(starts, lengths, n_per_subject, strict=True):
        rows = slice(a, a + length)
        if n_w == 0:
            keep_starts.append(np.empty(0, dtype=np.int64))
            keep_labels.append(np.empty(0))
            continue
        first, wl, counts = _keep_windows(
            labels[rows], obs_rows[rows], far[rows], window=window, stride=stride, label_rule=label_rule,
            classes=classes, min_coverage=min_coverage, n_channels=len(channels),
        )  # fmt: skip
        dropped = {k: dropped[k] + counts[k] for k in dropped}
        flagged = first[count_in_windows(gappy[rows], first, window) > 0]
        spanning += len(flagged)
        if steps is not None and len(flagged):
            largest = np.nanmax([largest, largest_step(steps[rows], flagged, window)])
        keep_starts.append(first)
        keep_labels.append(wl)
    n_total = int(sum(len(k) for k in keep_starts))
    if n_total == 0:
        raise DataError(
            f"no window remains: {dropped['unlabelled']} had no label under label_rule={label_rule!r}, "
            f"{dropped['gap']} spanned a gap > max_gap={max_gap!r} and {dropped['coverage']} were below "
            f"min_coverage={min_coverage}; relax them or check the label column"
        )
    X, mask, out_subject, start_idx = write_windows(
        values, observed if impute is not None else None, starts, lengths, keep_starts, subj,
        window=int(window), memmap_path=memmap_path,
    )  # fmt: skip
    start_time = times[start_idx]
    end_time = times[start_idx + window - 1]
    window_id = np.array([f"{s}@{t}" for s, t in zip(out_subject, start_time, strict=True)], dtype=object)
    report = {
        "rows": len(subj),
        "subjects": len(starts),
        "subjects_windowed": int((n_per_subject > 0).sum()),
        "subjects_skipped_short": int((n_per_subject == 0).sum()),
        "windows": n_total,
        "windows_dropped_unlabelled": dropped["unlabelled"],
        "windows_dropped_gap": dropped["gap"],
        "windows_dropped_low_coverage": dropped["coverage"],
        "windows_spanning_gaps": None if steps is None else spanning,
        "gap_rule": GAP_RULE,
        "largest_gap_in_windows": format_step(largest, axis.kind),
        "max_gap": None if max_gap is None else str(max_gap),
        "time_kind": axis.kind,
        "imputed_values": imputed_counts,
        "impute": impute,
        "window": int(window),
        "stride": int(stride),
        "label_rule": label_rule,
    }
    return Windows(
        X=X,
        y=np.concatenate(keep_labels),
        subject=out_subject,
        start_time=start_time,
        end_time=end_time,
        window_id=window_id,
        mask=mask,
        report=report,
    )


__all__ = [
    "IMPUTE_METHODS",
    "LABEL_RULES",
    "Impute",
    "LabelRule",
    "Windows",
    "check_columns",
    "check_window_fits",
    "impute_windows",
    "windows_from_long",
]
