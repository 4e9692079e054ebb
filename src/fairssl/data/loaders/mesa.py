"""Loader for MESA sleep/wake (Palotti et al. 2019 sleep_awake_benchmark, task 1).

Accepted inputs (``root``; reading in :mod:`fairssl.data.loaders.mesa_files`):

1. a folder with the benchmark's split files ``dftrain_task1.csv`` and ``dftest_task1.csv``; the test
   users are the users of ``dftest_task1.csv``;
2. one combined task-1 CSV (all users in one file);
3. a folder of per-user task-1 files ``mesa_NNNN_task1.csv`` / ``mesa_NNNN.csv`` (also looked for in
   ``root/task1/`` and ``root/datasets/``, where the benchmark's notebook writes them);
4. a folder of raw actigraphy files ``mesa-sleep-NNNN.csv`` (NSRR's ``actigraphy/``) with ``labels=`` a
   CSV ``mesaid,line,gt`` (the PSG label per actigraphy line): only labelled lines are used.

Only ``mesaid``, ``linetime`` (or ``line``), ``gt`` and the five channels are needed; ``interval`` is read
when present. The label is ``gt`` (1 = asleep by PSG), never the actigraph's ``wake`` flag. Epochs are
put in time order per user (``linetime``, "1900-01-01 23:00:30", or the raw ``line``).

EXCLUDED epochs: in every layout, an epoch whose ``interval`` is ``EXCLUDED`` is dropped (counted in
``info["n_epochs_excluded"]``), as the benchmark's ``load_mesa_PSG`` drops them; the per-user files keep
them, with blank readings. The remaining epochs are joined: windows run over the user's kept rows.

Channels: ``activity`` and the four light channels; lights are ``log1p``-transformed (negative readings
clipped to 0 first, counted). A reading missing here and there is set to 0 (the reference's
``fillna(0.0)``; counted). A light channel missing for a *whole user* (the benchmark's cached split
files lose the lights of most users) is not zeroed silently: the user is listed in
``info["users_lights_missing"]`` and a warning, the scaler is fitted without those users' lights, and
``missing_lights`` decides: ``"flag"`` (default) fills them with the training centre (0 after
scaling); ``"mask"`` does the same and adds a channel ``lights_recorded`` (1 recorded, 0 missing);
``"drop"`` drops those users. Then each channel is scaled with the training users' epochs by
:func:`fairssl.data.scaling.fit_scaler` (``scaling="standard"`` by default: training mean 0, SD 1).

One window per epoch: the epoch with ``window_half`` epochs before and after (T = 2 * window_half + 1 =
101), padded at a user's ends with the edge value (``padding="edge"``) or 0 (``"zero"``). Window id =
``"{mesaid}:{k}"``, k the epoch's position among the user's kept epochs.

Splits: case 1 uses the benchmark's train/test users; otherwise ``test_ids`` (a list of mesaids or a
file with one per line / a ``mesaid`` column) or a seeded random ``test_fraction`` of the users.
``val_fraction`` of the training users (seeded) form the validation split.

Demographics (:mod:`fairssl.data.loaders.mesa_demographics`; ``demographics.csv`` beside the data when
not given): ``sex``, ``age`` ("<65"/">=65"), ``age89`` ("<=89"/">89"), ``race``; unknown is ``missing``.

Memory: with ``out_dir`` the windows are written straight into ``out_dir/X.npy`` (a memory map) and the
returned dataset maps it read-only, with ``windows.parquet`` and ``dataset.json`` beside it.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from fairssl.atomic import write_json_atomic, write_parquet_atomic
from fairssl.data.dataset import WindowDataset
from fairssl.data.loaders.mesa_demographics import mesa_attributes, read_demographics
from fairssl.data.loaders.mesa_files import CHANNELS, LIGHT_CHANNELS, RAW_COLUMNS, TASK_COLUMNS, gather
from fairssl.data.scaling import check_scaling, fit_scaler
from fairssl.data.splits import pick_subjects
from fairssl.errors import ConfigError, DataError

MISSING_LIGHTS = ("flag", "mask", "drop")
MASK_CHANNEL = "lights_recorded"

# Where to obtain the source and the files it needs, for `fairssl data` (keys: fairssl.cli_data).
OBTAIN: dict[str, str] = {
    "title": "MESA sleep actigraphy with PSG sleep/wake (NSRR), task 1 of Palotti et al. 2019",
    "url": "https://sleepdata.org/datasets/mesa (data); "
    "https://github.com/qcri/sleep_awake_benchmark (task 1)",
    "access": "NSRR data access request and data use agreement (free for research)",
}
EXPECTED_FILES: tuple[dict[str, Any], ...] = (
    {
        "glob": (
            "dftrain_task1.csv",
            "*task1*.csv",
            "mesa_*.csv",
            "task1/mesa_*.csv",
            "datasets/mesa_*.csv",
            "mesa-sleep-*.csv",
        ),
        "what": "task-1 epochs: benchmark split files, a combined or per-user task-1 CSV, or raw actigraphy "
        "(raw needs labels=)",
        "header": ("mesaid", *CHANNELS),
    },
    {
        "glob": ("dftest_task1.csv",),
        "what": "the benchmark's test users (else test_ids or test_fraction)",
        "header": ("mesaid", "gt", *CHANNELS),
        "optional": True,
    },
    {
        "glob": ("demographics.csv",),
        "what": "MESA demographics (or pass demographics=; without them there are no attributes)",
        "header": ("mesaid",),
        "optional": True,
    },
)

__all__ = [
    "CHANNELS",
    "EXPECTED_FILES",
    "LIGHT_CHANNELS",
    "OBTAIN",
    "RAW_COLUMNS",
    "TASK_COLUMNS",
    "load_mesa",
    "mesa_attributes",
    "transform_channels",
    "window_series",
]


def _read_test_ids(test_ids: str | Path | Sequence[Any]) -> set[int]:
    if isinstance(test_ids, (str, Path)):
        path = Path(test_ids)
        if not path.is_file():
            raise DataError(f"test_ids file {path} does not exist; give a file of mesaids or a list")
        text = path.read_text(encoding="utf-8-sig").split()
        tokens = [t.strip(",;") for t in text if t.strip(",;").lower() != "mesaid"]
    else:
        tokens = [str(t) for t in test_ids]
    try:
        return {int(float(t)) for t in tokens if t != ""}
    except ValueError:
        raise DataError(f"test_ids hold a value that is not a mesaid (an integer): {tokens[:3]}") from None


def transform_channels(
    values: np.ndarray, *, keep_nan: np.ndarray | None = None
) -> tuple[np.ndarray, int, int]:
    """NaN -> 0, lights clipped at 0 and ``log1p``-transformed; ``values`` (R, 5) in :data:`CHANNELS` order.

    ``keep_nan`` (R, 5) bool: cells left NaN (lights missing for a whole user). Returns the transformed
    float64 (R, 5) array, the number of NaN readings set to 0 and of negative lights clipped.
    """
    out = np.array(values, dtype=np.float64)
    nan = np.isnan(out) if keep_nan is None else np.isnan(out) & ~keep_nan
    out[nan] = 0.0
    lights = out[:, 1:]
    negative = lights < 0
    lights[negative] = 0.0
    out[:, 1:] = np.log1p(lights)
    return out, int(nan.sum()), int(negative.sum())


def window_series(series: np.ndarray, *, half: int, padding: str) -> np.ndarray:
    """All centred windows of one user's series, in time order.

    ``series`` (C, L) -> (L, C, 2*half+1); window k holds epochs k-half .. k+half, the series padded at
    both ends with its edge value (``"edge"``) or 0 (``"zero"``). A view where possible (no per-epoch loop).
    """
    widths = ((0, 0), (half, half))
    if padding == "edge":
        padded = np.pad(series, widths, mode="edge")  # (C, L + 2*half)
    else:
        padded = np.pad(series, widths, mode="constant")
    view = sliding_window_view(padded, 2 * half + 1, axis=1)  # (C, L, 2*half+1)
    return view.transpose(1, 0, 2)  # (L, C, 2*half+1)


def _lights_missing(table: pd.DataFrame) -> np.ndarray:
    """Sorted mesaids with at least one light channel that has no reading at all."""
    recorded = table[["mesaid", *LIGHT_CHANNELS]].notna().groupby(table["mesaid"]).any()  # (U, 4)
    return np.asarray(recorded.index[~recorded[list(LIGHT_CHANNELS)].all(axis=1)], dtype=np.int64)


def _split_users(
    table: pd.DataFrame, source: str, test_ids: Any, *, test_fraction: float, val_fraction: float, seed: int
) -> tuple[dict[int, str], str]:
    mesaid = table["mesaid"].to_numpy()
    users = np.unique(mesaid)
    if source.startswith("benchmark"):
        if test_ids is not None:
            raise ConfigError(
                "test_ids given but the benchmark's dftest_task1.csv already fixes the test users; drop one"
            )
        user_source = table.groupby("mesaid")["source"].nunique()
        if (user_source > 1).any():
            raise DataError(
                f"user {user_source[user_source > 1].index[0]} is in both dftrain_task1.csv and "
                "dftest_task1.csv; the benchmark's split must be user-disjoint"
            )
        test_users = set(np.unique(mesaid[table["source"].to_numpy() == "test"]).tolist())
        how = "benchmark dftest_task1.csv"
    elif test_ids is not None:
        wanted = _read_test_ids(test_ids)
        test_users = wanted & set(users.tolist())
        if not test_users:
            raise DataError(
                f"none of the {len(wanted)} test_ids is a user of the data; give mesaids of these files"
            )
        how = f"test_ids ({len(test_users)} users; {len(wanted - test_users)} not in the data)"
    else:
        test_users = pick_subjects(
            users, fraction=test_fraction, seed=seed, what="user(s) for the test split"
        )
        how = f"seeded user split (seed={seed}, fraction={test_fraction})"
    train_pool = np.array(sorted(set(users.tolist()) - test_users), dtype=np.int64)
    val_users = pick_subjects(
        train_pool, fraction=val_fraction, seed=seed + 1, what="user(s) for the validation split"
    )
    return {
        u: "test" if u in test_users else "val" if u in val_users else "train" for u in users.tolist()
    }, how


def load_mesa(
    root: str | Path,
    *,
    demographics: str | Path | None = None,
    labels: str | Path | None = None,
    window_half: int = 50,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    seed: int = 0,
    test_ids: str | Path | Sequence[Any] | None = None,
    padding: Literal["edge", "zero"] = "edge",
    age_threshold: float = 65,
    scaling: str = "standard",
    clip: float | None = None,
    missing_lights: str = "flag",
    out_dir: str | Path | None = None,
) -> WindowDataset:
    """Load MESA task 1 as a :class:`WindowDataset` of (N, C, 2*window_half+1) windows, one per kept epoch.

    ``y`` = ``gt`` (1 = asleep). C = 5 (6 with ``missing_lights="mask"``). See the module docstring for
    the inputs, EXCLUDED epochs, transforms, missing lights, padding, splits, attributes and ``out_dir``.
    ``info`` records the scaler, the split source and the counts of dropped, imputed and flagged values.
    """
    if window_half < 0:
        raise ConfigError(f"window_half must be >= 0; got {window_half}")
    if padding not in ("edge", "zero"):
        raise ConfigError(f"padding must be 'edge' or 'zero'; got {padding!r}")
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 < value < 1.0:
            raise ConfigError(f"{name} must be in (0, 1); got {value}")
    if missing_lights not in MISSING_LIGHTS:
        raise ConfigError(f"missing_lights = {missing_lights!r} is not one of {', '.join(MISSING_LIGHTS)}")
    check_scaling(scaling, clip)
    root = Path(root)
    table, source, n_excluded = gather(root, labels)
    info: dict[str, Any] = {"source": source, "root": str(root), "label": "gt", "padding": padding}
    info["n_epochs_excluded"] = n_excluded
    warn: list[str] = []

    table = table.sort_values(["mesaid", "key"], kind="stable", ignore_index=True)
    mesaid = table["mesaid"].to_numpy()
    key = table["key"].to_numpy()
    dup = (mesaid[1:] == mesaid[:-1]) & (key[1:] == key[:-1])
    if dup.any():
        raise DataError(
            f"user {mesaid[1:][dup][0]} has two rows for the same epoch; give each epoch once (a file may "
            "have been concatenated twice)"
        )

    # ---- light channels missing for a whole user: flagged, never silently zero
    no_lights = _lights_missing(table)
    info["missing_lights"] = missing_lights
    info["n_users_lights_missing"] = len(no_lights)
    info["users_lights_missing"] = [int(u) for u in no_lights[:50]]
    if len(no_lights):
        what = {"flag": "filled with the training centre", "mask": "filled and marked in 'lights_recorded'"}
        message = (
            f"{len(no_lights)} user(s) have no light readings at all (e.g. mesaid {no_lights[0]}): "
            f"{what.get(missing_lights, 'dropped')}; their light channels carry no information"
        )
        warn.append(message)
        warnings.warn(message, stacklevel=2)
        if missing_lights == "drop":
            table = table[~np.isin(table["mesaid"].to_numpy(), no_lights)].reset_index(drop=True)
            mesaid = table["mesaid"].to_numpy()
            if not len(table):
                raise DataError("every user lacks light readings; use missing_lights='flag' or 'mask'")
    user_split, info["test_split"] = _split_users(
        table, source, test_ids, test_fraction=test_fraction, val_fraction=val_fraction, seed=seed
    )
    split = pd.Series(mesaid).map(user_split).to_numpy()

    # ---- channels: transform, training statistics (NaN ignored), scale
    lacking = np.isin(mesaid, no_lights)  # (R,) rows of users without lights
    keep_nan = np.zeros((len(table), len(CHANNELS)), dtype=bool)
    keep_nan[:, 1:] = lacking[:, None] & table[list(LIGHT_CHANNELS)].isna().to_numpy()
    values, n_nan, n_negative = transform_channels(table[list(CHANNELS)].to_numpy(), keep_nan=keep_nan)
    scaler = fit_scaler(values[split == "train"], method=scaling, clip=clip, channel_axis=-1)
    values = np.nan_to_num(scaler.transform(values, channel_axis=-1), nan=0.0)  # (R, 5) float32
    info.update(scaler.info(CHANNELS))
    info["scaling_fitted_on"] = "train users' epochs (lights: log1p first; users without lights left out)"
    info["n_nan_readings_set_to_zero"] = n_nan
    info["n_negative_lights_clipped"] = n_negative
    channel_names = list(CHANNELS)
    if missing_lights == "mask":
        values = np.column_stack([values, (~lacking).astype(np.float32)])
        channel_names.append(MASK_CHANNEL)

    # ---- windows, per user, written in place
    n, steps = len(table), 2 * window_half + 1
    shape = (n, len(channel_names), steps)
    x_path: Path | None = None
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        x_path = out / "X.npy"
        # written under a private name and renamed into place: another process (a study's workers load
        # the dataset too) may be reading the previous X.npy through a memory map, and truncating a mapped
        # file kills its reader (SIGBUS); after the rename it keeps reading the old file
        x_tmp = out / f".X.{os.getpid()}.npy.tmp"
        X: np.ndarray = np.lib.format.open_memmap(x_tmp, mode="w+", dtype=np.float32, shape=shape)
    else:
        X = np.empty(shape, dtype=np.float32)
    starts = np.flatnonzero(np.r_[True, mesaid[1:] != mesaid[:-1]])
    ends = np.r_[starts[1:], n]
    position = np.empty(n, dtype=np.int64)
    for s, e in zip(starts, ends, strict=True):
        X[s:e] = window_series(values[s:e].T, half=window_half, padding=padding)
        position[s:e] = np.arange(e - s)
    del values
    if x_path is not None:
        if isinstance(X, np.memmap):
            X.flush()
        del X
        os.replace(x_tmp, x_path)
        X = np.load(x_path, mmap_mode="r")

    subject = pd.Series(mesaid).astype(str)
    window_id = (subject + ":" + pd.Series(position).astype(str)).to_numpy()
    attributes = pd.DataFrame(index=range(n))
    base = root if root.is_dir() else root.parent
    demo_path = Path(demographics) if demographics is not None else base / "demographics.csv"
    if demographics is not None and not demo_path.is_file():
        raise DataError(f"demographics file {demo_path} does not exist; give the NSRR MESA demographics CSV")
    if demo_path.is_file():
        per_user = mesa_attributes(read_demographics(demo_path), age_threshold=age_threshold)
        info["n_duplicate_demographic_rows"] = int(per_user.index.duplicated().sum())
        per_user = per_user[~per_user.index.duplicated(keep="first")]
        absent = sorted(set(subject.unique()) - set(per_user.index))
        info["n_users_without_demographics"] = len(absent)
        if absent:
            warn.append(
                f"{len(absent)} user(s) not in {demo_path.name} (e.g. {absent[0]}): attributes 'missing'"
            )
        attributes = per_user.reindex(subject.to_numpy()).reset_index(drop=True)
    else:
        message = f"no demographics found (looked for {demo_path}); the dataset has no protected attributes"
        warn.append(message)
        warnings.warn(message, stacklevel=2)
    info["warnings"] = warn

    ds = WindowDataset.build(
        X,
        table["gt"].to_numpy(),
        subject=subject.to_numpy(),
        split=split,
        attributes=attributes,
        window_id=window_id,
        channel_names=channel_names,
        name="mesa-task1",
        info=info,
    )
    if out_dir is not None:
        _write_metadata(ds, Path(out_dir))
    return ds


def _write_metadata(ds: WindowDataset, directory: Path) -> None:
    """Write the metadata files of ``WindowDataset.save`` beside an ``X.npy`` already in place."""
    write_parquet_atomic(ds.metadata(), directory / "windows.parquet")
    meta = {
        "name": ds.name,
        "channel_names": list(ds.channel_names),
        "attributes": ds.attribute_names,
        "info": ds.info,
    }
    write_json_atomic(directory / "dataset.json", meta)
