"""The ledger's tables of URLs and index pages (`urlbook.py`), and how an older ledger gets the
columns added since, so that `--resume` of a run made before works."""

from __future__ import annotations

import sqlite3

SCHEMA = """
CREATE TABLE IF NOT EXISTS urls (
    url TEXT PRIMARY KEY,
    batch TEXT NOT NULL,
    outcome TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    reason TEXT,
    status INTEGER,
    node TEXT,
    retry_at REAL
);
CREATE INDEX IF NOT EXISTS urls_by_batch ON urls (batch, outcome);
CREATE INDEX IF NOT EXISTS urls_by_outcome ON urls (outcome, retry_at);
CREATE TABLE IF NOT EXISTS index_pages (
    url TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    reason TEXT
);
"""
# Columns added since the first ledgers: (table, column, declaration, how older rows fill it).
# `answered`: failed tries that count toward max_attempts (every try did, before); the retry
# window starts at `first_failed_at`.
ADDED = (
    ("urls", "answered", "INTEGER NOT NULL DEFAULT 0", "UPDATE urls SET answered = attempts"),
    ("urls", "first_failed_at", "REAL", ""),
    ("index_pages", "answered", "INTEGER NOT NULL DEFAULT 0",
     "UPDATE index_pages SET answered = attempts"),
    ("index_pages", "first_failed_at", "REAL", ""),
)  # fmt: skip


def create_tables(db: sqlite3.Connection) -> None:
    """Create the tables, or add to an older ledger's the columns it lacks (each in a
    transaction with the filling of its older rows)."""
    db.executescript(SCHEMA)
    for table, column, declaration, fill in ADDED:
        if column not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}:
            with db:
                db.execute("BEGIN")
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
                if fill:
                    db.execute(fill)
