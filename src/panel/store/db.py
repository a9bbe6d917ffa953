"""Opening the database: connection settings, the write lock, and migrations."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from sqlite_utils import Database

from ..core.errors import StoreError
from .migrations import MIGRATIONS

BUSY_TIMEOUT_S = 60


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _connect(path: Path) -> sqlite3.Connection:
    # timeout doubles as SQLite's busy timeout: a second writer waits instead of failing.
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S)
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA journal_mode=WAL")
    # WAL + NORMAL is durable across process crashes (only an OS crash can lose the last commits).
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def open_database(path: Path) -> Database:
    """Open (creating if needed) and migrate a panel database; a file that is not one is StoreError."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = Database(_connect(path))
        migrate(db)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot open the panel database ({exc})") from None
    return db


@contextlib.contextmanager
def write_lock(db: Database):
    """A transaction that takes the write lock first (BEGIN IMMEDIATE). A plain BEGIN that reads
    before it writes fails at once with "database is locked" if another process committed in
    between; an immediate one waits its turn (busy timeout) and then reads fresh data."""
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.conn.rollback()
        raise
    db.conn.execute("COMMIT")


def migrate(db: Database) -> None:
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations").fetchall()}
    for migration in MIGRATIONS:
        if migration.__name__ in done:
            continue
        with write_lock(db):
            # Re-check inside the write lock: another process may have just applied it.
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", [migration.__name__]).fetchone():
                continue
            migration(db)
            db.execute("INSERT INTO _migrations VALUES (?, ?)", [migration.__name__, now()])
