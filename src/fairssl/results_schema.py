"""The tables of a run folder's ``results/``, declared once: names, files, columns and their types.

Every table the analysis writes is a :class:`Table` in :data:`TABLES` (name -> declaration); it is
written only through :func:`write_result` and read only through :func:`read_result`:

- **writing** checks the frame against its declaration: a missing required column, or a value that
  cannot be cast to its column's type, is a :class:`~fairssl.errors.RunError` (an internal error: the
  analysis produced a table it did not declare) naming the table and the column; a column the
  declaration does not know is an :class:`UndeclaredColumnWarning` at run time (the table is still
  written) and an error in :func:`check_result` (``strict=True``), which the tests apply to a finished
  study so a new column cannot ship undeclared. The file is replaced atomically.
- **reading** returns a frame typed by the declaration: ``str`` columns as text with missing values as
  ``""`` (a CSV round trip would turn setup ``0`` or group ``1`` into numbers), ``int``/``float`` as
  numbers (an ``int`` column with missing values reads as float), ``bool`` as booleans. An absent or
  empty file reads as an empty frame with the declared columns; a stored table that lacks a required
  column is a one-line :class:`~fairssl.errors.DataError` naming the file and the fix (re-analyse).

Every table may carry a leading ``variant`` column (a grid study's stacked tables; a study with
replicates names its grid point). The declarations list the columns any configuration writes, so many
are optional: ``results`` has ``value``/``n``/``n_pos`` without the bootstrap (``evaluation.n_boot =
0``) and ``kind``/``n_valid`` with it. Importing this module loads neither pandas nor torch.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from fairssl.errors import DataError, RunError

if TYPE_CHECKING:
    import pandas as pd

Dtype = Literal["str", "int", "float", "bool"]
DTYPES: tuple[Dtype, ...] = ("str", "int", "float", "bool")


class UndeclaredColumnWarning(UserWarning):
    """A results table was written with a column its declaration (:data:`TABLES`) does not list."""


@dataclass(frozen=True)
class Column:
    """One column of a results table: its name, type and whether every writer must give it."""

    name: str
    dtype: Dtype
    required: bool = False


@dataclass(frozen=True)
class Table:
    """One results table: ``name`` (the key of :data:`TABLES`), its ``files`` in ``results/`` (the
    first is the one read; ``results`` is stored as parquet and CSV), a one-line ``description`` and its
    ``columns`` in the order they are written."""

    name: str
    description: str
    columns: tuple[Column, ...]
    files: tuple[str, ...]

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def dtype(self, column: str) -> Dtype | None:
        """The declared type of ``column`` (None: undeclared)."""
        return next((c.dtype for c in self.columns if c.name == column), None)


VARIANT = Column("variant", "str")
"""The leading column of stacked (grid) and pooled (replicates) tables; every table may have it."""


def _table(name: str, description: str, spec: str, *, files: tuple[str, ...] = ()) -> Table:
    """A declaration from ``spec``: whitespace-separated ``column:dtype`` items, ``!`` after the dtype
    marks a required column (``"setup:str! seed:int auroc:float"``)."""
    columns = [VARIANT]
    for item in spec.split():
        column, _, dtype = item.partition(":")
        required = dtype.endswith("!")
        dtype = dtype.rstrip("!")
        if dtype not in DTYPES:
            raise ValueError(f"column {column!r} of table {name!r} has unknown dtype {dtype!r}")
        columns.append(Column(column, cast(Dtype, dtype), required))
    return Table(name, description, tuple(columns), files or (f"{name}.csv",))


_SETUPS = (
    "setup:str! quantity:str! n_seeds:int estimate:float! bias:float estimate_bc:float se:float "
    "se_test:float sd_seeds:float df:float ci_low:float ci_high:float sources:str not_covered:str "
    "replicates:int"
)
_CHANGES = (
    "setup:str! baseline:str! quantity:str! baseline_estimate:float p_value:float in_family:bool "
    "sources:str not_covered:str p_adjusted:float level:float estimate:float! bias:float "
    "estimate_bc:float se:float se_test:float sd_seeds:float df:float ci_low:float ci_high:float "
    "n_pairs:float relative:float relative_low:float relative_high:float verdict:str reason:str mde:float "
    "mde_relative:float target:float seeds_needed:float seeds_reason:str replicates:int"
)
_INTERVAL = "{p}:float {p}_low:float {p}_high:float"
_COMPARISON = " ".join(
    [
        "setup:str! kind:str n_seeds:int auroc:float! auroc_low:float auroc_high:float",
        "parity_deviation:float! pd_low:float pd_high:float sources:str not_covered:str n_pairs:float",
        _INTERVAL.format(p="auroc_change"),
        "auroc_change_level:float auroc_change_p:float auroc_verdict:str",
        _INTERVAL.format(p="pd_change"),
        "pd_change_level:float pd_change_p:float",
        _INTERVAL.format(p="improvement"),
        "verdict:str verdict_reason:str mde_relative:float target_relative:float seeds_needed:float",
        "seeds_reason:str control:str",
        _INTERVAL.format(p="control_pd_change"),
        _INTERVAL.format(p="control_improvement"),
        "control_verdict:str control_mde_relative:float",
        _INTERVAL.format(p="control_auroc_change"),
        "matched_auroc:float",
        _INTERVAL.format(p="matched_pd_change"),
        _INTERVAL.format(p="matched_improvement"),
        "matched_verdict:str family_size:int correction:str alpha:float power:float replicates:int",
        "checkpoint_epochs:str checkpoint_val_auroc_ssl:float checkpoint_val_auroc:float",
        "checkpoint_auroc:float",
        _INTERVAL.format(p="checkpoint_auroc_change"),
        _INTERVAL.format(p="checkpoint_pd_change"),
        _INTERVAL.format(p="checkpoint_improvement"),
        "checkpoint_verdict:str",
    ]
)

_DECLARED = [
    _table(
        "results",
        "one row per run x label x attribute x group x metric: estimate, bootstrap interval, reason code",
        "run_id:str! setup:str! seed:int! label:str kind:str attribute:str! group:str! "
        "reference_group:str n_group:int n_reference:int n:int n_pos:int metric:str! value:float "
        "estimate:float! ci_low:float ci_high:float n_valid:int reason:str",
        files=("results.parquet", "results.csv"),
    ),
    _table(
        "summary",
        "one row per fine-tuning run: AUROC, parity deviation (test-sampling intervals), improvement",
        "run_id:str setup:str! seed:int! auroc:float! auroc_low:float auroc_high:float "
        "parity_deviation:float! pd_low:float pd_high:float improvement:float",
    ),
    _table("setups", "one row per setup x quantity over seeds and test subjects", _SETUPS),
    _table("changes", "every paired change: setup x baseline x quantity, tests, verdict, power", _CHANGES),
    _table(
        "comparison", "one row per setup: intervals, changes, verdicts (what the report prints)", _COMPARISON
    ),
    _table(
        "accuracy_curve",
        "the supervised models' group-blind accuracy-fairness curve (scores degraded towards noise)",
        "kind:str! seed:int lambda:float epoch:float auroc:float! parity_deviation:float!",
    ),
    _table(
        "checkpoint_match",
        "per SSL run: the supervised epoch whose validation AUROC is closest to its own",
        "setup:str! seed:int! epoch:int! val_auroc_ssl:float val_auroc_checkpoint:float "
        "test_auroc_checkpoint:float",
    ),
    _table(
        "label_amplification",
        "per setup x group: clean-label, recorded-label and model disparity",
        "setup:str! attribute:str! group:str! reference_group:str clean:float recorded:float model:float "
        "label_bias:float amplification:float n_seeds:int",
    ),
    _table(
        "pool",
        "per pre-training run x attribute x group: the pool's windows and share",
        "run_id:str seed:int! attribute:str! group:str! windows:int share:float!",
    ),
    _table(
        "cka",
        "linear CKA per setup x seed x layer pair, SSL model vs its supervised baseline",
        "layer_a:str! layer_b:str! cka:float! setup:str! seed:int",
    ),
    _table(
        "cka_conditioned",
        "CKA on one group's windows per setup x attribute x group x layer pair, with a permutation band",
        "attribute:str! group:str! layer_a:str layer_b:str n:int n_draws:int cka_mean:float! cka_std:float "
        "ci_low:float ci_high:float perm_mean:float perm_low:float perm_high:float perm_diff_bound:float "
        "setup:str seed:int",
    ),
    _table(
        "cka_best_worst",
        "best- vs worst-served group CKA per setup x attribute x layer pair",
        "attribute:str! best_group:str worst_group:str perf_best:float perf_worst:float perf_gap:float "
        "layer_a:str! layer_b:str! cka_best:float cka_worst:float diff:float perm_diff_bound:float "
        "exceeds:bool setup:str! seed:int",
    ),
    _table(
        "cka_ratio",
        "the dissimilarity ratio per setup x seed x attribute, with its permutation null",
        "attribute:str! best_group:str worst_group:str perf_gap:float dissimilarity:float "
        "n_layer_pairs:int n_exceeding:int setup:str! seed:int ratio:float spearman:float ratio_p:float "
        "ratio_null_median:float ratio_null_q95:float ratio_n_permutations:int setup_ratio:float "
        "setup_ratio_null_median:float setup_ratio_null_q95:float setup_ratio_p:float "
        "setup_ratio_p_holm:float setup_ratio_n_permutations:int setup_ratio_n_seeds:int",
    ),
    _table(
        "cka_ratio_null",
        "every permutation draw of the dissimilarity ratio's null",
        "setup:str! seed:int! perm_draw:int! ratio:float!",
    ),
    _table(
        "probes_demographic",
        "linear probes of each protected attribute per run x layer",
        "layer:str! attribute:str! n:int n_subjects:int n_groups:int metric:str! estimate:float! "
        "ci_low:float ci_high:float chance:float above_chance:bool p_value:float run_id:str setup:str! "
        "seed:int",
    ),
    _table(
        "probes_task",
        "per-group task probes per run x layer x attribute x group",
        "layer:str! attribute:str! group:str! n:int n_subjects:int n_pos:int metric:str! estimate:float! "
        "ci_low:float ci_high:float reference:float above_reference:bool run_id:str setup:str! seed:int",
    ),
    _table(
        "probes_cka_relation",
        "per run: rank correlation of the task-probe gap with the best-worst CKA difference",
        "run_id:str setup:str! seed:int spearman:float! p_value:float n:int caveat:str",
    ),
    _table(
        "unavailable",
        "what the analysis could not compute: stage, setup, attribute, group, quantity, reason, detail",
        "stage:str! setup:str attribute:str group:str quantity:str reason:str! detail:str",
    ),
    _table("replicate_setups", "each replicate's setups table, stacked (studies with replicates)", _SETUPS),
    _table("replicate_changes", "each replicate's changes table, stacked", _CHANGES),
    _table("replicate_comparison", "each replicate's comparison table, stacked", _COMPARISON),
]

TABLES: dict[str, Table] = {t.name: t for t in _DECLARED}
"""Every results table, by name, in the order the analysis writes them."""


def table_for_file(filename: str) -> Table | None:
    """The declaration stored as ``filename`` (``"summary.csv"``, ``"results.parquet"``), or None."""
    return next((t for t in TABLES.values() if filename in t.files), None)


def _declaration(name: str) -> Table:
    try:
        return TABLES[name]
    except KeyError:
        raise RunError(f"results table {name!r} is not declared in fairssl.results_schema") from None


# ---------------------------------------------------------------------------------------------- typing
def _cast(frame: pd.DataFrame, table: Table, column: str, dtype: Dtype, *, where: str) -> None:
    """Cast ``frame[column]`` in place to ``dtype``; ValueError (naming the column) when it cannot be."""
    import numpy as np
    import pandas as pd

    def bad(value: object, kind: str) -> ValueError:
        return ValueError(f"{where}: column {column!r} of table {table.name!r} holds {value!r}, not {kind}")

    values = frame[column]
    if dtype == "str":
        text = values.astype(object)
        frame[column] = text.where(text.notna(), "").astype(str)
    elif dtype == "bool" and values.dtype != bool:
        mapping: dict[Any, Any] = {"True": True, "False": False, "true": True, "false": False}
        mapping |= {True: True, False: False, "": np.nan}
        mapped = values.map(lambda v: v if v is None or v != v else mapping.get(v, "?")).astype(object)
        if (mapped == "?").any():
            raise bad(values[mapped == "?"].iloc[0], "a boolean")
        frame[column] = mapped.astype(bool) if mapped.notna().all() else mapped
    elif dtype in ("int", "float"):
        numbers = pd.to_numeric(values, errors="coerce").astype(np.float64)
        text = values[numbers.isna() & values.notna()]
        if len(text):
            raise bad(text.iloc[0], "a number")
        whole = numbers[numbers.notna()].to_numpy()
        fractional = whole[~(np.isfinite(whole) & (whole == np.round(whole)))]
        if dtype == "int" and len(fractional):
            raise bad(float(fractional[0]), "an integer")
        frame[column] = numbers.astype(np.int64) if dtype == "int" and numbers.notna().all() else numbers


def _typed(frame: pd.DataFrame, table: Table, *, where: str) -> pd.DataFrame:
    """A copy of ``frame`` with every declared column cast to its type (ValueError when one cannot be)."""
    out = frame.copy()
    for column in out.columns:
        dtype = table.dtype(str(column))
        if dtype is not None:
            _cast(out, table, str(column), dtype, where=where)
    return out


def empty_result(name: str) -> pd.DataFrame:
    """No rows, every declared column of table ``name`` with its type."""
    import pandas as pd

    table = _declaration(name)
    kinds: dict[str, Any] = {"str": object, "int": "int64", "float": "float64", "bool": bool}
    return pd.DataFrame({c.name: pd.Series([], dtype=kinds[c.dtype]) for c in table.columns})


# ---------------------------------------------------------------------------------------------- checks
def validate_result(name: str, frame: pd.DataFrame, *, strict: bool = False) -> pd.DataFrame:
    """``frame`` checked against table ``name``'s declaration and typed by it.

    A frame without rows is always valid (its declared columns are added). Otherwise a missing required
    column or an uncastable value is a :class:`RunError` naming the table and the column; an undeclared
    column is a :class:`RunError` when ``strict``, else an :class:`UndeclaredColumnWarning`.
    """
    table = _declaration(name)
    if frame.empty:
        empty = empty_result(name)
        extra = [c for c in frame.columns if c not in empty.columns]
        return empty.join(frame[extra]) if extra else empty
    missing = [c for c in table.required if c not in frame.columns]
    if missing:
        raise RunError(
            f"results table {name!r} lacks required column {missing[0]!r} (columns: "
            f"{', '.join(map(str, frame.columns))}); this is a bug in fairssl, please report it"
        )
    unknown = [str(c) for c in frame.columns if table.dtype(str(c)) is None]
    if unknown:
        message = (
            f"results table {name!r} has undeclared column(s) {unknown}; declare them in "
            "fairssl.results_schema.TABLES"
        )
        if strict:
            raise RunError(message)
        warnings.warn(message, UndeclaredColumnWarning, stacklevel=3)
    try:
        return _typed(frame, table, where="writing")
    except ValueError as exc:
        raise RunError(f"{exc}; this is a bug in fairssl, please report it") from None


def check_result(folder: Path, name: str, *, strict: bool = True) -> pd.DataFrame:
    """Read table ``name`` from ``folder`` and check it as :func:`write_result` would (``strict``:
    undeclared columns are errors); returns the typed frame. For tests and ``fairssl`` maintainers."""
    frame = read_result(folder, name)
    return validate_result(name, frame, strict=strict)


# ---------------------------------------------------------------------------------------------- I/O
def write_result(folder: Path, name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Validate ``frame`` as table ``name`` (:func:`validate_result`) and write it atomically to each of
    the table's files in ``folder`` (no index); returns the frame as written."""
    from fairssl.atomic import write_table_atomic

    typed = validate_result(name, frame)
    folder.mkdir(parents=True, exist_ok=True)
    for filename in _declaration(name).files:
        write_table_atomic(typed, folder / filename)
    return typed


