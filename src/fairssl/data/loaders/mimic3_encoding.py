"""MIMIC-III benchmark channels and the conversion of one stay's rows into a window (N, 76, T).

The vocabulary of the benchmark's ``discretizer_config.json`` (:data:`VARIABLES`, :data:`CATEGORIES`,
:data:`NORMAL_VALUES`, the 76 :data:`CHANNEL_NAMES`), the binning of a stay's rows into the hourly grid
(:func:`discretize_stay`), the imputation and one-hot expansion into channels (:func:`encode_codes`) and
the training statistics of the continuous channels (:func:`normalizer_stats`). The rules (which bin a
row falls in, which value wins, how gaps are filled) are described in :mod:`fairssl.data.loaders.mimic3`.
No file is read here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fairssl.errors import DataError

_EPS = 1e-6

VARIABLES: tuple[str, ...] = (
    "Capillary refill rate",
    "Diastolic blood pressure",
    "Fraction inspired oxygen",
    "Glascow coma scale eye opening",
    "Glascow coma scale motor response",
    "Glascow coma scale total",
    "Glascow coma scale verbal response",
    "Glucose",
    "Heart Rate",
    "Height",
    "Mean blood pressure",
    "Oxygen saturation",
    "Respiratory rate",
    "Systolic blood pressure",
    "Temperature",
    "Weight",
    "pH",
)
"""The benchmark's 17 variables in its channel order (``id_to_channel`` of discretizer_config.json)."""

STAY_COLUMNS: tuple[str, ...] = ("Hours", *VARIABLES)
"""The columns of a per-stay timeseries CSV."""

CATEGORIES: dict[str, tuple[str, ...]] = {
    "Capillary refill rate": ("0.0", "1.0"),
    "Glascow coma scale eye opening": (
        "To Pain",
        "3 To speech",
        "1 No Response",
        "4 Spontaneously",
        "None",
        "To Speech",
        "Spontaneously",
        "2 To pain",
    ),
    "Glascow coma scale motor response": (
        "1 No Response",
        "3 Abnorm flexion",
        "Abnormal extension",
        "No response",
        "4 Flex-withdraws",
        "Localizes Pain",
        "Flex-withdraws",
        "Obeys Commands",
        "Abnormal Flexion",
        "6 Obeys Commands",
        "5 Localizes Pain",
        "2 Abnorm extensn",
    ),
    "Glascow coma scale total": ("11", "10", "13", "12", "15", "14", "3", "5", "4", "7", "6", "9", "8"),
    "Glascow coma scale verbal response": (
        "1 No Response",
        "No Response",
        "Confused",
        "Inappropriate Words",
        "Oriented",
        "No Response-ETT",
        "5 Oriented",
        "Incomprehensible sounds",
        "1.0 ET/Trach",
        "4 Confused",
        "2 Incomp sounds",
        "3 Inapprop words",
    ),
}
"""Raw category strings of the five categorical variables, in the benchmark's one-hot order.

Data, not code: this is ``possible_values`` of the benchmark's ``discretizer_config.json``. The raw
MIMIC strings are kept as separate categories (e.g. "4 Spontaneously" and "Spontaneously" are two
one-hot positions), exactly as the benchmark does: 2 + 8 + 12 + 13 + 12 = 47 one-hot channels.
"""

NORMAL_VALUES: dict[str, str] = {
    "Capillary refill rate": "0.0",
    "Diastolic blood pressure": "59.0",
    "Fraction inspired oxygen": "0.21",
    "Glascow coma scale eye opening": "4 Spontaneously",
    "Glascow coma scale motor response": "6 Obeys Commands",
    "Glascow coma scale total": "15",
    "Glascow coma scale verbal response": "5 Oriented",
    "Glucose": "128.0",
    "Heart Rate": "86",
    "Height": "170.0",
    "Mean blood pressure": "77.0",
    "Oxygen saturation": "98.0",
    "Respiratory rate": "19",
    "Systolic blood pressure": "118.0",
    "Temperature": "36.6",
    "Weight": "81.0",
    "pH": "7.4",
}
"""The benchmark's fallback for a variable not yet observed in a stay (``normal_values``)."""


def _channel_names() -> tuple[str, ...]:
    names: list[str] = []
    for var in VARIABLES:
        if var in CATEGORIES:
            names.extend(f"{var}->{value}" for value in CATEGORIES[var])
        else:
            names.append(var)
    names.extend(f"mask->{var}" for var in VARIABLES)
    return tuple(names)


CHANNEL_NAMES: tuple[str, ...] = _channel_names()
"""The 76 output channels: one-hot/continuous values in variable order, then the 17 masks."""

CONTINUOUS_CHANNELS: tuple[int, ...] = tuple(i for i, name in enumerate(CHANNEL_NAMES) if "->" not in name)
"""Indices of the 12 continuous channels (the ones z-scored), as the benchmark's ``cont_channels``."""

_CATEGORY_INDEX = {var: {v: i for i, v in enumerate(values)} for var, values in CATEGORIES.items()}
_NORMAL_CODES = np.array(
    [
        _CATEGORY_INDEX[var][NORMAL_VALUES[var]] if var in CATEGORIES else float(NORMAL_VALUES[var])
        for var in VARIABLES
    ],
    dtype=np.float64,
)
VALUE_CHANNEL_VARIABLE = np.array(
    [j for j, var in enumerate(VARIABLES) for _ in range(len(CATEGORIES.get(var, ("",))))], dtype=np.int64
)
"""Variable index (into :data:`VARIABLES`) feeding each of the 59 value channels (one-hot positions share
their variable): the mask of value channel c is the mask channel of variable ``VALUE_CHANNEL_VARIABLE[c]``."""


