"""Writing the kept windows (pass 2 of :func:`fairssl.data.windowing.windows_from_long`): into RAM or
into a ``.npy`` memory map that is written under a private name and renamed into place.

The memory map is never written in place: another process (a study's workers load the dataset too) may
be reading the previous file through a memory map, and truncating a mapped file kills its reader
(SIGBUS). The windows go to ``.<name>.<pid>.<random>.tmp.npy`` in the same folder (same file system), and
only a complete file is renamed over ``memmap_path`` (``os.replace``, atomic); a reader of the previous
file keeps reading it, intact. If writing fails, the temporary file is removed and ``memmap_path`` is
untouched.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def write_windows(
    values: np.ndarray,
    observed: np.ndarray | None,
    starts: np.ndarray,
    lengths: np.ndarray,
    keep_starts: list[np.ndarray],
    subj: np.ndarray,
    *,
    window: int,
    memmap_path: str | Path | None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
    """The kept windows of the time-sorted rows: ``(X, mask, subject, first_row)``.

    ``values`` (R, C) float rows sorted by subject then time (already imputed); ``observed`` bool (R, C)
    or None (no mask wanted); ``starts``/``lengths`` (S,) each subject's first row and row count;
    ``keep_starts`` per subject, the kept windows' first rows relative to the subject's first row;
    ``subj`` (R,) subject per row. Returns ``X`` float32 (N, C, T) with T = ``window`` (a writable
    ``numpy.memmap`` of ``memmap_path`` when given), ``mask`` bool (N, C, T) or None, ``subject`` (N,)
    and the table row (N,) of each window's first row.
    """
    n_total = int(sum(len(k) for k in keep_starts))
    shape = (n_total, values.shape[1], window)
    if memmap_path is None:
        X = np.empty(shape, dtype=np.float32)
        mask, out_subject, start_idx = _fill(X, values, observed, starts, lengths, keep_starts, subj, window)
        return X, mask, out_subject, start_idx
    target = Path(memmap_path)
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.{secrets.token_hex(4)}.tmp{target.suffix}")
    try:
        X = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
        mask, out_subject, start_idx = _fill(X, values, observed, starts, lengths, keep_starts, subj, window)
        X.flush()
        del X  # unmapped before the rename
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    X = np.lib.format.open_memmap(target, mode="r+")  # the complete file, under its final name
    return X, mask, out_subject, start_idx


def _fill(
    X: np.ndarray,
    values: np.ndarray,
    observed: np.ndarray | None,
    starts: np.ndarray,
    lengths: np.ndarray,
    keep_starts: list[np.ndarray],
    subj: np.ndarray,
    window: int,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Copy the kept windows into ``X`` (N, C, T); returns (mask or None, subject (N,), first row (N,))."""
    n_total = X.shape[0]
    mask = np.empty(X.shape, dtype=bool) if observed is not None else None
    out_subject = np.empty(n_total, dtype=object)
    start_idx = np.empty(n_total, dtype=np.int64)
    pos = 0
    for a, length, first in zip(starts, lengths, keep_starts, strict=True):
        if len(first) == 0:
            continue
        k = len(first)
        seg = sliding_window_view(values[a : a + length], window, axis=0)  # (L - T + 1, C, T)
        X[pos : pos + k] = seg[first]
        if mask is not None and observed is not None:
            mask[pos : pos + k] = sliding_window_view(observed[a : a + length], window, axis=0)[first]
        out_subject[pos : pos + k] = subj[a]
        start_idx[pos : pos + k] = a + first
        pos += k
    return mask, out_subject, start_idx