def read_result(folder: Path, name: str) -> pd.DataFrame:
    """Table ``name`` from ``folder`` typed by its declaration; an absent or empty file is an empty frame
    with the declared columns. A stored table lacking a required column, or holding a value its type
    cannot take, is a one-line :class:`DataError` naming the file and the fix (re-analyse)."""
    import pandas as pd

    table = _declaration(name)
    path = next((folder / f for f in table.files if (folder / f).is_file()), None)
    if path is None or path.stat().st_size <= 1:
        return empty_result(name)
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    else:
        text = [c.name for c in table.columns if c.dtype == "str"]
        try:
            frame = pd.read_csv(path, dtype=dict.fromkeys(text, str))
        except pd.errors.EmptyDataError:
            return empty_result(name)
    if frame.empty:
        return validate_result(name, frame)
    fix = f"recompute it with `fairssl analyse {folder.parent}` (no retraining)"
    missing = [c for c in table.required if c not in frame.columns]
    if missing:
        raise DataError(f"{path} lacks column {missing[0]!r} (written by another fairssl version?); {fix}")
    try:
        return _typed(frame, table, where=str(path))
    except ValueError as exc:
        raise DataError(f"{exc}; {fix}") from None


__all__ = [
    "TABLES",
    "Column",
    "Table",
    "UndeclaredColumnWarning",
    "check_result",
    "empty_result",
    "read_result",
    "table_for_file",
    "validate_result",
    "write_result",
]
