"""Loader for NHANES accelerometry with the PHQ-9 depression screener (US CDC, public domain).

Files under ``path``, as the CDC publishes them (SAS transport v5, read with ``pandas.read_sas``), for a
cycle suffix ``cycle`` ("D" = 2005-2006; file names are matched case-insensitively):

- ``PAXRAW_D.XPT``: one row per participant-minute (about 7 days x 1,440 minutes): ``SEQN``, ``PAXSTAT``
  (1 = data reliable), ``PAXCAL`` (1 = monitor calibrated), ``PAXDAY`` (day of week), ``PAXN``
  (minute 1, 2, ... since the monitor started), ``PAXHOUR`` (0-23), ``PAXMINUT`` (0-59), ``PAXINTEN``
  (activity count), ``PAXSTEP`` (steps). Read in chunks of ``chunksize`` rows (the file is ~5 GB).
- ``DEMO_D.XPT``: ``SEQN``, ``RIAGENDR`` (1 male, 2 female), ``RIDAGEYR`` (age in years),
  ``RIDRETH1`` (1 Mexican American, 2 Other Hispanic, 3 Non-Hispanic White, 4 Non-Hispanic Black,
  5 Other race incl. multi-racial), ``INDFMPIR`` (family income / poverty threshold, top-coded at 5).
- ``DPQ_D.XPT``: ``SEQN``, ``DPQ010`` ... ``DPQ090`` (0-3; 7 refused, 9 don't know).

Windows: one per participant and calendar day (midnight to midnight by ``PAXHOUR``/``PAXMINUT``), kept
only when all 1,440 minutes are present with ``PAXSTAT == 1`` and ``PAXCAL == 1``. Channels
``PAXINTEN`` (and ``PAXSTEP`` if asked), each minute at its clock position (``resolution="minute"``,
T = 1,440) or summed per clock hour (``resolution="hour"``, T = 24); ``transform="log1p"`` (default)
takes log(1 + count) to tame the heavy right tail; then scaling with training statistics only.
Label (``label="depression"``, default): PHQ-9 total (sum of the nine items) >= ``phq_cutoff``
(10 = moderate depression); unknown when any item is 7, 9 or missing (such participants are dropped, or
put in the unlabelled ``pool`` with ``unlabelled="pool"``). ``label="mortality"``: death within
``horizon_months`` of the exam from the NCHS Linked Mortality File (``mortality_file``, by default
``NHANES_2005_2006_MORT_2019_PUBLIC.dat`` in ``path``; DPQ is then not needed): 1 died within the
horizon, 0 alive at it; ineligible, censored and unlinked participants are unknown, counted in
``info`` and in a warning the audit shows (:mod:`fairssl.data.loaders.nhanes_mortality`).
Attributes: ``sex``, ``age`` (``"<T"``/``">=T"``), ``race`` (:data:`RACES`), ``income``
(``"<1.3"``/``">=1.3"`` of the poverty ratio, the SNAP eligibility line); unknown values are ``missing``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairssl.data.dataset import MISSING, WindowDataset
from fairssl.data.loaders.mimic3 import age_group
from fairssl.data.loaders.nhanes_mortality import (
    EXCLUSIONS,
    MORTALITY_URL,
    check_horizon,
    find_mortality_file,
    mortality_labels,
    read_mortality,
)
from fairssl.data.scaling import check_scaling, scale_train_fitted
from fairssl.data.splits import subject_split
from fairssl.errors import ConfigError, DataError

MINUTES = 1440
PAX_COLUMNS = ("SEQN", "PAXSTAT", "PAXCAL", "PAXN", "PAXHOUR", "PAXMINUT", "PAXINTEN", "PAXSTEP")
DEMO_COLUMNS = ("SEQN", "RIAGENDR", "RIDAGEYR", "RIDRETH1", "INDFMPIR")
PHQ_ITEMS = tuple(f"DPQ0{k}0" for k in range(1, 10))
"""The nine PHQ-9 items (DPQ100, the difficulty question, is not part of the score)."""
RACES = {
    1: "mexican_american",
    2: "other_hispanic",
    3: "non_hispanic_white",
    4: "non_hispanic_black",
    5: "other_or_multiracial",
}
SEXES = {1: "male", 2: "female"}
POVERTY_LINE = 1.3


def _find(root: Path, stem: str, cycle: str) -> Path:
    wanted = f"{stem}_{cycle}.xpt".lower()
    if root.is_dir():
        for candidate in root.iterdir():
            if candidate.name.lower() == wanted:
                return candidate
    raise DataError(
        f"{stem}_{cycle}.XPT not found in {root}; download it from the CDC NHANES site into {root}"
    )


def _read_xpt(path: Path, columns: Sequence[str]) -> pd.DataFrame:
    try:
        table = pd.read_sas(path, format="xport")
    except (OSError, ValueError, TypeError) as exc:
        raise DataError(
            f"{path} is not a readable SAS transport file ({exc}); give the file as published"
        ) from None
    if not isinstance(table, pd.DataFrame):  # read_sas returns a reader only when chunked
        raise DataError(f"{path} could not be read as one table; give the file as published")
    table = _exact_zeros(table)
    _check_columns(table, columns, path)
    return table


def _exact_zeros(table: pd.DataFrame) -> pd.DataFrame:
    """Zeros as 0.0: pandas decodes the XPORT zero (eight 0x00 bytes) as 16**-65 = 5.4e-79."""
    numeric = table.select_dtypes("number").columns
    table[numeric] = table[numeric].mask(table[numeric].abs() < 1e-70, 0.0)
    return table


def _check_columns(table: pd.DataFrame, columns: Sequence[str], path: Path) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(f"{path} lacks column(s) {missing}; give the CDC file of that name as published")


def read_days(
    path: Path, channels: Sequence[str], *, chunksize: int = 2_000_000
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Complete valid days of ``PAXRAW``: (seqn (D,), day (D,), values (D, len(channels), 1440), n_partial).

    ``day`` counts calendar days from the participant's first midnight on (0 = the day the monitor
    started). A day is kept when its 1,440 clock minutes are all present with ``PAXSTAT == 1`` and
    ``PAXCAL == 1``; ``n_partial`` counts the others.
    """
    parts: list[pd.DataFrame] = []
    try:
        reader = pd.read_sas(path, format="xport", chunksize=chunksize)
        with reader:
            for raw in reader:
                chunk = _exact_zeros(raw)
                _check_columns(chunk, [c for c in PAX_COLUMNS if c != "PAXSTEP" or c in channels], path)
                minute = (chunk["PAXHOUR"] * 60 + chunk["PAXMINUT"]).to_numpy()
                start = minute - (chunk["PAXN"].to_numpy() - 1)  # minute of day at PAXN = 1, minus whole days
                part = pd.DataFrame(
                    {
                        "seqn": chunk["SEQN"].to_numpy(np.int64),
                        "day": ((chunk["PAXN"].to_numpy() - 1 + np.mod(start, MINUTES)) // MINUTES).astype(
                            np.int16
                        ),
                        "minute": minute.astype(np.int16),
                        "valid": (chunk["PAXSTAT"].to_numpy() == 1) & (chunk["PAXCAL"].to_numpy() == 1),
                    }
                )
                for c in channels:
                    part[c] = chunk[c].to_numpy(np.float32)
                parts.append(part)
    except (OSError, ValueError, TypeError) as exc:
        raise DataError(
            f"{path} is not a readable SAS transport file ({exc}); give the file as published"
        ) from None
    if not parts:
        raise DataError(f"{path} holds no rows; give the complete PAXRAW file")
    rows = pd.concat(parts, ignore_index=True)
    values_ok = np.isfinite(rows[list(channels)].to_numpy()).all(axis=1)
    rows["valid"] &= values_ok
    per_day = rows.groupby(["seqn", "day"], sort=True).agg(n=("minute", "size"), ok=("valid", "all"))
    per_day["minutes"] = rows.groupby(["seqn", "day"], sort=True)["minute"].nunique()
    complete = per_day[(per_day["n"] == MINUTES) & (per_day["minutes"] == MINUTES) & per_day["ok"]]
    keys = complete.index.to_frame(index=False)
    keys["w"] = np.arange(len(keys))
    rows = rows.merge(keys, on=["seqn", "day"], how="inner")
    values = np.zeros((len(keys), len(channels), MINUTES), dtype=np.float32)
    for j, c in enumerate(channels):
        values[rows["w"].to_numpy(), j, rows["minute"].to_numpy()] = rows[c].to_numpy()
    return keys["seqn"].to_numpy(), keys["day"].to_numpy(), values, len(per_day) - len(complete)


