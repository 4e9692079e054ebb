"""Reading the user's files: tables (CSV/TSV/parquet) and window archives (.npz), with one-line errors.

A file's format is told by its first bytes (its *magic*), not only by its name: a parquet file named
``.csv`` is read as parquet, a gzip file named ``.csv`` is decompressed, and a CSV given where windows
(.npz) are expected is named as a CSV. Every failure is one :class:`~fairssl.errors.DataError` that says
what is wrong with which path: not found, a folder, empty, permission denied, truncated or corrupt.
"""

from __future__ import annotations

import csv
import errno
import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from fairssl.errors import DataError

_MAGIC = {b"PAR1": "parquet", b"PK\x03\x04": "zip", b"\x93NUMPY": "npy", b"\x1f\x8b": "gzip"}
_TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")


def require_file(path: str | Path) -> Path:
    """``path`` as a Path; a one-line :class:`DataError` if it does not exist."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"file not found: {p}; check the path")
    return p


def permission_denied(p: Path) -> DataError:
    """The one-line error for a file the user may not read."""
    return DataError(
        f"permission denied reading {p}; make it readable (chmod u+r) or copy it somewhere readable"
    )


def _is_permission(exc: BaseException) -> bool:
    return (
        isinstance(exc, PermissionError)
        or getattr(exc, "errno", None) == errno.EACCES
        or ("Permission denied" in str(exc))
    )


def file_kind(p: Path) -> str:
    """``"parquet"``, ``"zip"`` (.npz), ``"npy"``, ``"gzip"``, ``"empty"``, ``"text"`` or ``"binary"``,
    from the first bytes of the file."""
    try:
        with p.open("rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        if _is_permission(exc):
            raise permission_denied(p) from exc
        raise DataError(f"cannot read {p} ({exc.strerror or exc}); check the path") from exc
    if not head:
        return "empty"
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    return "binary" if b"\x00" in head else "text"


def _check_csv_complete(path: Path) -> None:
    """Raise if the file's last line was cut mid-row (no final newline and fewer fields than the header)."""
    with path.open("rb") as fh:
        header = fh.readline()
        fh.seek(0, io.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 65536))
        tail = fh.read()
    if tail.endswith(b"\n"):
        return
    last = tail.rsplit(b"\n", 1)[-1]
    n_header = len(next(csv.reader([header.decode("utf-8", "replace")]), []))
    n_last = len(next(csv.reader([last.decode("utf-8", "replace")]), []))
    if n_last < n_header:
        raise DataError(
            f"{path} is truncated: its last line has {n_last} of {n_header} fields and no line end; "
            "re-export or re-download the file"
        )


def _read_by_kind(p: Path, kind: str, suffixes: str) -> pd.DataFrame | None:
    """The table in ``p`` read by its magic bytes and name; None for a format that is not a table."""
    if kind == "parquet":
        return pd.read_parquet(p)  # whatever its name says (a parquet file named .csv is read as parquet)
    if not (".csv" in suffixes or ".tsv" in suffixes):
        return None
    sep = "\t" if ".tsv" in suffixes else ","
    if kind == "gzip":
        return pd.read_csv(p, sep=sep, compression="gzip", low_memory=False)
    if kind == "text":
        _check_csv_complete(p)
        return pd.read_csv(p, sep=sep, compression=None, low_memory=False)
    return pd.read_csv(p, sep=sep, low_memory=False)  # other compressions, inferred from the name


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV/TSV (optionally compressed) or parquet table; missing, unreadable, empty, cut or corrupt
    files raise a one-line :class:`DataError`. Parquet is recognised by its magic bytes whatever its name."""
    p = require_file(path)
    if p.is_dir():
        raise DataError(f"{p} is a folder, expected a .csv or .parquet file")
    suffixes = "".join(p.suffixes).lower()
    kind = file_kind(p)
    if kind == "empty":
        raise DataError(f"{p} is empty (0 bytes); re-export the table")
    if kind in ("zip", "npy") and not suffixes.endswith(_TABLE_SUFFIXES):
        raise DataError(f"{p} is a numpy file (.npz/.npy), not a table; use source 'arrays' for windows")
    try:
        table = _read_by_kind(p, kind, suffixes)
    except DataError:
        raise
    except (OSError, ValueError, EOFError, UnicodeDecodeError) as exc:
        if _is_permission(exc):
            raise permission_denied(p) from exc
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{p} is truncated or corrupt ({reason}); re-export or re-download it") from exc
    if table is None:
        raise DataError(f"unsupported table format {p.name!r}; use .csv, .csv.gz, .tsv or .parquet")
    return table


def _not_npz(p: Path, kind: str) -> DataError:
    if kind == "text":
        return DataError(
            f"{p} is a CSV/text table, not an .npz of windows; use source 'long' for a long table (one row "
            "per subject and time step), or save windows with numpy.savez(path, X=X, y=y)"
        )
    if kind == "parquet":
        return DataError(
            f"{p} is a parquet table, not an .npz of windows; use source 'long' for a long table, or save "
            "windows with numpy.savez(path, X=X, y=y)"
        )
    if kind == "npy":
        return DataError(
            f"{p} is a single .npy array; put it as X.npy in a folder with a metadata table "
            "(y, subject, ...) or save X and y together with numpy.savez"
        )
    if kind == "empty":
        return DataError(f"{p} is truncated or corrupt (0 bytes); re-create the .npz")
    return DataError(f"{p} is not an .npz archive (unknown format); save the windows with numpy.savez")


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` archive, by key; never unpickles (object arrays are an error)."""
    kind = file_kind(path)
    if kind != "zip":
        raise _not_npz(path, kind)
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {k: archive[k] for k in archive.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise DataError(
                f"{path} holds object arrays, which are not loaded for safety; save ids and attributes "
                "as strings (array.astype(str)) and NaN-free"
            ) from exc
        raise DataError(f"{path} is truncated or corrupt ({exc}); re-create the .npz") from exc
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        if _is_permission(exc):
            raise permission_denied(path) from exc
        reason = str(exc) or type(exc).__name__
        raise DataError(f"{path} is truncated or corrupt ({reason}); re-create the .npz") from exc


def load_npy(path: Path) -> np.ndarray:
    """A memory-mapped (read-only) ``.npy`` array; unreadable or corrupt files raise one line."""
    try:
        return np.load(path, mmap_mode="r")
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        if _is_permission(exc):
            raise permission_denied(path) from exc
        raise DataError(f"{path} is truncated or corrupt ({exc}); re-create it") from exc


__all__ = ["file_kind", "load_npy", "permission_denied", "read_npz", "read_table", "require_file"]
