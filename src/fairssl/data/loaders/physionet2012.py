"""Loader for the PhysioNet/Computing in Cardiology Challenge 2012 (in-hospital mortality, open access).

Layout under ``path`` (the challenge's folder as published, https://physionet.org/content/challenge-2012/):

- ``set-a/<RecordID>.txt`` (likewise ``set-b``, ``set-c``; a doubled ``set-a/set-a/`` as some unzip
  tools leave it is accepted): header ``Time,Parameter,Value``, then one row per measurement, ``Time``
  as ``HH:MM`` from ICU admission (00:00 to 48:00). The first rows, at 00:00, are the general
  descriptors ``RecordID, Age, Gender, Height, ICUType, Weight`` (-1 = missing; Gender 0 female,
  1 male; ICUType 1 coronary care, 2 cardiac surgery recovery, 3 medical, 4 surgical). Later
  ``Weight`` rows are measurements.
- ``Outcomes-a.txt`` (one per set, or ``outcomes=PATH`` / a list of paths): CSV with header
  ``RecordID,SAPS-I,SOFA,Length_of_stay,Survival,In-hospital_death``.

Discretisation (as the MIMIC-III benchmark's, :mod:`fairssl.data.loaders.mimic3`): a row at ``t`` hours
falls in bin ``int(t / bin_hours - 1e-6)`` (bin k holds (k, k+1] hours; t = 0 goes to bin 0); rows after
``hours`` are dropped (counted in ``info``); within a bin the last row in time order wins. An unobserved
bin takes the last observed value of an earlier bin, else the *training* split's median of the
variable (a variable never observed in training: 0 after scaling, i.e. the centre). The value channels
are scaled with statistics of the observed training values only (:func:`scale_train_fitted`);
``mask=True`` appends one 0/1 channel per variable (1 where observed in the bin), not scaled. Result:
``X`` (N, V or 2V, T), T = ``hours / bin_hours`` (48 by default), V = 36 variables by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairssl.data.dataset import MISSING, WindowDataset
from fairssl.data.loaders.mimic3 import age_group
from fairssl.data.scaling import check_scaling, scale_train_fitted
from fairssl.data.splits import subject_split
from fairssl.errors import ConfigError, DataError

_EPS = 1e-6
HEADER = ("Time", "Parameter", "Value")
DESCRIPTORS: tuple[str, ...] = ("RecordID", "Age", "Gender", "Height", "ICUType", "Weight")
"""The general descriptors recorded once at 00:00 at the top of every record."""

VARIABLES: tuple[str, ...] = (
    "Albumin", "ALP", "ALT", "AST", "Bilirubin", "BUN", "Cholesterol", "Creatinine", "DiasABP", "FiO2",
    "GCS", "Glucose", "HCO3", "HCT", "HR", "K", "Lactate", "Mg", "MAP", "MechVent", "Na", "NIDiasABP",
    "NIMAP", "NISysABP", "PaCO2", "PaO2", "pH", "Platelets", "RespRate", "SaO2", "SysABP", "Temp",
    "TroponinI", "TroponinT", "Urine", "WBC",
)  # fmt: skip
"""The 36 time-series variables used by default (the challenge's list without ``Weight``, as in most of
the literature: Weight is mostly the admission descriptor). ``channels`` may add ``"Weight"``."""

KNOWN_VARIABLES: tuple[str, ...] = (*VARIABLES, "Weight")
ICU_TYPES = {"1": "coronary", "2": "cardiac_surgery", "3": "medical", "4": "surgical"}
SEXES = {"0": "female", "1": "male"}


def _minutes(text: str, where: str) -> int:
    hh, sep, mm = text.strip().partition(":")
    if not sep or not hh.isdigit() or not mm.isdigit() or int(mm) >= 60:
        raise DataError(f"{where}: time {text!r} is not HH:MM; give the record file as published")
    return int(hh) * 60 + int(mm)


def _descriptor_text(value: str) -> str:
    """A descriptor's value as a canonical string ('' when -1 = missing): '1.0' -> '1'."""
    try:
        number = float(value)
    except ValueError:
        return ""
    if number == -1 or not np.isfinite(number):
        return ""
    return f"{number:g}"