def phq9_labels(table: pd.DataFrame, *, cutoff: int = 10) -> pd.Series:
    """PHQ-9 total >= ``cutoff`` per SEQN: 1/0, or -1 when any item is 7 (refused), 9, or missing."""
    items = table[list(PHQ_ITEMS)].to_numpy(dtype=float)  # (participants, 9)
    known = np.isin(items, (0, 1, 2, 3)).all(axis=1)
    total = np.where(known, np.nansum(np.where(np.isin(items, (0, 1, 2, 3)), items, 0), axis=1), -1)
    label = np.where(known, (total >= cutoff).astype(np.int64), -1)
    return pd.Series(label, index=table["SEQN"].to_numpy(np.int64))


def demographics(table: pd.DataFrame, *, age_threshold: float) -> pd.DataFrame:
    """sex, age, race, income per SEQN (unknown codes -> ``missing``)."""
    pir = table["INDFMPIR"].to_numpy(dtype=float)
    income = np.where(np.isnan(pir), MISSING, np.where(pir < POVERTY_LINE, "<1.3", ">=1.3"))
    return pd.DataFrame(
        {
            "sex": [SEXES.get(int(v), MISSING) if np.isfinite(v) else MISSING for v in table["RIAGENDR"]],
            "age": [age_group(v, threshold=age_threshold) for v in table["RIDAGEYR"]],
            "race": [RACES.get(int(v), MISSING) if np.isfinite(v) else MISSING for v in table["RIDRETH1"]],
            "income": income,
        },
        index=table["SEQN"].to_numpy(np.int64),
    )


