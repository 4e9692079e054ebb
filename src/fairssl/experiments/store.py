"""The results store: one SQLite file per run folder (``<run_dir>/results.sqlite``), the source of truth
for which runs are pending, running, done or failed.

Tables::

    runs(run_id PK, kind, seed, setup, variant, depends_on, spec JSON, status, attempts, error,
         started_at, finished_at, seconds, worker, threads)
    metrics(run_id, name, value)        run-level summaries (epochs, best epoch, val AUROC, ...)

``status`` moves pending -> running -> done | failed (and back to pending on resume). Every change is
one transaction, so a crash (even SIGKILL) leaves each record either before or after the change, never
half-written. The file is in WAL mode: ``fairssl status`` can read while a study writes. One process
writes at a time: :func:`lock_run_dir` holds an exclusive lock on the run folder for the whole study.
Artifacts live beside it in ``runs/<run_id>/`` (published by a rename, see the runner).

``threads`` is the torch thread count of the run's last attempt (part of its numerics, see
:mod:`fairssl.experiments.grid`). The store can always be rebuilt from the published runs:
:func:`open_store` moves a malformed file aside (``results.sqlite.damaged``) and starts a fresh one, and
the runner's resume adopts every intact published run into it (attempt counts and errors are lost).
A failing SQLite call (a full disk, a read-only folder) becomes one :class:`StoreError` line.

This module holds the records, the queries and the changes; the file format (tables, migrations,
creation, :class:`StoreError`) is :mod:`fairssl.experiments.store_schema`'s and the worker ids and the
run-folder lock are :mod:`fairssl.experiments.store_lock`'s (both re-exported here).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fairssl.errors import RunError
from fairssl.experiments.store_lock import lock_run_dir, worker_alive, worker_id
from fairssl.experiments.store_schema import (
    COLUMNS,
    OLD_COLUMNS,
    SCHEMA_VERSION,
    STATUSES,
    StoreError,
    create_schema,
    create_store_file,
    migrate,
    sqlite_problem,
)

if TYPE_CHECKING:
    from fairssl.experiments.grid import RunSpec

STORE_NAME = "results.sqlite"
DAMAGED_SUFFIX = ".damaged"


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
    threads: int | None = None

    @property
    def interrupted(self) -> bool:
        """A ``running`` row whose worker process is gone (on this host)."""
        return self.status == "running" and worker_alive(self.worker) is False

    @property
    def label(self) -> str:
        what = "pretrain" if self.kind == "pretrain" else f"setup {self.setup}"
        return f"{self.run_id} ({what}, seed {self.seed}, variant {self.variant})"


class Store:
    """Read and change run records; every change is a single transaction.

    ``Store(path)`` creates the file and tables if needed; ``Store(path, readonly=True)`` never writes
    (and raises :class:`RunError` if the file does not exist).
    """

    def __init__(self, path: str | Path, *, readonly: bool = False, timeout: float = 30.0) -> None:
        self.path = Path(path)
        if readonly and not self.path.is_file():
            raise RunError(f"no results store at {self.path}; run `fairssl run` first")
        try:
            self._conn = self._open(readonly, timeout)
        except sqlite3.Error as exc:
            raise sqlite_problem(self.path, exc, "read" if readonly else "open") from None

    def _open(self, readonly: bool, timeout: float) -> sqlite3.Connection:
        if readonly:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=timeout)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                create_store_file(self.path)
            conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        try:
            conn.execute("SELECT COUNT(*) FROM runs").fetchone()  # "file is not a database" shows here
            if not readonly:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a killed process loses nothing
                cur = conn.cursor()
                cur.execute("BEGIN IMMEDIATE")
                try:
                    create_schema(cur)
                    migrate(cur)
                except BaseException:
                    cur.execute("ROLLBACK")
                    raise
                cur.execute("COMMIT")
            columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
            self._columns = COLUMNS if "threads" in columns else OLD_COLUMNS
            conn.execute("PRAGMA foreign_keys=ON")
        except BaseException:
            conn.close()
            raise
        return conn

    # ------------------------------------------------------------------ plumbing
    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        """BEGIN IMMEDIATE ... COMMIT; ROLLBACK on any error (a killed process never commits).

        A failing SQLite call (disk full, read-only file) is raised as one :class:`StoreError` line; the
        transaction is rolled back, so the record stays as it was before the change."""
        cur = self._conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise
            with contextlib.suppress(sqlite3.Error):
                self._conn.rollback()
            raise sqlite_problem(self.path, exc, "write") from None
        except sqlite3.DatabaseError as exc:
            raise sqlite_problem(self.path, exc, "write") from None

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reads
    def records(self) -> list[RunRecord]:
        """Every run, in insertion order."""
        rows = self._read(f"SELECT {self._columns} FROM runs ORDER BY rowid")
        return [_record(row) for row in rows]

    def get(self, run_id: str) -> RunRecord | None:
        rows = self._read(f"SELECT {self._columns} FROM runs WHERE run_id = ?", (run_id,))
        return _record(rows[0]) if rows else None

    def metrics(self, run_id: str) -> dict[str, float]:
        rows = self._read("SELECT name, value FROM metrics WHERE run_id = ?", (run_id,))
        return {name: value for name, value in rows}

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        try:
            return self._conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise
            raise sqlite_problem(self.path, exc, "read") from None
        except sqlite3.DatabaseError as exc:
            raise sqlite_problem(self.path, exc, "read") from None

    def counts(self) -> dict[str, int]:
        """``status -> number of runs`` (every status present, 0 when none)."""
        rows = self._read("SELECT status, COUNT(*) FROM runs GROUP BY status")
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

    def mark_running(self, run_id: str, *, worker: str | None = None, threads: int | None = None) -> None:
        """pending/failed -> running: one more attempt, started now, by ``worker`` (this process), with
        ``threads`` torch threads."""
        with self._transaction() as cur:
            cur.execute(
                "UPDATE runs SET status = 'running', attempts = attempts + 1, error = NULL, "
                "started_at = ?, finished_at = NULL, seconds = NULL, worker = ?, "
                "threads = COALESCE(?, threads) WHERE run_id = ?",
                (time.time(), worker or worker_id(), threads, run_id),
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
        threads: int | None = None,
    ) -> None:
        """-> done, with its run-level metrics (replacing any earlier ones), in one transaction."""
        with self._transaction() as cur:
            cur.execute(
                "UPDATE runs SET status = 'done', error = NULL, finished_at = ?, seconds = ?, "
                "worker = COALESCE(?, worker), threads = COALESCE(?, threads) WHERE run_id = ?",
                (finished_at if finished_at is not None else time.time(), seconds, worker, threads, run_id),
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


def open_store(path: str | Path, *, log: Callable[[str], None] = print) -> Store:
    """The writable store at ``path``; a malformed file is moved aside and replaced by an empty store
    (one ``log`` line says so; the runner's resume then adopts every intact published run)."""
    path = Path(path)
    try:
        store = Store(path)
        # quick_check reads every page: catches a truncated file's damage (~1 ms per 100 runs)
        bad = [r[0] for r in store._read("PRAGMA quick_check") if r[0] != "ok"]
        if not bad:
            return store
        store.close()
        why = bad[0]
    except StoreError as exc:
        text = str(exc)
        if not any(k in text for k in ("malformed", "not a database", "no such table", "no such column")):
            raise
        why = text.split(": ", 1)[1].split(";")[0] if ": " in text else text
    aside = path.with_name(path.name + DAMAGED_SUFFIX)
    os.replace(path, aside)
    for extra in ("-wal", "-shm"):
        side = path.with_name(path.name + extra)
        if side.exists():
            os.replace(side, aside.with_name(aside.name + extra))
    log(
        f"the results store {path.name} was unreadable ({why}); rebuilt it from the runs' artifacts "
        f"(the damaged file is kept as {aside.name})"
    )
    return Store(path)


def _one(cur: sqlite3.Cursor, run_id: str) -> None:
    if cur.rowcount != 1:
        raise RunError(f"run {run_id} is not in the results store; re-run `fairssl run` to register it")


def _record(row: tuple[Any, ...]) -> RunRecord:
    values = list(row)
    try:
        values[6] = json.loads(values[6])
    except (TypeError, ValueError):
        values[6] = {}
    return RunRecord(*values)


__all__ = [
    "DAMAGED_SUFFIX",
    "SCHEMA_VERSION",
    "STATUSES",
    "STORE_NAME",
    "RunRecord",
    "Store",
    "StoreError",
    "lock_run_dir",
    "open_store",
    "worker_alive",
    "worker_id",
]
