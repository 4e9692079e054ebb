"""MESA demographics: NSRR harmonised or raw MESA columns -> sex, age, age89, race per mesaid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairssl.data.dataset import MISSING
from fairssl.data.loaders.mesa_files import first_line as _first_line
from fairssl.errors import DataError

_RACES = {
    "white": "white",
    "caucasian": "white",
    "black": "black",
    "black or african american": "black",
    "african american": "black",
    "hispanic": "hispanic",
    "hispanic or latino": "hispanic",
    "asian": "asian",
    "chinese american": "asian",
    "chinese-american": "asian",
    "american indian or alaska native": "other",
    "native hawaiian or other pacific islander": "other",
    "multiple": "other",
    "other": "other",
}
_RACE1C = {"1": "white", "2": "asian", "3": "black", "4": "hispanic"}
_MISSING_TOKENS = {"", "nan", "na", "n/a", "unknown", "not reported", "none", "."}


# ---------------------------------------------------------------- demographics
def read_demographics(path: Path) -> pd.DataFrame:
    try:
        with path.open(encoding="utf-8-sig") as handle:
            first = handle.readline()
        sep = ";" if first.count(";") > first.count(",") else ","
        table = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(
            f"demographics file {path} could not be read ({_first_line(exc)}); give an intact CSV"
        ) from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    if "mesaid" not in table.columns:
        raise DataError(f"demographics file {path} has no mesaid column; give the NSRR MESA demographics CSV")
    return table


def _clean(value: Any) -> str:
    return str(value).strip().lower()


def _age_groups(age: Any, gt89: str, *, threshold: float) -> tuple[str, str]:
    try:
        value = float(age)
    except (TypeError, ValueError):
        value = float("nan")
    over89 = _clean(gt89)
    if over89 in ("yes", "1", "true"):
        a89 = ">89"
    elif over89 in ("no", "0", "false"):
        a89 = "<=89"
    else:
        a89 = MISSING if not np.isfinite(value) else (">89" if value > 89 else "<=89")
    if not np.isfinite(value):
        return MISSING, a89
    label = f"{threshold:g}"
    return (f">={label}" if value >= threshold else f"<{label}"), a89


def mesa_attributes(table: pd.DataFrame, *, age_threshold: float = 65) -> pd.DataFrame:
    """Per-user attributes (index = mesaid as a string) from an NSRR harmonised or raw MESA table.

    Columns: ``sex`` (male/female), ``age`` ("<T"/">=T"), ``age89`` ("<=89"/">89"), ``race``. Values
    are matched as whole lower-cased strings (never substrings: 'female' is not 'male'); blanks and
    unknown codes are ``missing``. NSRR columns are preferred when both formats are present.
    """
    cols = set(table.columns)
    ids = pd.to_numeric(table["mesaid"], errors="coerce")
    rows: list[dict[str, str]] = []
    if {"nsrr_sex", "nsrr_race", "nsrr_age"} <= cols:
        for _, r in table.iterrows():
            sex = _clean(r["nsrr_sex"])
            race = _clean(r["nsrr_race"])
            age, a89 = _age_groups(r["nsrr_age"], r.get("nsrr_age_gt89", ""), threshold=age_threshold)
            rows.append(
                {
                    "sex": sex if sex in ("male", "female") else MISSING,
                    "age": age,
                    "age89": a89,
                    "race": MISSING if race in _MISSING_TOKENS else _RACES.get(race, race),
                }
            )
    elif {"gender1", "race1c", "sleepage5c"} <= cols:
        for _, r in table.iterrows():
            gender = _clean(r["gender1"]).removesuffix(".0")
            race = _clean(r["race1c"]).removesuffix(".0")
            age, a89 = _age_groups(r["sleepage5c"], "", threshold=age_threshold)
            rows.append(
                {
                    "sex": {"0": "female", "1": "male"}.get(gender, MISSING),
                    "age": age,
                    "age89": a89,
                    "race": _RACE1C.get(race, MISSING),
                }
            )
    else:
        raise DataError(
            "demographics have neither the NSRR columns (nsrr_age, nsrr_sex, nsrr_race) nor the raw MESA "
            f"columns (gender1, race1c, sleepage5c); got {sorted(cols)[:10]}"
        )
    out = pd.DataFrame(rows, columns=["sex", "age", "age89", "race"])
    out.index = pd.Index(["" if np.isnan(i) else str(int(i)) for i in ids.to_numpy(dtype=float)])
    return out[out.index != ""]
