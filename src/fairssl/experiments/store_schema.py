"""The results store's file format: its tables, the column list a query reads, migrations of a store
written by an earlier version, the creation of a new file, and the one-line :class:`StoreError` a failed
SQLite call becomes.

Tables::

    runs(run_id PK, kind, seed, setup, variant, depends_on, spec JSON, status, attempts, error,
         started_at, finished_at, seconds, worker, threads)
    metrics(run_id, name, value)        run-level summaries (epochs, best epoch, val AUROC, ...)
    meta(key PK, value)                 schema_version

The queries and changes are :class:`fairssl.experiments.store.Store`'s.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from fairssl.errors import DataError


class StoreError(DataError):
    """The results store cannot be read or written (malformed file, full disk, no permission); exit 2."""


STATUSES = ("pending", "running", "done", "failed")
SCHEMA_VERSION = "1"

SCHEMA_SQL = """
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
    worker      TEXT,
    threads     INTEGER
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    name   TEXT NOT NULL,
    value  REAL,
    PRIMARY KEY (run_id, name)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


COLUMNS = (
    "run_id, kind, seed, setup, variant, depends_on, spec, status, attempts, error, "
    "started_at, finished_at, seconds, worker, threads"
)
OLD_COLUMNS = COLUMNS.replace("threads", "NULL")  # a store written before the threads column
"""The ``runs`` columns a query reads, in :class:`~fairssl.experiments.store.RunRecord` field order
(``OLD_COLUMNS`` for a read-only store written before the ``threads`` column)."""


def sqlite_problem(path: Path, exc: sqlite3.Error, doing: str) -> StoreError:
    """One line for a failed SQLite call: what failed, on which file, what to do."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if "full" in text:
        fix = "free disk space and run the same command again (finished runs are kept)"
    elif "readonly" in text or "read-only" in text or "unable to open" in text or "permission" in text:
        fix = "make the run folder writable (or use another --out folder) and run the same command again"
    elif "malformed" in text or "not a database" in text or "no such" in text:
        fix = "run `fairssl run` with the same config to rebuild it from the runs' artifacts"
    else:
        fix = "check the file and its folder, then run the same command again"
    return StoreError(f"could not {doing} the results store {path}: {text}; {fix}")


def create_schema(cur: sqlite3.Cursor) -> None:
    """Create the tables that do not exist yet and record the schema version (inside the caller's
    transaction)."""
    for statement in SCHEMA_SQL.strip().split(";"):
        if statement.strip():
            cur.execute(statement)
    cur.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))


def migrate(cur: sqlite3.Cursor) -> None:
    """Add the columns a store written by an earlier version lacks."""
    columns = {row[1] for row in cur.execute("PRAGMA table_info(runs)")}
    if "threads" not in columns:
        cur.execute("ALTER TABLE runs ADD COLUMN threads INTEGER")


def create_store_file(path: Path) -> None:
    """Create the file complete (WAL mode, tables) beside ``path``, then link it into place: a reader
    (``fairssl status``) never sees a file without its tables, and a file already there is kept."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        cur = conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        create_schema(cur)
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
