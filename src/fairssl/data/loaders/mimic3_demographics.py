"""MIMIC-III demographics: the protected attributes of a stay, from ``all_stays.csv`` (gender, age group,
ethnicity) and ``ADMISSIONS.csv`` (language, insurance, religion, marital status), with the vocabularies
that map MIMIC's raw strings to groups. A blank or unknown value is ``missing``, never pooled into a group.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairssl.data.dataset import MISSING
from fairssl.data.loaders.mimic3_files import read_table

_ETHNICITY_GROUPS = {
    "WHITE": "WHITE",
    "MIDDLE EASTERN": "WHITE",
    "PORTUGUESE": "WHITE",
    "BLACK": "BLACK",
    "CARIBBEAN ISLAND": "BLACK",
    "HISPANIC": "HISPANIC",
    "SOUTH AMERICAN": "HISPANIC",
    "ASIAN": "ASIAN",
    "AMERICAN INDIAN": "OTHER",
    "NATIVE HAWAIIAN": "OTHER",
    "MULTI RACE ETHNICITY": "OTHER",
    "OTHER": "OTHER",
}
_ETHNICITY_MISSING = {"", "UNKNOWN", "UNABLE TO OBTAIN", "PATIENT DECLINED TO ANSWER", "DECLINED"}
_GENDERS = {"M": "M", "MALE": "M", "F": "F", "FEMALE": "F"}
_RELIGION_MISSING = {"", "NOT SPECIFIED", "UNOBTAINABLE"}
_MARITAL_MISSING = {"", "UNKNOWN (DEFAULT)", "UNKNOWN"}


def _clean(value: Any) -> str:
    """Upper-cased stripped string of a cell; '' for NaN/None."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    return str(value).strip().upper()


def map_ethnicity(value: Any) -> str:
    """Map a MIMIC-III ``ETHNICITY`` string to WHITE, BLACK, HISPANIC, ASIAN, OTHER or ``missing``.

    The head of the string is taken as the benchmark does (``' OR '`` -> ``'/'``, then the part
    before ``' - '`` and before ``'/'``: "HISPANIC/LATINO - PUERTO RICAN" -> "HISPANIC") and matched
    exactly, never by substring. Grouping follows the benchmark's ``e_map`` (MIDDLE EASTERN and
    PORTUGUESE -> WHITE, CARIBBEAN ISLAND -> BLACK, SOUTH AMERICAN -> HISPANIC), except that UNKNOWN,
    UNABLE TO OBTAIN, PATIENT DECLINED TO ANSWER and blanks are ``missing`` (never pooled into a group);
    any other head (AMERICAN INDIAN, NATIVE HAWAIIAN, MULTI RACE ETHNICITY, OTHER, ...) is OTHER.
    """
    text = _clean(value)
    head = text.replace(" OR ", "/").split(" - ")[0].split("/")[0].strip()
    if head in _ETHNICITY_MISSING:
        return MISSING
    return _ETHNICITY_GROUPS.get(head, "OTHER")


def map_gender(value: Any) -> str:
    """``M``/``F`` for exactly M, MALE, F, FEMALE (case-insensitive, whole string); else ``missing``."""
    return _GENDERS.get(_clean(value), MISSING)


def map_language(value: Any) -> str:
    """``ENGL`` for English, ``OTHER`` for any other MIMIC language code, ``missing`` when blank."""
    text = _clean(value)
    if text == "":
        return MISSING
    return "ENGL" if text == "ENGL" else "OTHER"


def _map_with_missing(value: Any, missing: set[str]) -> str:
    """The stripped value as written (e.g. 'Private'); ``missing`` when its upper case is in ``missing``."""
    return MISSING if _clean(value) in missing else str(value).strip()


def age_group(age: Any, *, threshold: float) -> str:
    """``"<T"`` or ``">=T"`` for a numeric age (MIMIC's shifted ages > 89 are >= T); else ``missing``."""
    try:
        value = float(age)
    except (TypeError, ValueError):
        return MISSING
    if not np.isfinite(value):
        return MISSING
    label = f"{threshold:g}"
    return f">={label}" if value >= threshold else f"<{label}"


def stay_demographics(
    path: Path, keys: Sequence[tuple[str, int]], *, age_threshold: float
) -> tuple[pd.DataFrame, list[str]]:
    """Gender, age group, ethnicity (and HADM_ID) per (subject, episode) key, in ``keys`` order."""
    table = read_table(path, ["SUBJECT_ID", "GENDER", "AGE", "ETHNICITY"], "all_stays")
    table["_row"] = np.arange(len(table))
    table["SUBJECT_ID"] = table["SUBJECT_ID"].str.strip()
    order = ["SUBJECT_ID"]
    if "INTIME" in table.columns:
        table["_in"] = pd.to_datetime(table["INTIME"], errors="coerce")
        table["_out"] = pd.to_datetime(table.get("OUTTIME", table["INTIME"]), errors="coerce")
        order += ["_in", "_out"]
    order.append("_row")
    table = table.sort_values(order, kind="stable")
    table["_episode"] = table.groupby("SUBJECT_ID", sort=False).cumcount() + 1
    table = table.set_index(["SUBJECT_ID", "_episode"])
    index = pd.MultiIndex.from_tuples(list(keys))
    found = table.reindex(index)
    out = pd.DataFrame(
        {
            "gender": [map_gender(v) for v in found["GENDER"]],
            "age": [age_group(v, threshold=age_threshold) for v in found["AGE"]],
            "ethnicity": [map_ethnicity(v) for v in found["ETHNICITY"]],
            "_hadm": [_clean(v) for v in found["HADM_ID"]] if "HADM_ID" in found else [""] * len(found),
        }
    )
    absent = found["GENDER"].isna().to_numpy()
    missing_keys = [f"{s}_episode{k}" for (s, k), a in zip(keys, absent, strict=True) if a]
    return out, missing_keys


def admission_attributes(path: Path, hadm: Sequence[str]) -> tuple[pd.DataFrame, int]:
    """Language, insurance, religion, marital status per ``HADM_ID`` (in ``hadm`` order), and how many
    ``hadm`` are absent from ``ADMISSIONS.csv`` (their attributes ``missing``)."""
    table = read_table(path, ["HADM_ID", "INSURANCE", "LANGUAGE", "RELIGION", "MARITAL_STATUS"], "ADMISSIONS")
    table["HADM_ID"] = table["HADM_ID"].map(_clean)
    table = table.drop_duplicates("HADM_ID").set_index("HADM_ID")
    found = table.reindex(pd.Index(list(hadm)))
    out = pd.DataFrame(
        {
            "language": [map_language(v) for v in found["LANGUAGE"]],
            "insurance": [_map_with_missing(v, {""}) for v in found["INSURANCE"]],
            "religion": [_map_with_missing(v, _RELIGION_MISSING) for v in found["RELIGION"]],
            "marital_status": [_map_with_missing(v, _MARITAL_MISSING) for v in found["MARITAL_STATUS"]],
        }
    )
    return out, int(found["LANGUAGE"].isna().sum())
