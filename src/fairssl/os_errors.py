"""One line for an operating-system problem the user's environment caused: what failed, which path,
why, and what to do (``cannot write: /mnt/ro/run/report.html: Read-only file system; ...``).

The CLI prints these with exit 2 (:mod:`fairssl.cli`); ``None`` means the error is not recognisably the
environment's (a bug), which the CLI reports as an internal error with a log.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

_ADVICE_WRITE = "give your user write access to it (or to its folder), or write somewhere else"
_OS_ERRORS: dict[int, tuple[str, str]] = {
    errno.EROFS: (
        "cannot write",
        "the file system is read-only: write somewhere else (fairssl run --out DIR), or copy the run "
        "folder to a writable place and run the command on the copy",
    ),
    errno.ENOSPC: (
        "cannot write",
        "the disk is full: free space or write somewhere else, then run the same command again "
        "(finished runs are kept)",
    ),
    errno.EDQUOT: (
        "cannot write",
        "your disk quota is used up: free space or write somewhere else, then run the same command again",
    ),
    errno.ENOTDIR: (
        "cannot use the path",
        "a part of it is a file, not a folder: choose another path or move that file",
    ),
    errno.EEXIST: (
        "cannot create",
        "a file is in the way where a folder is needed: choose another path or move that file",
    ),
    errno.ENOENT: ("not found", "check the path (a relative path starts from the current folder)"),
    errno.EISDIR: ("cannot open as a file", "give the path of a file, not of a folder"),
}


def _permission_error(path: str | None) -> tuple[str, str]:
    """What failed and what to do for EACCES/EPERM: reading an existing file, or writing."""
    if path is not None:
        p = Path(path)
        if p.is_file() and not os.access(p, os.R_OK):
            return "cannot read", "give your user read access to it (chmod u+r) or copy it somewhere readable"
        if p.is_dir() and not os.access(p, os.X_OK):
            return "cannot enter", "give your user access to the folder (chmod u+rx) or copy it elsewhere"
    return "cannot write", _ADVICE_WRITE


def os_error_line(exc: OSError) -> str | None:
    """``<what failed>: <path>: <reason>; <what to do>`` for an operating-system error the user's
    environment caused; None for one without a path and of a kind not listed (a bug, not the user's)."""
    code = exc.errno or 0
    path = exc.filename if exc.filename is None else str(os.fsdecode(exc.filename))
    if code in (errno.EACCES, errno.EPERM):
        what, advice = _permission_error(path)
    elif code in _OS_ERRORS:
        what, advice = _OS_ERRORS[code]
    elif path is not None:
        what, advice = "cannot access", "check the path and the file system, then run the same command again"
    else:
        return None
    reason = exc.strerror or (os.strerror(code) if code else type(exc).__name__)
    where = ""
    if path is not None:
        where = f"{path} -> {os.fsdecode(exc.filename2)}: " if exc.filename2 else f"{path}: "
    return f"{what}: {where}{reason}; {advice}"


_SQLITE_ERRORS = {
    "unable to open database file": ("cannot open", "check that you may read and write the run folder"),
    "attempt to write a readonly database": ("cannot write", _ADVICE_WRITE),
    "database or disk is full": ("cannot write", _OS_ERRORS[errno.ENOSPC][1]),
    "disk i/o error": ("cannot write", "check the disk and the file system, then run the same command again"),
}


def sqlite_error_line(exc: Exception, folder: Path | None = None) -> str | None:
    """One line for a results-store error the environment caused (unreadable, read-only, full disk);
    ``folder``: the run folder, when known."""
    if type(exc).__module__ != "sqlite3" or str(exc).lower() not in _SQLITE_ERRORS:
        return None
    what, advice = _SQLITE_ERRORS[str(exc).lower()]
    store = f"{folder / 'results.sqlite'}: " if folder is not None else "the results store: "
    return f"{what}: {store}{exc}; {advice}"


__all__ = ["os_error_line", "sqlite_error_line"]
