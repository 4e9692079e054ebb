"""The results store: one SQLite file per run folder (``<run_dir>/results.sqlite``), the source of truth
for which runs are pending, running, done or failed.

Tables::

    runs(run_id PK, kind, seed, setup, variant, depends_on, spec JSON, status, attempts, error,
         started_at, finished_at, seconds, worker)
    metrics(run_id, name, value)        run-level summaries (epochs, best epoch, val AUROC, ...)

``status`` moves pending -> running -> done | failed (and back to pending on resume). Every change is
one transaction, so a crash (even SIGKILL) leaves each record either before or after the change, never
half-written. The file is in WAL mode: ``fairssl status`` can read while a study writes. One process
writes at a time: :func:`lock_run_dir` holds an exclusive lock on the run folder for the whole study.
Artifacts live beside it in ``runs/<run_id>/`` (published by a rename, see the runner).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fairssl.errors import RunError

if TYPE_CHECKING:
    from fairssl.experiments.grid import RunSpec

STORE_NAME = "results.sqlite"
STATUSES = ("pending", "running", "done", "failed")
SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('pretrain', 'finetune')),
    seed        INTEGER NOT NULL,
    setup       TEXT,
    variant     TEXT NOT NULL,
    depends_on  TEXT,
    spec        TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'running', 'done', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    started_at  REAL,
    finished_at REAL,
    seconds     REAL,
    worker      TEXT
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    name   TEXT NOT NULL,
    value  REAL,
    PRIMARY KEY (run_id, name)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


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


@dataclass(frozen=True)
class RunRecord:
    """One row of ``runs``."""

    run_id: str
    kind: str
    seed: int
    setup: str | None
    variant: str
    depends_on: str | None
    spec: dict[str, Any]
    status: str
    attempts: int
    error: str | None
    started_at: float | None
    finished_at: float | None
    seconds: float | None
    worker: str | None

    @property
    def interrupted(self) -> bool:
        """A ``running`` row whose worker process is gone (on this host)."""
        return self.status == "running" and worker_alive(self.worker) is False

    @property
    def label(self) -> str:
        what = "pretrain" if self.kind == "pretrain" else f"setup {self.setup}"
        return f"{self.run_id} ({what}, seed {self.seed}, variant {self.variant})"


_COLUMNS = (
    "run_id, kind, seed, setup, variant, depends_on, spec, status, attempts, error, "
    "started_at, finished_at, seconds, worker"
)


class Store:
    """Read and change run records; every change is a single transaction.

    ``Store(path)`` creates the file and tables if needed; ``Store(path, readonly=True)`` never writes
    (and raises :class:`RunError` if the file does not exist).
    """

    def __init__(self, path: str | Path, *, readonly: bool = False, timeout: float = 30.0) -> None:
        self.path = Path(path)
        if readonly:
            if not self.path.is_file():
                raise RunError(f"no results store at {self.path}; run `fairssl run` first")
            self._conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=timeout)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                _create(self.path)
            self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a killed process loses nothing
            with self._transaction() as cur:
                _create_schema(cur)
        self._conn.execute("PRAGMA foreign_keys=ON")

    # ------------------------------------------------------------------ plumbing
    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        """BEGIN IMMEDIATE ... COMMIT; ROLLBACK on any error (a killed process never commits)."""
        cur = self._conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reads
    def records(self) -> list[RunRecord]:
        """Every run, in insertion order."""
        rows = self._conn.execute(f"SELECT {_COLUMNS} FROM runs ORDER BY rowid").fetchall()
        return [_record(row) for row in rows]

    def get(self, run_id: str) -> RunRecord | None:
        row = self._conn.execute(f"SELECT {_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else _record(row)

    def metrics(self, run_id: str) -> dict[str, float]:
        rows = self._conn.execute("SELECT name, value FROM metrics WHERE run_id = ?", (run_id,)).fetchall()
        return {name: value for name, value in rows}

    def counts(self) -> dict[str, int]:
        """``status -> number of runs`` (every status present, 0 when none)."""
        rows = self._conn.execute("SELECT status, COUNT(*) FROM runs GROUP BY status").fetchall()
        out = dict.fromkeys(STATUSES, 0)
        out.update({status: n for status, n in rows})
        return out

    # ------------------------------------------------------------------ changes
    def add_runs(self, specs: Iterable[RunSpec]) -> int:
        """Insert the runs not yet in the store as ``pending``; returns how many were new."""
        rows = [
            (
                s.run_id,
                s.kind,
                s.seed,
                s.setup,
                s.variant,
                s.depends_on,
                json.dumps(s.to_dict(), sort_keys=True, default=str),
            )
            for s in specs
        ]
        with self._transaction() as cur:
            before = cur.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
            cur.executemany(
                "INSERT OR IGNORE INTO runs (run_id, kind, seed, setup, variant, depends_on, spec) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            after = cur.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        return int(after - before)

    def mark_running(self, run_id: str, *, worker: str | None = None) -> None:
        """pending/failed -> running: one more attempt, started now, by ``worker`` (this process)."""
        with self._transaction() as cur:
            cur.execute(
                "UPDATE runs SET status = 'running', attempts = attempts + 1, error = NULL, "
                "started_at = ?, finished_at = NULL, seconds = NULL, worker = ? WHERE run_id = ?",
                (time.time(), worker or worker_id(), run_id),
            )
            _one(cur, run_id)

    def mark_done(
        self,
        run_id: str,
        *,
        seconds: float | None = None,
        metrics: Mapping[str, float] | None = None,
        worker: str | None = None,
        finished_at: float | None = None,
    ) -> None:
        """-> done, with its run-level metrics (replacing any earlier ones), in one transaction."""
        with self._transaction() as cur:
            cur.execute(
                "UPDATE runs SET status = 'done', error = NULL, finished_at = ?, seconds = ?, "
                "worker = COALESCE(?, worker) WHERE run_id = ?",
                (finished_at if finished_at is not None else time.time(), seconds, worker, run_id),
            )
            _one(cur, run_id)
            cur.execute("DELETE FROM metrics WHERE run_id = ?", (run_id,))
            cur.executemany(
                "INSERT INTO metrics (run_id, name, value) VALUES (?, ?, ?)",
                ((run_id, name, float(value)) for name, value in (metrics or {}).items()),
            )

    def mark_failed(self, run_id: str, error: str) -> None:
        """-> failed with a one-line ``error`` (the next study invocation retries it)."""
        line = " ".join(str(error).split()) or "unknown error"
        with self._transaction() as cur:
            cur.execute(
                "UPDATE runs SET status = 'failed', error = ?, finished_at = ? WHERE run_id = ?",
                (line, time.time(), run_id),
            )
            _one(cur, run_id)

    def mark_pending(self, run_ids: Iterable[str]) -> None:
        """-> pending (an interrupted, failed or artifact-less run to redo); metrics are dropped."""
        ids = [(r,) for r in run_ids]
        with self._transaction() as cur:
            cur.executemany(
                "UPDATE runs SET status = 'pending', finished_at = NULL, seconds = NULL WHERE run_id = ?", ids
            )
            cur.executemany("DELETE FROM metrics WHERE run_id = ?", ids)


def _create_schema(cur: sqlite3.Cursor) -> None:
    for statement in _SCHEMA.strip().split(";"):
        if statement.strip():
            cur.execute(statement)
    cur.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))


def _create(path: Path) -> None:
    """Create the file complete (WAL mode, tables) beside ``path``, then link it into place: a reader
    (``fairssl status``) never sees a file without its tables, and a file already there is kept."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        cur = conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        _create_schema(cur)
        cur.execute("COMMIT")
    finally:
        conn.close()  # the last connection: the WAL is checkpointed into the file and removed
    try:
        os.link(tmp, path)  # atomic, and never replaces an existing store
    except FileExistsError:
        pass
    except OSError:  # a file system without hard links
        if not path.exists():
            os.replace(tmp, path)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
            leftover.unlink(missing_ok=True)


def _one(cur: sqlite3.Cursor, run_id: str) -> None:
    if cur.rowcount != 1:
        raise RunError(f"run {run_id} is not in the results store; re-run `fairssl run` to register it")


def _record(row: tuple[Any, ...]) -> RunRecord:
    values = list(row)
    values[6] = json.loads(values[6])
    return RunRecord(*values)


@contextlib.contextmanager
def lock_run_dir(run_dir: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on a run folder (``.lock``) for one study process; released on exit or death.

    A second ``fairssl run`` on the same folder fails at once with :class:`RunError` instead of racing.
    """
    path = Path(run_dir) / ".lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no cross-process lock
        yield
        return
    with path.open("a+") as fh:
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
