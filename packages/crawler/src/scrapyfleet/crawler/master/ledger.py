"""The run ledger: every batch of a distributed crawl and what became of it, in SQLite.

A batch moves `queued -> scheduled -> running -> done`; a failed attempt sends it back to `queued`
(or to `failed` once its attempts are used up). An attempt is a lease of the batch to one worker
job; a long-lived job holds one attempt after another (`leases.py`). The ledger also keeps the
batch payloads (so workers can fetch them after a master restart; `urlbook.py` keeps them with
what became of each URL) and the run's metadata (token, batch-server port).
docs/architecture.md, "Batch endpoint" and "Run directory".

Over 250 lines on purpose: each batch transition is one SQLite transaction here, so every state
change of a batch (and what it does to its URLs' counts) reads in one file.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal

from scrapyfleet.core.files import PRIVATE
from scrapyfleet.crawler.contract import FeedFile, WorkerReport
from scrapyfleet.crawler.master.urlbook import UrlBook
from scrapyfleet.crawler.master.urlschema import LedgerFormatError
from scrapyfleet.crawler.retrywindow import RetryRule

State = Literal["queued", "scheduled", "running", "done", "failed"]
ACTIVE: tuple[State, ...] = ("scheduled", "running")
LEDGER_NAME = "ledger.sqlite"  # in the run directory
INDEX_DONE = "index_done"  # meta: the master's index crawl ran to its end

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    node TEXT,
    job TEXT,
    items INTEGER,
    pages INTEGER,
    error TEXT,
    created_at REAL NOT NULL,
    scheduled_at REAL,
    finished_at REAL
);
CREATE TABLE IF NOT EXISTS attempts (
    batch TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    node TEXT NOT NULL,
    job TEXT NOT NULL,
    scheduled_at REAL NOT NULL,
    outcome TEXT,
    reason TEXT,
    items INTEGER,
    feed_name TEXT,
    feed_bytes INTEGER,
    feed_lines INTEGER,
    finished_at REAL,
    PRIMARY KEY (batch, attempt)
);
"""


@dataclass(frozen=True, slots=True)
class Batch:
    """One row of the ledger."""

    id: str
    seq: int
    size: int
    state: State
    attempts: int
    node: str | None
    job: str | None
    items: int | None
    pages: int | None
    error: str | None
    created_at: float
    scheduled_at: float | None
    finished_at: float | None


_COLUMNS = ", ".join(f.name for f in fields(Batch))