def parse_record(path: str | Path) -> tuple[dict[str, str], list[tuple[int, str, float]]]:
    """Read one ``<RecordID>.txt``: (descriptors, measurements).

    ``descriptors`` maps each of :data:`DESCRIPTORS` found in the leading 00:00 block to its value as
    a string ('' for -1 = missing). ``measurements`` are ``(minutes since admission, parameter, value)``
    in file order, every other row (the descriptors excluded; unknown parameters are kept here and
    ignored by the binning). A malformed line is a :class:`DataError` naming file and line.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise DataError(
            f"record {path} could not be read ({exc.strerror}); give the file as published"
        ) from None
    if not lines or tuple(c.strip() for c in lines[0].split(",")) != HEADER:
        first = lines[0][:40] if lines else ""
        raise DataError(
            f"{path}: first line is {first!r}, not 'Time,Parameter,Value'; not a challenge record"
        )
    descriptors: dict[str, str] = {}
    rows: list[tuple[int, str, float]] = []
    in_block = True
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split(",")
        where = f"{path}:{number}"
        if len(parts) != 3:
            raise DataError(f"{where}: {line[:60]!r} has {len(parts)} fields, expected Time,Parameter,Value")
        minutes = _minutes(parts[0], where)
        name, value = parts[1].strip(), parts[2].strip()
        if in_block and minutes == 0 and name in DESCRIPTORS and name not in descriptors:
            descriptors[name] = _descriptor_text(value)
            continue
        in_block = False
        try:
            rows.append((minutes, name, float(value)))
        except ValueError:
            raise DataError(
                f"{where}: value {value!r} of {name!r} is not a number; fix or remove the line"
            ) from None
    return descriptors, rows


def bin_record(
    rows: Sequence[tuple[int, str, float]], channels: Sequence[str], *, hours: float, bin_hours: float
) -> tuple[np.ndarray, int]:
    """Bin one record's measurements: (values (V, T) with NaN where unobserved, rows after ``hours``).

    Bin of a row at ``t`` hours: ``max(int(t / bin_hours - 1e-6), 0)`` capped at T - 1; the last row
    of a bin in time order (ties: file order) wins.
    """
    n_bins = int(hours / bin_hours + 1.0 - _EPS)
    index = {name: j for j, name in enumerate(channels)}
    values = np.full((len(channels), n_bins), np.nan)
    ignored = 0
    for minutes, name, value in sorted(rows, key=lambda r: r[0]):  # stable: file order within a time
        t = minutes / 60.0
        if t > hours + _EPS:
            ignored += 1
            continue
        j = index.get(name)
        if j is None:
            continue
        b = min(max(int(t / bin_hours - _EPS), 0), n_bins - 1)
        values[j, b] = value
    return values, ignored


def forward_fill(values: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """Carry the last observed value forward along time; before the first observation use ``fill``.

    ``values`` (N, V, T) with NaN = unobserved; ``fill`` (V,). Returns a new (N, V, T) array.
    """
    n, v, t = values.shape
    observed = ~np.isnan(values)
    pos = np.where(observed, np.arange(t)[None, None, :], -1)
    pos = np.maximum.accumulate(pos, axis=2)  # last observed bin so far, -1 if none
    filled = np.take_along_axis(values, np.maximum(pos, 0), axis=2)
    return np.where(pos >= 0, filled, np.broadcast_to(fill[None, :, None], (n, v, t)))


def _set_folder(root: Path, name: str) -> Path:
    for folder in (root / f"set-{name}", root / f"set-{name}" / f"set-{name}"):
        if folder.is_dir() and any(folder.glob("*.txt")):
            return folder
    raise DataError(
        f"no record files in {root / f'set-{name}'}; point path at the folder holding set-{name}/ "
        "(the challenge's set-a.tar.gz unpacked)"
    )


def read_outcomes(path: Path) -> dict[str, int]:
    """``Outcomes-x.txt`` as RecordID -> In-hospital_death (0/1)."""
    if not path.is_file():
        raise DataError(
            f"outcomes file {path} not found; download Outcomes-a.txt beside set-a/ or give outcomes="
        )
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise DataError(
            f"outcomes file {path} could not be read ({exc}); give the file as published"
        ) from None
    table.columns = [str(c).strip() for c in table.columns]
    if not {"RecordID", "In-hospital_death"} <= set(table.columns):
        raise DataError(
            f"{path} lacks RecordID or In-hospital_death columns; give the challenge's Outcomes file"
        )
    out: dict[str, int] = {}
    for rid, death in zip(table["RecordID"], table["In-hospital_death"], strict=True):
        if death.strip() not in ("0", "1"):
            raise DataError(f"{path}: In-hospital_death of record {rid} is {death!r}, expected 0 or 1")
        out[_descriptor_text(rid) or rid.strip()] = int(death)
    return out


def _check_options(
    sets: Sequence[str], hours: float, bin_hours: float, channels: Sequence[str] | None, scaling: str,
    clip: float | None,
) -> list[str]:  # fmt: skip
    check_scaling(scaling, clip)
    if not sets or any(s not in ("a", "b", "c") for s in sets):
        raise ConfigError(f"sets = {list(sets)} must name some of 'a', 'b', 'c' (the challenge's set-a/b/c)")
    if not (bin_hours > 0 and hours >= bin_hours):
        raise ConfigError(f"need 0 < bin_hours <= hours; got bin_hours={bin_hours}, hours={hours}")
    chosen = list(VARIABLES if channels is None else channels)
    unknown = [c for c in chosen if c not in KNOWN_VARIABLES]
    if unknown or not chosen or len(set(chosen)) != len(chosen):
        raise ConfigError(
            f"channels {chosen} must be distinct names from the challenge's variables "
            f"(unknown: {unknown}); e.g. {', '.join(VARIABLES[:4])}, ..., Weight"
        )
    return chosen


def load_physionet2012(
    path: str | Path,
    *,
    outcomes: str | Path | Sequence[str | Path] | None = None,
    sets: Sequence[str] = ("a",),
    hours: float = 48.0,
    bin_hours: float = 1.0,
    channels: Sequence[str] | None = None,
    mask: bool = True,
    icu_type: bool = False,
    age_threshold: float = 65,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int = 0,
    scaling: str = "standard",
    clip: float | None = None,
) -> WindowDataset:
    """One window per ICU stay of the chosen ``sets``: ``X`` (N, V [+ V masks], T), ``y`` In-hospital_death.

    Subject = RecordID (one stay per patient). Split: subject-disjoint ``fractions`` with ``seed``,
    stratified by the label. Attributes: ``sex`` (female / male / missing), ``age`` ("<65" / ">=65" by
    ``age_threshold``; missing when -1), and ``icu_type`` (coronary, cardiac_surgery, medical, surgical)
    when ``icu_type``. ``dataset.mask`` is True where the variable behind a channel was observed in the
    bin (always True on mask channels). See the module docstring for binning, filling and scaling.
    """
    chosen = _check_options(sets, hours, bin_hours, channels, scaling, clip)
    root = Path(path)
    if outcomes is None:
        outcome_files = [root / f"Outcomes-{s}.txt" for s in sets]
    elif isinstance(outcomes, (str, Path)):
        outcome_files = [Path(outcomes)]
    else:
        outcome_files = [Path(p) for p in outcomes]
    labels_by_id: dict[str, int] = {}
    for file in outcome_files:
        labels_by_id.update(read_outcomes(file))

    ids: list[str] = []
    blocks: list[np.ndarray] = []
    demographics: list[dict[str, str]] = []
    n_ignored = 0
    for s in sets:
        for file in sorted(_set_folder(root, s).glob("*.txt"), key=lambda p: p.stem):
            descriptors, rows = parse_record(file)
            rid = descriptors.get("RecordID") or file.stem
            if rid not in labels_by_id:
                raise DataError(
                    f"record {rid} ({file}) has no row in {', '.join(p.name for p in outcome_files)}; "
                    "give the Outcomes file of its set"
                )
            values, ignored = bin_record(rows, chosen, hours=hours, bin_hours=bin_hours)
            n_ignored += ignored
            ids.append(rid)
            blocks.append(values)
            demographics.append(descriptors)
    if len(set(ids)) != len(ids):
        dup = pd.Series(ids)[pd.Series(ids).duplicated()].iloc[0]
        raise DataError(f"RecordID {dup} occurs twice across sets {list(sets)}; each stay must appear once")

    raw = np.stack(blocks)  # (N, V, T), NaN = unobserved
    observed = ~np.isnan(raw)
    y = np.array([labels_by_id[r] for r in ids], dtype=np.int64)
    split = subject_split(np.array(ids), fractions=fractions, seed=seed, stratify=y)
    train = split == "train"
    with np.errstate(all="ignore"):
        train_values = raw[train].transpose(1, 0, 2).reshape(len(chosen), -1)  # (V, n_train * T)
        counts = observed[train].sum(axis=(0, 2))
        medians = np.array(
            [np.nanmedian(row) if c else np.nan for row, c in zip(train_values, counts, strict=True)]
        )
    filled = forward_fill(raw, np.nan_to_num(medians, nan=0.0))
    scaled, scale_info = scale_train_fitted(
        filled, split, method=scaling, clip=clip, mask=observed, channel_names=chosen
    )
    scaled = np.asarray(scaled, dtype=np.float32)
    never = [c for c, n in zip(chosen, counts, strict=True) if n == 0]  # filled 0 = their scaled centre
    names = list(chosen)
    window_mask = observed
    if mask:
        scaled = np.concatenate([scaled, observed.astype(np.float32)], axis=1)  # (N, 2V, T)
        names += [f"mask->{c}" for c in chosen]
        window_mask = np.concatenate([observed, np.ones_like(observed)], axis=1)

    attributes = pd.DataFrame(
        {
            "sex": [SEXES.get(d.get("Gender", ""), MISSING) for d in demographics],
            "age": [age_group(d.get("Age") or None, threshold=age_threshold) for d in demographics],
        }
    )
    if icu_type:
        attributes["icu_type"] = [ICU_TYPES.get(d.get("ICUType", ""), MISSING) for d in demographics]
    info: dict[str, Any] = {
        "source": "PhysioNet/CinC Challenge 2012",
        "root": str(root),
        "sets": list(sets),
        "label": "In-hospital_death",
        "hours": hours,
        "bin_hours": bin_hours,
        "n_rows_after_window": n_ignored,
        "train_median_fill": {
            c: (None if np.isnan(m) else float(m)) for c, m in zip(chosen, medians, strict=True)
        },
        "channels_never_observed_in_train": never,
        **scale_info,
    }
    return WindowDataset.build(
        scaled,
        y,
        subject=ids,
        split=split,
        attributes=attributes,
        window_id=ids,
        channel_names=names,
        name="physionet2012",
        mask=window_mask,
        info=info,
    )


# Where to obtain the source and the files it needs, for `fairssl data` (keys: fairssl.cli_data).
PAGE_URL = "https://physionet.org/content/challenge-2012/1.0.0/"
"""PhysioNet's page of the challenge's version 1.0.0 (description, licence, file list)."""
FILES_URL = "https://physionet.org/files/challenge-2012/1.0.0/"
"""Where PhysioNet serves that version's files (``set-a.tar.gz``, ``Outcomes-a.txt``, ...)."""
OBTAIN: dict[str, str] = {
    "title": "PhysioNet/Computing in Cardiology Challenge 2012 (ICU in-hospital mortality)",
    "url": PAGE_URL,
    "access": "open access on PhysioNet (Open Data Commons Attribution licence); no credentials",
}
EXPECTED_FILES: tuple[dict[str, Any], ...] = (
    {"glob": ("set-a/*.txt", "set-a/set-a/*.txt"), "what": "set A records", "header": HEADER},
    {
        "glob": ("Outcomes-a.txt",),
        "what": "set A outcomes",
        "header": ("RecordID", "SAPS-I", "SOFA", "Length_of_stay", "Survival", "In-hospital_death"),
    },
    {
        "glob": ("set-b/*.txt", "set-b/set-b/*.txt"),
        "what": "set B records",
        "header": HEADER,
        "optional": True,
    },
    {
        "glob": ("set-c/*.txt", "set-c/set-c/*.txt"),
        "what": "set C records",
        "header": HEADER,
        "optional": True,
    },
    {"glob": ("Outcomes-b.txt",), "what": "set B outcomes", "header": ("RecordID",), "optional": True},
    {"glob": ("Outcomes-c.txt",), "what": "set C outcomes", "header": ("RecordID",), "optional": True},
)

__all__ = [
    "DESCRIPTORS",
    "EXPECTED_FILES",
    "FILES_URL",
    "OBTAIN",
    "PAGE_URL",
    "VARIABLES",
    "bin_record",
    "forward_fill",
    "load_physionet2012",
    "parse_record",
]
