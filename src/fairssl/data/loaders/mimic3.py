"""Loader for the MIMIC-III in-hospital-mortality benchmark (mimic3-benchmarks, Harutyunyan et al. 2019).

Layout under ``root`` (the benchmark's ``data/`` folder, or its ``in-hospital-mortality/`` folder):

- ``in-hospital-mortality/{train,test}/listfile.csv`` with header ``stay,y_true``
  (e.g. ``12797_episode1_timeseries.csv,0``) and the per-stay CSVs in the same folders, columns
  ``Hours`` plus the 17 variables of :data:`VARIABLES` (any column order; no other columns).
- optional ``in-hospital-mortality/{train,val}_listfile.csv`` written by the benchmark's
  ``split_train_val.py`` (stays of both live in ``train/``): used as the train/validation split when
  present; otherwise ``train/listfile.csv`` is split patient-disjointly with ``seed``.
- ``all_stays.csv`` of the benchmark (``root/all_stays.csv``, ``root/root/all_stays.csv`` or
  ``all_stays=PATH``) for gender, age and ethnicity; optional MIMIC-III ``ADMISSIONS.csv`` (``admissions=``
  or ``root/ADMISSIONS.csv[.gz]``), joined on ``HADM_ID``, for language, insurance, religion and marital
  status.

Discretisation (the benchmark's ``Discretizer(timestep=1.0, impute_strategy='previous',
start_time='zero', store_masks=True)`` over the first 48 h): a row at ``Hours = t`` falls in bin
``int(t / timestep - 1e-6)`` (so bin k holds (k, k+1], and t = 0 goes to bin 0); within a bin the last
observed value wins (rows stably sorted by ``Hours``); an unobserved bin takes the last observed
value of an earlier bin, else the benchmark's normal value (:data:`NORMAL_VALUES`); the five
categorical variables are one-hot over the benchmark's raw category strings (:data:`CATEGORIES`);
17 mask channels are 1 where the variable was observed in the bin. Result: 76 channels x 48 steps,
channels-first. The 12 continuous channels are z-scored with the training split's mean and standard
deviation (ddof 1, floored at 1e-7, as the benchmark's ``Normalizer``); one-hot and mask channels
are not scaled.

Deviations from the benchmark (none arise on the benchmark's own files): rows with negative
``Hours`` are dropped (the benchmark's IHM files hold none); numeric spellings of categorical
values ("15.0" for GCS total 15, "1" for capillary refill 1.0) are accepted; an unknown category
string is a :class:`DataError` rather than an ``AssertionError``.

Episode k of a subject (``..._episodeK_timeseries.csv``) is the k-th row of that subject in
``all_stays.csv`` ordered by ``INTIME`` (then ``OUTTIME``), which is how the benchmark numbers
episodes; without ``INTIME`` the file's row order per subject is used.

This module is the loader. The channels and the stay -> window conversion live in
:mod:`fairssl.data.loaders.mimic3_encoding`, the reading of the benchmark's files in
:mod:`fairssl.data.loaders.mimic3_files` and the protected attributes in
:mod:`fairssl.data.loaders.mimic3_demographics`; their public names are re-exported here.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairssl.data.dataset import WindowDataset
from fairssl.data.loaders.mimic3_demographics import (
    admission_attributes,
    age_group,
    map_ethnicity,
    map_gender,
    map_language,
    stay_demographics,
)
from fairssl.data.loaders.mimic3_encoding import (
    CATEGORIES,
    CHANNEL_NAMES,
    CONTINUOUS_CHANNELS,
    NORMAL_VALUES,
    STAY_COLUMNS,
    VALUE_CHANNEL_VARIABLE,
    VARIABLES,
    bin_count,
    discretize_stay,
    encode_codes,
    normalizer_stats,
)
from fairssl.data.loaders.mimic3_files import find_file, find_ihm_dir, read_listfile, read_stay, subject_of
from fairssl.data.splits import pick_subjects
from fairssl.errors import ConfigError, DataError


def load_mimic3(
    root: str | Path,
    *,
    all_stays: str | Path | None = None,
    admissions: str | Path | None = None,
    val_fraction: float = 0.15,
    seed: int = 0,
    age_threshold: float = 65,
    hours: float = 48.0,
    timestep: float = 1.0,
) -> WindowDataset:
    """Load the in-hospital-mortality task as a :class:`WindowDataset` of (N, 76, 48) windows.

    One window per ICU stay: the first ``hours`` of the stay, discretised as the benchmark does (see
    the module docstring), continuous channels z-scored with training statistics. ``y`` is
    ``y_true`` (1 = died in hospital). Subject = leading digits of the stay name; window id = the stay
    name without ``_timeseries.csv``. Split: ``test`` from ``test/listfile.csv``; ``train``/``val`` from
    the benchmark's ``train_listfile.csv``/``val_listfile.csv`` when both exist, else a seeded
    patient-disjoint split of ``train/listfile.csv`` with ``val_fraction`` of the patients in ``val``.
    Attributes: gender (M/F), age ("<65"/">=65" by ``age_threshold``), ethnicity (:func:`map_ethnicity`)
    from ``all_stays.csv``; language, insurance, religion, marital_status from ``ADMISSIONS.csv`` when
    found. Missing values are ``missing``; stays absent from ``all_stays.csv`` are counted in
    ``info["n_stays_without_demographics"]``. ``mask`` is True where the variable behind a channel was
    observed in the bin (always True on the mask channels).
    """
    if not 0.0 < val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in (0, 1); got {val_fraction}")
    root = Path(root)
    ihm = find_ihm_dir(root)
    test_entries = read_listfile(ihm / "test" / "listfile.csv")
    train_list = ihm / "train" / "listfile.csv"
    bench_train, bench_val = ihm / "train_listfile.csv", ihm / "val_listfile.csv"
    info: dict[str, Any] = {"source": "mimic3-benchmarks in-hospital-mortality", "root": str(root)}
    warn: list[str] = []
    if bench_train.is_file() and bench_val.is_file():
        train_entries, val_entries = read_listfile(bench_train), read_listfile(bench_val)
        info["val_split"] = "benchmark train_listfile.csv / val_listfile.csv"
        parts = [("train", train_entries, bench_train), ("val", val_entries, bench_val)]
    else:
        entries = read_listfile(train_list)
        subjects = [subject_of(stay, train_list)[0] for stay, _ in entries]
        val_subjects = pick_subjects(
            subjects, fraction=val_fraction, seed=seed, what="patient(s) in the training listfile"
        )
        in_val = [s in val_subjects for s in subjects]
        parts = [
            ("train", [e for e, v in zip(entries, in_val, strict=True) if not v], train_list),
            ("val", [e for e, v in zip(entries, in_val, strict=True) if v], train_list),
        ]
        info["val_split"] = (
            f"seeded patient-disjoint split of train/listfile.csv (seed={seed}, fraction={val_fraction})"
        )
    parts.append(("test", test_entries, ihm / "test" / "listfile.csv"))

    stays: list[str] = []
    folders: list[Path] = []
    labels: list[int] = []
    splits: list[str] = []
    keys: list[tuple[str, int]] = []
    for split_name, entries, listfile in parts:
        folder = ihm / ("test" if split_name == "test" else "train")
        for stay, y in entries:
            keys.append(subject_of(stay, listfile))
            stays.append(stay)
            folders.append(folder)
            labels.append(y)
            splits.append(split_name)
    if len(set(stays)) != len(stays):
        dup = pd.Series(stays)[pd.Series(stays).duplicated()].iloc[0]
        raise DataError(f"stay {dup!r} is listed twice across the listfiles; each stay belongs to one split")

    n_bins = bin_count(hours, timestep)
    codes = np.empty((len(stays), n_bins, len(VARIABLES)), dtype=np.float64)  # (N, T, 17)
    n_ignored = 0
    for i, (stay, folder) in enumerate(zip(stays, folders, strict=True)):
        path = folder / stay
        header, body = read_stay(path)
        codes[i], ignored = discretize_stay(header, body, hours=hours, timestep=timestep, where=str(path))
        n_ignored += ignored
    X, observed = encode_codes(codes)
    del codes
    split_arr = np.array(splits)
    mean, std = normalizer_stats(X[split_arr == "train"])
    cont = list(CONTINUOUS_CHANNELS)
    X[:, cont, :] = ((X[:, cont, :] - mean[None, :, None]) / std[None, :, None]).astype(np.float32)
    mask = np.concatenate(
        [observed[:, VALUE_CHANNEL_VARIABLE, :], np.ones_like(observed)], axis=1
    )  # (N, 59 + 17, T)
    info["normalizer"] = {
        "channels": [CHANNEL_NAMES[i] for i in cont],
        "mean": mean.tolist(),
        "std": std.tolist(),
        "fitted_on": "train",
    }
    info["n_rows_outside_window"] = n_ignored

    attributes = pd.DataFrame(index=range(len(stays)))
    stays_path = find_file(
        all_stays,
        [root / "all_stays.csv", root / "root" / "all_stays.csv", ihm.parent / "root" / "all_stays.csv"],
        "all_stays",
    )
    if stays_path is None:
        message = (
            f"no all_stays.csv found under {root}; the dataset has no protected attributes "
            "(give all_stays=PATH)"
        )
        if admissions is not None:
            message += "; ADMISSIONS.csv is joined through all_stays.csv's HADM_ID, so it was not used"
        warn.append(message)
        warnings.warn(message, stacklevel=2)
    else:
        demo, absent = stay_demographics(stays_path, keys, age_threshold=age_threshold)
        info["n_stays_without_demographics"] = len(absent)
        if absent:
            warn.append(
                f"{len(absent)} stay(s) not in {stays_path.name} (e.g. {absent[0]}): attributes 'missing'"
            )
        attributes = demo[["gender", "age", "ethnicity"]].copy()
        adm_path = find_file(admissions, [root / "ADMISSIONS.csv", root / "ADMISSIONS.csv.gz"], "ADMISSIONS")
        if adm_path is not None:
            adm, n_absent = admission_attributes(adm_path, demo["_hadm"].tolist())
            info["n_stays_without_admission"] = n_absent
            attributes = pd.concat([attributes, adm], axis=1)
    info["warnings"] = warn

    window_id = [s[: -len("_timeseries.csv")] if s.endswith("_timeseries.csv") else s for s in stays]
    return WindowDataset.build(
        X,
        np.array(labels, dtype=np.int64),
        subject=[k[0] for k in keys],
        split=split_arr,
        attributes=attributes,
        window_id=window_id,
        channel_names=CHANNEL_NAMES,
        name="mimic3-ihm",
        mask=mask,
        info=info,
    )


# Where to obtain the source and the files it needs, for `fairssl data` (keys: fairssl.cli_data).
OBTAIN: dict[str, str] = {
    "title": "MIMIC-III in-hospital-mortality benchmark (mimic3-benchmarks, Harutyunyan et al. 2019)",
    "url": "https://physionet.org/content/mimiciii/1.4/ (data); "
    "https://github.com/YerevaNN/mimic3-benchmarks (scripts that build the benchmark folder from it)",
    "access": "PhysioNet credentialed access: CITI human-research training and the MIMIC-III data use "
    "agreement",
}
EXPECTED_FILES: tuple[dict[str, Any], ...] = (
    {
        "glob": ("in-hospital-mortality/train/listfile.csv", "train/listfile.csv"),
        "what": "training listfile",
        "header": ("stay", "y_true"),
    },
    {
        "glob": ("in-hospital-mortality/test/listfile.csv", "test/listfile.csv"),
        "what": "test listfile",
        "header": ("stay", "y_true"),
    },
    {
        "glob": ("in-hospital-mortality/train/*_timeseries.csv", "train/*_timeseries.csv"),
        "what": "training stays",
        "header": STAY_COLUMNS,
    },
    {
        "glob": ("in-hospital-mortality/test/*_timeseries.csv", "test/*_timeseries.csv"),
        "what": "test stays",
        "header": STAY_COLUMNS,
    },
    {
        "glob": ("all_stays.csv", "root/all_stays.csv", "root/root/all_stays.csv"),
        "what": "the benchmark's all_stays.csv (demographics; or pass all_stays=)",
        "header": ("SUBJECT_ID", "GENDER", "AGE", "ETHNICITY"),
    },
    {"glob": ("ADMISSIONS.csv", "ADMISSIONS.csv.gz"), "what": "MIMIC-III ADMISSIONS table", "optional": True},
    {
        "glob": ("in-hospital-mortality/val_listfile.csv", "val_listfile.csv"),
        "what": "validation listfile of split_train_val.py",
        "header": ("stay", "y_true"),
        "optional": True,
    },
)

__all__ = [
    "CATEGORIES",
    "CHANNEL_NAMES",
    "CONTINUOUS_CHANNELS",
    "EXPECTED_FILES",
    "NORMAL_VALUES",
    "OBTAIN",
    "STAY_COLUMNS",
    "VARIABLES",
    "age_group",
    "discretize_stay",
    "encode_codes",
    "load_mimic3",
    "map_ethnicity",
    "map_gender",
    "map_language",
    "normalizer_stats",
]