def _mortality(
    root: Path, cycle: str, mortality_file: str | Path | None, horizon_months: int, seqn: np.ndarray
) -> tuple[pd.Series, dict[str, Any]]:
    """Labels per SEQN and, for the participants in ``seqn`` (those with a complete valid day), the
    excluded counts ``n_mortality_<reason>`` plus a warning line."""
    path = find_mortality_file(root, cycle, mortality_file)
    labels, reason = mortality_labels(read_mortality(path), horizon_months=horizon_months)
    people = np.unique(seqn)
    why = reason.reindex(people).fillna("not_in_file")
    counts = {f"n_mortality_{r}": int((why == r).sum()) for r in (*EXCLUSIONS, "not_in_file")}
    excluded = sum(counts.values())
    info: dict[str, Any] = {"mortality_file": str(path), "horizon_months": int(horizon_months), **counts}
    if excluded:
        detail = ", ".join(f"{k.removeprefix('n_mortality_')} {v}" for k, v in counts.items() if v)
        info["warnings"] = [
            f"mortality label: {excluded} of {len(people)} participant(s) with a complete day have no "
            f"{horizon_months}-month outcome and are excluded from the labelled splits ({detail})"
        ]
    return labels, info


def load_nhanes(
    path: str | Path,
    *,
    cycle: str = "D",
    label: str = "depression",
    mortality_file: str | Path | None = None,
    horizon_months: int = 120,
    resolution: str = "minute",
    channels: Sequence[str] = ("PAXINTEN",),
    transform: str = "log1p",
    phq_cutoff: int = 10,
    unlabelled: str = "drop",
    age_threshold: float = 65,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int = 0,
    scaling: str = "standard",
    clip: float | None = None,
    chunksize: int = 2_000_000,
) -> WindowDataset:
    """Participant-day windows ``X`` (N, len(channels), 1440 or 24), ``y`` PHQ-9 >= ``phq_cutoff``
    (``label="depression"``) or death within ``horizon_months`` of the exam (``label="mortality"``).

    Subject = SEQN; window id ``"<SEQN>_d<day>"``. Split: subject-disjoint ``fractions`` with ``seed``,
    stratified by the label; participants without a known label are dropped (``unlabelled="drop"``)
    or form the ``pool`` split with ``y = -1`` (``"pool"``, for pre-training). Participants without a
    demographics row keep all attributes ``missing``. See the module docstring for every choice.
    """
    check_scaling(scaling, clip)
    if resolution not in ("minute", "hour"):
        raise ConfigError(f"resolution = {resolution!r} must be 'minute' (1,440 steps) or 'hour' (24 sums)")
    if transform not in ("log1p", "none"):
        raise ConfigError(f"transform = {transform!r} must be 'log1p' or 'none'")
    if label not in ("depression", "mortality"):
        raise ConfigError(f"label = {label!r} must be 'depression' (PHQ-9) or 'mortality' (NCHS linked file)")
    if unlabelled not in ("drop", "pool"):
        raise ConfigError(f"unlabelled = {unlabelled!r} must be 'drop' or 'pool'")
    chosen = list(channels)
    if not chosen or any(c not in ("PAXINTEN", "PAXSTEP") for c in chosen) or len(set(chosen)) != len(chosen):
        raise ConfigError(f"channels = {chosen} must name PAXINTEN and/or PAXSTEP (once each)")
    if not 0 < phq_cutoff <= 27:
        raise ConfigError(f"phq_cutoff = {phq_cutoff} must be in 1..27 (the PHQ-9 total's range is 0-27)")
    root = Path(path)
    pax, demo_path = (_find(root, stem, cycle) for stem in ("PAXRAW", "DEMO"))
    label_info: dict[str, Any] = {}
    if label == "depression":
        dpq_path = _find(root, "DPQ", cycle)
        labels = phq9_labels(_read_xpt(dpq_path, ("SEQN", *PHQ_ITEMS)), cutoff=phq_cutoff)
    else:
        check_horizon(horizon_months)  # fail before the long PAXRAW read
        find_mortality_file(root, cycle, mortality_file)
    demo = demographics(_read_xpt(demo_path, DEMO_COLUMNS), age_threshold=age_threshold)
    seqn, day, values, n_partial = read_days(pax, chosen, chunksize=chunksize)
    if label == "mortality":
        labels, label_info = _mortality(root, cycle, mortality_file, horizon_months, seqn)

    y = labels.reindex(seqn).fillna(-1).to_numpy(np.int64)
    keep = y >= 0 if unlabelled == "drop" else np.ones(len(y), dtype=bool)
    seqn, day, values, y = seqn[keep], day[keep], values[keep], y[keep]
    labelled = y >= 0
    if len(np.unique(seqn[labelled])) < 3:
        raise DataError(
            f"only {len(np.unique(seqn[labelled]))} participant(s) have a complete valid day and a "
            f"{label} label; check that PAXRAW, DEMO and the label file are of the same cycle"
        )
    split = np.full(len(seqn), "pool", dtype=object)
    split[labelled] = subject_split(seqn[labelled], fractions=fractions, seed=seed, stratify=y[labelled])
    if resolution == "hour":
        values = values.reshape(len(values), len(chosen), 24, 60).sum(axis=3)  # (N, C, 24) hourly sums
    if transform == "log1p":
        values = np.log1p(np.maximum(values, 0.0)).astype(np.float32)
    scaled, scale_info = scale_train_fitted(values, split, method=scaling, clip=clip, channel_names=chosen)
    attributes = demo.reindex(seqn).reset_index(drop=True)
    info: dict[str, Any] = {
        "source": f"NHANES accelerometry cycle {cycle} (PAXRAW, DEMO, "
        + ("DPQ)" if label == "depression" else "NCHS linked mortality file)"),
        "root": str(root),
        "label": f"PHQ-9 total >= {phq_cutoff}"
        if label == "depression"
        else f"died within {horizon_months} months of the exam (PERMTH_EXM)",
        "resolution": resolution,
        "transform": transform,
        "n_partial_or_invalid_days": int(n_partial),
        "n_participants_without_demographics": len(np.setdiff1d(np.unique(seqn), demo.index)),
        **label_info,
        **scale_info,
    }
    return WindowDataset.build(
        scaled,
        y,
        subject=seqn.astype(str),
        split=split,
        attributes=attributes,
        window_id=[f"{s}_d{d}" for s, d in zip(seqn, day, strict=True)],
        channel_names=chosen,
        name="nhanes",
        info=info,
    )


