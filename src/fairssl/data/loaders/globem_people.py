"""GLOBEM participants: who returns across study years, and their demographics.

A person who joins several study years gets a new ``pid`` each year. Two kinds of linkage file:

- GLOBEM's ``data/additional_user_setup/overlapping_pids.json`` (found automatically in ``root``,
  ``root/additional_user_setup/`` or ``root/../data/additional_user_setup/``): nested
  ``{label: {cohort: {INS-W_k: ["pid#INS-W_k", ...]}}}``. It lists, per year, the pids of people who
  also take part in another year, but **not which pid of one year is which pid of another**. It marks
  pids as *returning*; it cannot merge them into one subject.
- a person map: a CSV ``person,pid[,institute]`` (pid written ``INS-W_015#INS-W_1`` or with the
  ``institute`` column) or a JSON ``{person: ["pid#INS-W_k", ...]}``. Every pid of one person then
  becomes one subject ``person:{person}``.

Keys are ``"{pid}#INS-W_k"`` for both the full release and the sample folders.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from fairssl.data.dataset import MISSING
from fairssl.data.loaders.globem_layout import first_line
from fairssl.errors import DataError

OVERLAP_FILE = "overlapping_pids.json"

_MISSING_TOKENS = {
    "",
    "nan",
    "na",
    "n/a",
    "none",
    "unknown",
    "prefer not to say",
    "prefer not to answer",
    "prefer not to disclose",
    "decline to answer",
    "declined",
    "missing",
}
_GENDERS = {"male": "Male", "man": "Male", "m": "Male", "female": "Female", "woman": "Female", "f": "Female"}


@dataclass(frozen=True)
class Linkage:
    """Returning participants: ``person`` maps a pid key to its person (exact links), ``returning`` holds
    every key known to belong to someone present in another study year."""

    kind: str  # "none", "person map" or "GLOBEM overlapping_pids.json (no pid pairs)"
    path: str | None = None
    person: dict[str, str] = field(default_factory=dict)
    returning: frozenset[str] = frozenset()


def find_overlap_file(root: Path) -> Path | None:
    """GLOBEM's overlapping-pids file beside the data, or None."""
    for folder in (root, root / "additional_user_setup", root.parent / "data" / "additional_user_setup"):
        if (folder / OVERLAP_FILE).is_file():
            return folder / OVERLAP_FILE
    return None


def _check_key(key: Any, path: Path) -> str:
    text = str(key).strip()
    if "#" not in text:
        raise DataError(
            f"{path}: entry {text!r} is not 'pid#INS-W_k'; give overlapping_pids.json or a person map"
        )
    return text


def _from_json(data: Any, path: Path, label: str) -> Linkage:
    if not isinstance(data, dict) or not data:
        raise DataError(f"{path} is not a JSON object; give GLOBEM's overlapping_pids.json or a person map")
    if all(isinstance(v, list) for v in data.values()):  # {person: [keys]}
        person = {_check_key(k, path): str(p) for p, keys in data.items() for k in keys}
        return _person_linkage(person, str(path))
    targets = [data[label]] if label in data else list(data.values())
    keys: set[str] = set()
    for target in targets:
        if not isinstance(target, dict):
            raise DataError(
                f"{path}: expected {{label: {{cohort: {{INS-W_k: [pids]}}}}}} as GLOBEM releases it"
            )
        for cohort in target.values():
            for entries in cohort.values() if isinstance(cohort, dict) else []:
                keys.update(_check_key(k, path) for k in entries)
    return Linkage(
        kind="GLOBEM overlapping_pids.json (no pid pairs)", path=str(path), returning=frozenset(keys)
    )


def _person_linkage(person: dict[str, str], path: str) -> Linkage:
    counts = pd.Series(list(person.values())).value_counts()
    shared = set(counts[counts > 1].index)
    return Linkage(
        kind="person map",
        path=path,
        person=person,
        returning=frozenset(k for k, p in person.items() if p in shared),
    )


def read_linkage(path: str | Path, *, label: str) -> Linkage:
    """Read GLOBEM's overlapping-pids JSON or a person map (CSV or JSON); see the module docstring."""
    p = Path(path)
    if not p.is_file():
        raise DataError(
            f"linkage file {p} does not exist; give GLOBEM's overlapping_pids.json or a person map"
        )
    try:
        if p.suffix.lower() == ".json":
            return _from_json(json.loads(p.read_text(encoding="utf-8")), p, label)
        table = pd.read_csv(p, dtype=str, keep_default_na=False)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(
            f"linkage file {p} could not be read ({first_line(exc)}); give an intact file"
        ) from None
    cols = {str(c).strip().lower(): c for c in table.columns}
    if "person" not in cols or "pid" not in cols:
        raise DataError(f"person map {p} needs columns person,pid[,institute]; got {list(table.columns)[:5]}")
    pids = table[cols["pid"]].astype(str).str.strip()
    if "institute" in cols:
        pids = pids + "#" + table[cols["institute"]].astype(str).str.strip()
    person = {_check_key(k, p): str(v).strip() for k, v in zip(pids, table[cols["person"]], strict=True)}
    return _person_linkage(person, str(p))


def _attribute_value(value: Any) -> str:
    text = str(value).strip()
    return MISSING if text.lower() in _MISSING_TOKENS else text


def globem_attributes(table: pd.DataFrame, *, age_threshold: float = 25) -> pd.DataFrame:
    """Per-participant attributes (index = PID) from a demographics table (any header case).

    Columns present among gender, race, disability, generation, age. ``gender`` maps whole-word
    male/man/m and female/woman/f (case-insensitive; 'female' never matches 'male') to Male/Female and
    keeps other answers; ``age`` is "<T"/">=T" for numbers, kept as written otherwise.
    """
    lower = {str(c).strip().lower(): c for c in table.columns}
    if "pid" not in lower:
        raise DataError(
            f"demographics have no PID column (got {list(table.columns)[:8]}); give the GLOBEM "
            "demographics CSV (PID, gender, age, race, generation, disability)"
        )
    out = pd.DataFrame(index=pd.Index(table[lower["pid"]].astype(str).str.strip(), name="pid"))
    if "gender" in lower:
        genders = [_attribute_value(v) for v in table[lower["gender"]]]
        out["gender"] = [_GENDERS.get(g.lower(), g) for g in genders]
    for name in ("race", "disability", "generation"):
        if name in lower:
            out[name] = [_attribute_value(v) for v in table[lower[name]]]
    if "age" in lower:
        groups = []
        label = f"{age_threshold:g}"
        for v in table[lower["age"]]:
            text = _attribute_value(v)
            try:
                groups.append(f">={label}" if float(text) >= age_threshold else f"<{label}")
            except ValueError:
                groups.append(text)
        out["age"] = groups
    return out


def read_demographics(path: Path, *, age_threshold: float) -> tuple[pd.DataFrame, int]:
    """Attributes per PID of one demographics CSV (first row kept per PID) and the duplicate count."""
    if not path.is_file():
        raise DataError(f"demographics file {path} does not exist; give the GLOBEM demographics CSV")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(
            f"demographics file {path} could not be read ({first_line(exc)}); give an intact CSV"
        ) from None
    per_pid = globem_attributes(table, age_threshold=age_threshold)
    n_dup = int(per_pid.index.duplicated().sum())
    return per_pid[~per_pid.index.duplicated(keep="first")], n_dup
