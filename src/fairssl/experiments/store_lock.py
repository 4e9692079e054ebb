"""Who runs a study: this process's ``host:pid`` worker id, whether a recorded worker still lives, and the
exclusive lock on a run folder that lets one study process write its results store at a time.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from fairssl.errors import RunError


def worker_id() -> str:
    """``host:pid`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_alive(worker: str | None) -> bool | None:
    """Whether the process ``host:pid`` lives: True/False on this host, None when it is another host's."""
    if not worker or ":" not in worker:
        return False
    host, _, pid_text = worker.rpartition(":")
    if host != socket.gethostname():
        return None
    try:
        pid = int(pid_text)
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


@contextlib.contextmanager
def lock_run_dir(run_dir: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on a run folder (``.lock``) for one study process; released on exit or death.

    A second ``fairssl run`` on the same folder fails at once with :class:`RunError` instead of racing.
    """
    path = Path(run_dir) / ".lock"
    path.parent.mkdir(parents=True, exist_ok=True)  # an OSError is the CLI's one line on OS errors
    fh = path.open("a+")
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no cross-process lock
        with fh:
            yield
        return
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            owner = fh.read().strip() or "another process"
            raise RunError(
                f"run folder {run_dir} is in use by {owner}; wait for it to finish "
                "(see `fairssl status`) or use another --out folder"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"`fairssl run` (worker {worker_id()})")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
