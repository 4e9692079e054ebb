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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from fairssl.errors import ConfigError, DataError

LabelRule = Literal["last", "center", "any", "majority"]
Impute = Literal["ffill", "zero", "mean"]
LABEL_RULES = ("last", "center", "any", "majority")
IMPUTE_METHODS = ("ffill", "zero", "mean")


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


def _nonfinite_message(values: np.ndarray, channels: Sequence[str]) -> str:
    bad = (~np.isfinite(values)).sum(axis=0)
    order = np.argsort(-bad, kind="stable")
    parts = [f"{channels[i]!r} {int(bad[i])}" for i in order if bad[i] > 0]
    first = int(order[0])
    return (
        f"channel column {channels[first]!r} holds {int(bad[first])} NaN/Inf values of {len(values)} rows"
        f" (all affected columns: {', '.join(parts)}); pass impute='ffill', 'zero' or 'mean', "
        "or clean the table"
    )


def _fill_defaults(
    values: np.ndarray, observed: np.ndarray, channels: Sequence[str], fill_values: Mapping[str, float] | None
) -> np.ndarray:
    """(C,) values used where nothing can be carried forward: ``fill_values`` or observed column means."""
    sums = np.where(observed, values, 0.0).sum(axis=0)
    n_obs = observed.sum(axis=0)
    means = np.divide(sums, n_obs, out=np.zeros_like(sums), where=n_obs > 0)
    if fill_values is None:
        return means
    unknown = sorted(set(fill_values) - set(channels))
    if unknown:
        raise DataError(f"fill_values names unknown channel(s) {unknown}; channels: {', '.join(channels)}")
    return np.array([float(fill_values.get(c, means[i])) for i, c in enumerate(channels)])


