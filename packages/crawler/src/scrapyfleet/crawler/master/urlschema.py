"""The ledger's tables of URLs and index pages (`urlbook.py`), how a batch's URLs are packed, the
row of `failed.jl`, and which ledgers this version opens.

Per URL the ledger keeps 8 bytes of its request fingerprint (`seen`, for de-duplication) and its
share of its batch's zlib-compressed payload; a full row only for a URL that ever failed
(`failures`, the one place URL text appears besides payloads). A URL of a batch without a row
there is pending until its batch settles and landed after. `tally` keeps the run's URLs by
outcome, changed in the transaction that changes them, so counting costs nothing per URL.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# PRAGMA user_version of the ledgers this version writes. Ledgers of older versions (0: a `urls`
# table with a row per URL) are refused: such a run is resumed with the version that started it.
FORMAT = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (fp INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS payloads (
    batch TEXT PRIMARY KEY,
    urls BLOB NOT NULL,
    fresh INTEGER NOT NULL,
    settled INTEGER NOT NULL DEFAULT 0,
    landed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS failures (
    url TEXT PRIMARY KEY,
    batch TEXT NOT NULL,
    outcome TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    answered INTEGER NOT NULL DEFAULT 0,
    first_failed_at REAL,
    reason TEXT,
    status INTEGER,
    node TEXT,
    retry_at REAL
);
CREATE INDEX IF NOT EXISTS failures_by_batch ON failures (batch, outcome);
CREATE INDEX IF NOT EXISTS failures_by_outcome ON failures (outcome, retry_at);
CREATE TABLE IF NOT EXISTS tally (outcome TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS index_pages (
    url TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    answered INTEGER NOT NULL DEFAULT 0,
    first_failed_at REAL,
    reason TEXT
);
"""
# payloads: `fresh` URLs new to the run (the others are retried, with `failures` rows); `settled`
# 0 while they are pending, DONE once a report settled them (`landed` of the fresh ones landed),
# FAILED once the batch failed for good (its pending URLs then have `failures` rows).
DONE, FAILED = 1, 2


@dataclass(frozen=True, slots=True)
class UrlRecord:
    """One row of `failed.jl`: a URL that did not land, and why."""

    url: str
    outcome: str
    reason: str | None
    attempts: int
    node: str | None
    status: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "outcome": self.outcome,
            "reason": self.reason,
            "attempts": self.attempts,
            "last_node": self.node,
            "status": self.status,
        }


class LedgerFormatError(ValueError):
    """A ledger this version cannot open."""


def format_problem(db: sqlite3.Connection, where: Path | str) -> str | None:
    """Why this version cannot open the ledger `db` (at `where`), or None (new or current)."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version == FORMAT or (version == 0 and not db.execute("SELECT 1 FROM sqlite_master")
                             .fetchone()):  # fmt: skip
        return None
    return (f"{where} holds a ledger of another scrapyfleet version (format {version}, this one "
            f"keeps {FORMAT}): resume that run with the version that started it")  # fmt: skip


def file_problem(path: Path) -> str | None:
    """`format_problem` of the ledger file at `path`, if there is one (opened read-only)."""
    if not path.is_file():
        return None
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return format_problem(db, path)
    finally:
        db.close()


def create_tables(db: sqlite3.Connection, where: Path | str = ":memory:") -> None:
    """Create the tables of a new ledger (or find them); LedgerFormatError for another
    version's."""
    problem = format_problem(db, where)
    if problem is not None:
        raise LedgerFormatError(problem)
    db.executescript(SCHEMA)
    db.execute(f"PRAGMA user_version = {FORMAT}")


def fingerprint_key(fingerprint: bytes) -> int:
    """A request fingerprint's `seen` key: its first 8 bytes, as a signed 64-bit integer (two of
    10 million URLs share one with odds of about 3 in a million)."""
    return int.from_bytes(fingerprint[:8], "big", signed=True)


def pack(urls: Sequence[str]) -> bytes:
    """A batch's URLs as stored: newline-joined, zlib-compressed."""
    text = "\n".join(urls)
    if text.count("\n") != max(len(urls) - 1, 0):
        raise ValueError("a URL with a newline cannot go into a batch")
    return zlib.compress(text.encode("utf-8"))


def unpack(blob: bytes) -> list[str]:
    text = zlib.decompress(blob).decode("utf-8")
    return text.split("\n") if text else []