class Ledger:
    """SQLite-backed record of a run's batches. Every write is committed at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA cache_size=-65536")
        try:
            self.urls = UrlBook(self._db, str(path))  # first: refuses another version's ledger
        except LedgerFormatError:
            self._db.close()
            raise
        self._db.executescript(SCHEMA)
        for file in path.parent.glob(f"{path.name}*"):  # with its -wal and -shm files
            file.chmod(PRIVATE)

    def close(self) -> None:
        self._db.close()

    # -- metadata -------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- batches ---------------------------------------------------------------------------------
    def add_batch(
        self, prefix: str, urls: Sequence[str], fingerprints: Sequence[bytes] = ()
    ) -> Batch:
        """Record a new batch `<prefix>-<seq>`, queued for dispatch, and its URLs as pending:
        new ones with their request fingerprints, or retried ones (`UrlBook.add`)."""
        with self._db:
            self._db.execute("BEGIN")
            batch_id = self._insert(prefix, len(urls))
            self.urls.add(batch_id, urls, fingerprints)
        return self.batch(batch_id)

    def _insert(self, prefix: str, size: int) -> str:
        """A new queued batch `<prefix>-<seq>` of `size` URLs (in the caller's transaction)."""
        seq = int(self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM batches").fetchone()[0])
        batch_id = f"{prefix}-{seq:05d}"
        self._db.execute(
            "INSERT INTO batches (id, seq, size, state, created_at) VALUES (?, ?, ?, ?, ?)",
            (batch_id, seq, size, "queued", time.time()),
        )
        return batch_id

    def split(self, batch_id: str, keep: int) -> Batch | None:
        """The URLs of a queued batch never tried, after its first `keep`, into a new queued
        batch (returned), so that idle jobs share the run's last URLs; None when the batch is
        not such a batch (tried, retried URLs, other state) or holds no more than `keep`."""
        with self._db:
            self._db.execute("BEGIN")
            batch = self.batch(batch_id)
            if batch.state != "queued" or batch.attempts or batch.size <= keep:
                return None
            into = self._insert(batch_id.rpartition("-")[0], batch.size - keep)
            if not self.urls.split(batch_id, into, keep):
                self._db.rollback()
                return None
            self._db.execute("UPDATE batches SET size = ? WHERE id = ?", (keep, batch_id))
        return self.batch(into)

    def batch(self, batch_id: str) -> Batch:
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM batches WHERE id = ?", (batch_id,)
        ).fetchone()
        if row is None:
            raise KeyError(batch_id)
        return Batch(*row)

    def payload(self, batch_id: str) -> list[str]:
        """The batch's URLs."""
        return self.urls.payload(batch_id)

    def batches(self, *states: State) -> list[Batch]:
        """Batches in any of `states` (all when none given), in creation order."""
        sql = f"SELECT {_COLUMNS} FROM batches"
        if states:
            sql += f" WHERE state IN ({', '.join('?' * len(states))})"
        return [Batch(*row) for row in self._db.execute(sql + " ORDER BY seq", states)]

    def counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT state, COUNT(*) FROM batches GROUP BY state")
        return {state: n for state, n in rows}

    def done_totals(self) -> tuple[int, int]:
        """Items and pages of the done batches."""
        row = self._db.execute(
            "SELECT COALESCE(SUM(items), 0), COALESCE(SUM(pages), 0) FROM batches"
            " WHERE state = 'done'"
        ).fetchone()
        return int(row[0]), int(row[1])

    # -- transitions -----------------------------------------------------------------------------
    def scheduled(self, batch_id: str, node: str, job: str) -> int:
        """A new attempt of the batch was scheduled as `job` on `node`; returns the attempt no."""
        now = time.time()
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute(
                "UPDATE batches SET state = 'scheduled', attempts = attempts + 1, node = ?,"
                " job = ?, scheduled_at = ?, error = NULL WHERE id = ?",
                (node, job, now, batch_id),
            )
            attempt = self.batch(batch_id).attempts
            self._db.execute(
                "INSERT INTO attempts (batch, attempt, node, job, scheduled_at) VALUES (?,?,?,?,?)",
                (batch_id, attempt, node, job, now),
            )
        return attempt

    def running(self, batch_id: str, job: str) -> None:
        self._db.execute(
            "UPDATE batches SET state = 'running' WHERE id = ? AND job = ? AND state = 'scheduled'",
            (batch_id, job),
        )

    def done(
        self, batch_id: str, job: str, items: int, pages: int, feed: FeedFile | None = None
    ) -> bool:
        """A worker reported success (and the feed it uploaded). False when the batch was
        already done."""
        with self._db:
            self._db.execute("BEGIN")
            return self._done(batch_id, job, items, pages, feed)

    def done_and_settled(
        self,
        report: WorkerReport,
        batch_id: str,
        rule: RetryRule,
    ) -> dict[str, int] | None:
        """A successful report: the batch done and its URLs settled (`UrlBook.settle`) in one
        transaction, so a master killed in between leaves neither; the URL counts, or None when
        the batch was already done."""
        with self._db:
            self._db.execute("BEGIN")
            if not self._done(batch_id, report.job, report.items, report.pages, report.feed):
                return None
            return self.urls.settle(batch_id, report.node, report.failures, rule)

    def _done(self, batch_id: str, job: str, items: int, pages: int, feed: FeedFile | None) -> bool:
        now = time.time()
        cur = self._db.execute(
            "UPDATE batches SET state = 'done', items = ?, pages = ?, finished_at = ?,"
            " error = NULL WHERE id = ? AND state != 'done'",
            (items, pages, now, batch_id),
        )
        self._db.execute(
            "UPDATE attempts SET outcome = 'done', items = ?, finished_at = ?, feed_name = ?,"
            " feed_bytes = ?, feed_lines = ? WHERE batch = ? AND job = ?",
            (items, now, feed and feed.name, feed and feed.bytes, feed and feed.lines,
             batch_id, job),
        )  # fmt: skip
        return cur.rowcount == 1

    def attempt_failed(self, batch_id: str, job: str, reason: str, max_attempts: int) -> State:
        """The attempt running as `job` failed: queue the batch again, or fail it for good."""
        now = time.time()
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute(
                "UPDATE attempts SET outcome = 'failed', reason = ?, finished_at = ?"
                " WHERE batch = ? AND job = ? AND outcome IS NULL",
                (reason, now, batch_id, job),
            )
            batch = self.batch(batch_id)
            if batch.state == "done" or batch.job != job:
                return batch.state
            state: State = "failed" if batch.attempts >= max_attempts else "queued"
            self._db.execute(
                "UPDATE batches SET state = ?, error = ?, finished_at = ? WHERE id = ?",
                (state, reason, now if state == "failed" else None, batch_id),
            )
            if state == "failed":
                self.urls.fail_batch(batch_id, reason)
        return state

    def give_up(self, batch_id: str, reason: str) -> None:
        """Fail a batch for good, whatever its state (the run is aborting), and its URLs."""
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute(
                "UPDATE batches SET state = 'failed', error = ?, finished_at = ?"
                " WHERE id = ? AND state != 'done'",
                (reason, time.time(), batch_id),
            )
            self.urls.fail_batch(batch_id, reason)

    def holder(self, batch_id: str, attempt: int) -> tuple[str, str, str | None] | None:
        """The job and node that held attempt `attempt` of the batch, and its outcome."""
        row = self._db.execute(
            "SELECT job, node, outcome FROM attempts WHERE batch = ? AND attempt = ?",
            (batch_id, attempt),
        ).fetchone()
        return None if row is None else (str(row[0]), str(row[1]), row[2])

    def latest_lease(self, job: str) -> tuple[str, int] | None:
        """The batch and attempt `job` was given last."""
        row = self._db.execute(
            "SELECT batch, attempt FROM attempts WHERE job = ? ORDER BY rowid DESC LIMIT 1", (job,)
        ).fetchone()
        return None if row is None else (str(row[0]), int(row[1]))

    def attempt_counts(self) -> dict[str, int]:
        """Attempts scheduled in all, and how many of them were retries."""
        row = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(attempt > 1), 0) FROM attempts"
        ).fetchone()
        return {"scheduled": int(row[0]), "retries": int(row[1])}

    def attempt_history(self) -> list[dict[str, object]]:
        cur = self._db.execute(
            "SELECT batch, attempt, node, job, outcome, reason, items FROM attempts"
            " ORDER BY batch, attempt"
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur]