def _impute_rows(
    values: np.ndarray,
    observed: np.ndarray,
    starts: np.ndarray,
    method: str,
    defaults: np.ndarray,
) -> np.ndarray:
    """Impute the (R, C) long-table values; ``starts`` are the first row of each subject (sorted)."""
    out = np.where(observed, values, np.nan)
    if method == "ffill":
        group = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(values))))
        out = pd.DataFrame(out).groupby(group, sort=False).ffill().to_numpy(dtype=float)
    still = np.isnan(out)
    if method == "zero":
        out[still] = 0.0
    else:
        out = np.where(still, defaults[None, :], out)
    return out


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
    memmap_path : write ``X`` into this ``.npy`` file (``numpy.lib.format.open_memmap``) instead of RAM.

    Subjects with fewer than ``window`` rows are skipped and counted in ``report``; if none remains a
    :class:`DataError` names the longest series.
    """
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
    channels = [str(c) for c in channels]
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
    values = table[channels].to_numpy(dtype=float, na_value=np.nan)[order]  # (R, C)
    labels = table[label_col].to_numpy(dtype=float, na_value=np.nan)[order]  # (R,)
    observed = np.isfinite(values)

    starts = np.flatnonzero(np.r_[True, subj[1:] != subj[:-1]])
    lengths = np.diff(np.append(starts, len(subj)))
    imputed_counts = {c: int(n) for c, n in zip(channels, (~observed).sum(axis=0), strict=True) if n}
    if not observed.all():
        if impute is None:
            raise DataError(_nonfinite_message(values, channels))
        defaults = _fill_defaults(values, observed, channels, fill_values)
        values = _impute_rows(values, observed, starts, impute, defaults)

    check_window_fits(subj[starts], lengths, window)
    n_per_subject = np.where(lengths >= window, (lengths - window) // stride + 1, 0)
    classes = np.unique(labels[~np.isnan(labels)])

    # Pass 1: which windows to keep (labels and coverage only need the per-row vectors).
    keep_starts: list[np.ndarray] = []
    keep_labels: list[np.ndarray] = []
    dropped_unlabelled = dropped_coverage = 0
    obs_rows = observed.sum(axis=1)  # (R,) observed values per row
    for a, length, n_w in zip(starts, lengths, n_per_subject, strict=True):
        if n_w == 0:
            keep_starts.append(np.empty(0, dtype=np.int64))
            keep_labels.append(np.empty(0))
            continue
        lab = sliding_window_view(labels[a : a + length], window)[::stride]  # (n_w, T)
        wl = _window_labels(lab, label_rule, classes)
        cum = np.r_[0, np.cumsum(obs_rows[a : a + length])]
        first = np.arange(n_w) * stride
        coverage = (cum[first + window] - cum[first]) / (window * len(channels))
        ok_label = ~np.isnan(wl)
        ok_cov = coverage >= min_coverage
        dropped_unlabelled += int((~ok_label).sum())
        dropped_coverage += int((ok_label & ~ok_cov).sum())
        keep = ok_label & ok_cov
        keep_starts.append(first[keep])
        keep_labels.append(wl[keep])
    n_total = int(sum(len(k) for k in keep_starts))
    if n_total == 0:
        raise DataError(
            f"no window remains: {dropped_unlabelled} had no label under label_rule={label_rule!r} and "
            f"{dropped_coverage} were below min_coverage={min_coverage}; relax them or check the label column"
        )

    # Pass 2: write the kept windows.
    shape = (n_total, len(channels), int(window))
    X = (
        np.lib.format.open_memmap(Path(memmap_path), mode="w+", dtype=np.float32, shape=shape)
        if memmap_path is not None
        else np.empty(shape, dtype=np.float32)
    )
    mask = np.empty(shape, dtype=bool) if impute is not None else None
    out_subject = np.empty(n_total, dtype=object)
    start_idx = np.empty(n_total, dtype=np.int64)
    pos = 0
    for a, length, first in zip(starts, lengths, keep_starts, strict=True):
        if len(first) == 0:
            continue
        k = len(first)
        seg = sliding_window_view(values[a : a + length], window, axis=0)  # (L - T + 1, C, T)
        X[pos : pos + k] = seg[first]
        if mask is not None:
            mask[pos : pos + k] = sliding_window_view(observed[a : a + length], window, axis=0)[first]
        out_subject[pos : pos + k] = subj[a]
        start_idx[pos : pos + k] = a + first
        pos += k
    if isinstance(X, np.memmap):
        X.flush()
    start_time = times[start_idx]
    end_time = times[start_idx + window - 1]
    window_id = np.array([f"{s}@{t}" for s, t in zip(out_subject, start_time, strict=True)], dtype=object)
    report = {
        "rows": len(subj),
        "subjects": len(starts),
        "subjects_windowed": int((n_per_subject > 0).sum()),
        "subjects_skipped_short": int((n_per_subject == 0).sum()),
        "windows": n_total,
        "windows_dropped_unlabelled": dropped_unlabelled,
        "windows_dropped_low_coverage": dropped_coverage,
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


def impute_windows(
    X: np.ndarray,
    *,
    method: Impute,
    fit_index: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Impute NaN/Inf in windows X (N, C, T); returns (a float32 copy, mask bool (N, C, T) True = observed).

    ``"zero"`` fills 0; ``"mean"`` fills each channel's mean over the observed values of the windows
    ``fit_index`` (all windows when None: pass the training rows to avoid test leakage); ``"ffill"``
    carries the last observed value forward along time within each window and channel, then falls back to
    the channel mean. A channel with no observed value at all falls back to 0.
    """
    if method not in IMPUTE_METHODS:
        raise ConfigError(f"unknown impute {method!r}; allowed: {', '.join(IMPUTE_METHODS)}")
    out = np.array(X, dtype=np.float32, copy=True)
    mask = np.isfinite(out)
    out[~mask] = np.nan
    fit = out if fit_index is None else out[fit_index]
    with np.errstate(invalid="ignore"):
        n_obs = np.isfinite(fit).sum(axis=(0, 2))  # (C,)
        sums = np.nansum(fit, axis=(0, 2), dtype=np.float64)  # (C,)
    means = np.divide(sums, n_obs, out=np.zeros_like(sums), where=n_obs > 0).astype(np.float32)
    if method == "ffill":
        t = out.shape[2]
        idx = np.where(mask, np.arange(t)[None, None, :], 0)
        np.maximum.accumulate(idx, axis=2, out=idx)  # index of the last observed step so far
        carried = np.take_along_axis(out, idx, axis=2)
        out = np.where(np.isnan(out), carried, out)
    if method == "zero":
        out[np.isnan(out)] = 0.0
    else:
        out = np.where(np.isnan(out), means[None, :, None], out).astype(np.float32)
    return out, mask
