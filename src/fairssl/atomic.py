"""Atomic file writes: a reader (or a resumed study) sees the old file or the new one, never half of one.

Every writer follows the same steps: write a temporary file in the target's folder
(``.<name>.<random>.tmp<suffix>``, so it is on the same file system and keeps the suffix libraries look
at), flush and ``fsync`` it, ``os.replace`` it over the target (atomic on POSIX and Windows), then
``fsync`` the folder so the rename survives a power cut. If anything fails on the way (an exception in
the writer, a full disk, a kill), the target is untouched and the temporary file is removed (a SIGKILL
can leave a ``.*.tmp*`` file behind; it is never read).

Binary writers hand the library an open file object, not the temporary path: ``torch.save`` names the
archive inside the file after the path, so writing through a handle keeps the bytes identical from run
to run.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@contextlib.contextmanager
def atomic_file(path: str | Path, *, durable: bool = True) -> Iterator[IO[bytes]]:
    """Open a temporary binary file beside ``path``; on a clean exit it replaces ``path``.

    The temporary file is created with mode 0o666 minus the umask (like a plain ``open``), not 0o600.
    ``durable=False`` skips the two fsyncs (file and folder): readers still never see half a file, but a
    power cut may lose the latest version. For live, transient files (a run's progress) only.
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp{target.suffix}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if durable:
        _fsync_dir(target.parent)


def _fsync_dir(folder: Path) -> None:
    """Persist a rename in ``folder`` (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes_atomic(path: str | Path, data: bytes, *, durable: bool = True) -> None:
    with atomic_file(path, durable=durable) as fh:
        fh.write(data)


def write_text_atomic(path: str | Path, text: str, *, encoding: str = "utf-8", durable: bool = True) -> None:
    write_bytes_atomic(path, text.encode(encoding), durable=durable)


def write_json_atomic(path: str | Path, obj: Any, *, indent: int | None = 2, durable: bool = True) -> None:
    """``obj`` as JSON (``default=str`` for paths, dates and the like)."""
    write_text_atomic(path, json.dumps(obj, indent=indent, default=str), durable=durable)


def write_csv_atomic(frame: pd.DataFrame, path: str | Path, *, index: bool = False, **kwargs: Any) -> None:
    """``frame.to_csv(path, index=index, **kwargs)``, atomically (UTF-8)."""
    text = frame.to_csv(index=index, **kwargs)
    write_text_atomic(path, text if text is not None else "")


def write_parquet_atomic(frame: pd.DataFrame, path: str | Path, *, index: bool = False) -> None:
    """``frame.to_parquet(path, index=index)``, atomically."""
    with atomic_file(path) as fh:
        frame.to_parquet(fh, index=index)


def write_table_atomic(frame: pd.DataFrame, path: str | Path) -> None:
    """A results table, parquet when ``path`` ends in ``.parquet``, else CSV (no index)."""
    if Path(path).suffix == ".parquet":
        write_parquet_atomic(frame, path)
    else:
        write_csv_atomic(frame, path)


def save_npz_atomic(path: str | Path, **arrays: np.ndarray) -> None:
    """``np.savez(path, **arrays)`` (uncompressed), atomically."""
    import numpy as np

    with atomic_file(path) as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]


def torch_save_atomic(obj: Any, path: str | Path) -> None:
    """``torch.save(obj, path)``, atomically; the same ``obj`` always gives the same bytes."""
    import torch

    with atomic_file(path) as fh:
        torch.save(obj, fh)


def write_with_atomic(path: str | Path, write: Callable[[IO[bytes]], None]) -> None:
    """Any writer that takes a binary file object, atomically."""
    with atomic_file(path) as fh:
        write(fh)


__all__ = [
    "atomic_file",
    "save_npz_atomic",
    "torch_save_atomic",
    "write_bytes_atomic",
    "write_csv_atomic",
    "write_json_atomic",
    "write_parquet_atomic",
    "write_table_atomic",
    "write_text_atomic",
    "write_with_atomic",
]
