"""The console's persistent state: one SQLite file (`console.sqlite`) in the monitor's state
directory holding crawl definitions, runs and their samples, timers, alert rules, console events
and the audit log. Every write commits at once, so a killed monitor loses nothing it answered."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

FILE = "console.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS definitions (name TEXT PRIMARY KEY, doc TEXT NOT NULL,
    updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, definition TEXT NOT NULL,
    run_dir TEXT NOT NULL, pid INTEGER, state TEXT NOT NULL, started REAL NOT NULL,
    ended REAL, exit_code INTEGER, metrics TEXT, launches INTEGER NOT NULL DEFAULT 1,
    reason TEXT, trigger TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS samples (run TEXT NOT NULL, t REAL NOT NULL, pages REAL,
    items REAL, landed REAL, failed REAL, pending REAL);
CREATE INDEX IF NOT EXISTS samples_run ON samples (run, t);
CREATE TABLE IF NOT EXISTS timers (id INTEGER PRIMARY KEY, definition TEXT NOT NULL,
    kind TEXT NOT NULL, spec TEXT NOT NULL, start_at REAL, end_at REAL,
    anchor REAL NOT NULL, missed TEXT NOT NULL, enabled INTEGER NOT NULL, next_due REAL,
    last_fired REAL, last_run TEXT,
    state TEXT NOT NULL DEFAULT 'waiting');
CREATE TABLE IF NOT EXISTS rules (id INTEGER PRIMARY KEY, definition TEXT, kind TEXT NOT NULL,
    threshold REAL NOT NULL, stop INTEGER NOT NULL, enabled INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, t REAL NOT NULL, name TEXT NOT NULL,
    level TEXT NOT NULL, fields TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (id INTEGER PRIMARY KEY, t REAL NOT NULL, who TEXT NOT NULL,
    role TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, result TEXT NOT NULL,
    detail TEXT NOT NULL);
"""


class Store:
    """The state directory's database (created 0700/0600 on first use)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
        self.directory = directory
        path = directory / FILE
        path.touch(mode=0o600, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    def write(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run one statement; the id of the row it inserted (if any)."""
        return self.db.execute(sql, args).lastrowid or 0

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return [dict(row) for row in self.db.execute(sql, args)]

    def row(self, sql: str, args: Sequence[Any] = ()) -> dict[str, Any] | None:
        found = self.db.execute(sql, args).fetchone()
        return dict(found) if found is not None else None

    def close(self) -> None:
        self.db.close()