# Where to obtain the source and the files it needs, for `fairssl data` (keys: fairssl.cli_data).
CYCLE_PAGE_URL = "https://wwwn.cdc.gov/nchs/nhanes/continuousnhanes/default.aspx?BeginYear=2005"
"""The CDC's page of the 2005-2006 cycle (documentation and links to every data file)."""
DATA_FILES_URL = "https://wwwn.cdc.gov/Nchs/Data/Nhanes/Public/2005/DataFiles/"
"""The CDC folder the 2005-2006 data files are served from (``DEMO_D.xpt``, ``DPQ_D.xpt``,
``PAXRAW_D.zip``; `fairssl data download` fetches them from here)."""
OBTAIN: dict[str, str] = {
    "title": "NHANES 2005-2006 accelerometry, demographics, PHQ-9 depression screener; NCHS linked mortality",
    "url": f"{CYCLE_PAGE_URL} (PAXRAW_D, DEMO_D, DPQ_D); {MORTALITY_URL} (mortality)",
    "access": "public domain (US CDC/NCHS); no registration or credentials",
}
EXPECTED_FILES: tuple[dict[str, Any], ...] = (
    {
        "glob": ("PAXRAW_*.XPT",),
        "what": "minute accelerometry (SAS transport, ~5 GB)",
        "starts_with": "HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!",
    },
    {
        "glob": ("DEMO_*.XPT",),
        "what": "demographics (SAS transport)",
        "starts_with": "HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!",
    },
    {
        "glob": ("DPQ_*.XPT",),
        "what": 'PHQ-9 depression screener (SAS transport; for label = "depression", the default)',
        "starts_with": "HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!",
    },
    {
        "glob": ("NHANES_*_MORT_2019_PUBLIC.dat",),
        "what": 'NCHS linked mortality file (fixed-width; for label = "mortality")',
        "first_line": r"^[0-9 ]{14}[123]",
        "optional": True,
    },
)

__all__ = [
    "CYCLE_PAGE_URL",
    "DATA_FILES_URL",
    "EXPECTED_FILES",
    "OBTAIN",
    "PHQ_ITEMS",
    "RACES",
    "demographics",
    "load_nhanes",
    "phq9_labels",
    "read_days",
]