def bin_count(hours: float, timestep: float) -> int:
    """Number of time bins T of the first ``hours`` at ``timestep``: ``int(hours / timestep + 1 - 1e-6)``
    (48 for the benchmark's 48 h at 1 h)."""
    return int(hours / timestep + 1.0 - _EPS)


def _parse_value(var: str, raw: str, where: str) -> float:
    if var not in CATEGORIES:
        try:
            return float(raw)
        except ValueError:
            raise DataError(
                f"{where}: column {var!r} holds {raw!r}, not a number; the file is corrupt, re-create it "
                "with the benchmark's extraction scripts"
            ) from None
    index = _CATEGORY_INDEX[var]
    text = raw.strip()
    if text in index:
        return float(index[text])
    try:  # numeric spellings of the numeric categories ("15.0" for "15", "1" for "1.0")
        number = float(text)
        for candidate in (f"{number:.1f}", str(int(number)) if number == int(number) else ""):
            if candidate in index:
                return float(index[candidate])
    except ValueError:
        pass
    raise DataError(
        f"{where}: column {var!r} holds {raw!r}, not one of the benchmark's {len(index)} categories "
        f"({', '.join(CATEGORIES[var][:4])}, ...); fix the value or re-extract with mimic3-benchmarks"
    )


def discretize_stay(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    hours: float = 48.0,
    timestep: float = 1.0,
    where: str = "stay",
) -> tuple[np.ndarray, int]:
    """Bin one stay's rows into the benchmark's hourly grid, before imputation.

    ``header``: the CSV header (``Hours`` and the 17 variables, any order); ``rows``: the raw string
    cells ('' = not recorded). Returns ``(codes, n_ignored)`` with ``codes`` float64 (T, 17),
    T = ``int(hours / timestep + 1 - 1e-6)``: the last value observed in each bin (a category index
    for the categorical variables), NaN where the variable was not observed in the bin; and the
    number of rows ignored because ``Hours`` lies outside [0, hours].
    """
    n_bins = bin_count(hours, timestep)
    column = {name: i for i, name in enumerate(header)}
    codes = np.full((n_bins, len(VARIABLES)), np.nan)
    if len(rows) == 0:
        return codes, 0
    cells = np.empty((len(rows), len(header)), dtype=object)
    cells[:] = [list(r) for r in rows]  # (R, 18)
    try:
        t = np.array([float(x) for x in cells[:, column["Hours"]]], dtype=np.float64)
    except ValueError:
        raise DataError(
            f"{where}: the Hours column holds a non-number; the file is corrupt, re-create it with the "
            "benchmark's extraction scripts"
        ) from None
    order = np.argsort(t, kind="stable")
    keep = order[(t[order] >= 0.0) & (t[order] <= hours + _EPS)]  # time-sorted rows in [0, hours]
    n_ignored = len(rows) - keep.size
    bins = np.minimum(np.trunc(t[keep] / timestep - _EPS).astype(np.int64), n_bins - 1)
    bins = np.maximum(bins, 0)  # t in [0, eps) gives -0 -> bin 0, as int() in the benchmark
    for j, var in enumerate(VARIABLES):
        col = cells[keep, column[var]]
        observed = np.flatnonzero(col != "")
        if observed.size == 0:
            continue
        b = bins[observed]  # non-decreasing: rows are time-sorted
        last = np.append(b[1:] != b[:-1], True)  # last observation of each bin wins
        codes[b[last], j] = [_parse_value(var, str(v), where) for v in col[observed[last]]]
    return codes, n_ignored


def encode_codes(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Impute and expand binned codes to the 76 benchmark channels (no scaling).

    ``codes`` float64 (N, T, 17) from :func:`discretize_stay`. Imputation: the last observed value of
    an earlier bin, else :data:`NORMAL_VALUES`. Returns ``X`` float32 (N, 76, T) in
    :data:`CHANNEL_NAMES` order and ``observed`` bool (N, 17, T) (the mask channels' values).
    """
    n, t, v = codes.shape
    observed = ~np.isnan(codes)  # (N, T, 17)
    pos = np.where(observed, np.arange(t)[None, :, None], -1)
    pos = np.maximum.accumulate(pos, axis=1)  # index of the last observed bin so far, -1 if none
    filled = np.take_along_axis(codes, np.maximum(pos, 0), axis=1)
    filled = np.where(pos >= 0, filled, _NORMAL_CODES[None, None, :])  # (N, T, 17)
    X = np.empty((n, len(CHANNEL_NAMES), t), dtype=np.float32)
    c = 0
    for j, var in enumerate(VARIABLES):
        values = filled[:, :, j]  # (N, T)
        if var in CATEGORIES:
            k = len(CATEGORIES[var])
            X[:, c : c + k, :] = values[:, None, :] == np.arange(k)[None, :, None]  # one-hot (N, K, T)
            c += k
        else:
            X[:, c, :] = values
            c += 1
    observed_ct = observed.transpose(0, 2, 1)  # (N, 17, T)
    X[:, c : c + v, :] = observed_ct
    return X, observed_ct


def normalizer_stats(X_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std (ddof 1, floored at 1e-7) of the continuous channels over (windows, time).

    ``X_train`` (N, 76, T) unscaled training windows. Returns two float64 (12,) arrays.
    """
    values = X_train[:, list(CONTINUOUS_CHANNELS), :].astype(np.float64)  # (N, 12, T)
    flat = values.transpose(1, 0, 2).reshape(len(CONTINUOUS_CHANNELS), -1)  # (12, N*T)
    mean = flat.mean(axis=1)
    std = flat.std(axis=1, ddof=1) if flat.shape[1] > 1 else np.ones(len(CONTINUOUS_CHANNELS))
    return mean, np.maximum(std, 1e-7)
