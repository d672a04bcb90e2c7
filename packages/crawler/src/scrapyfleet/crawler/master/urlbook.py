"""Every URL of a run and what became of it, in the ledger's SQLite database.

A diverted URL is `pending` in its batch until a worker's successful report settles it: `landed`
unless the report names it `gone`, `no_item` or `failed`. A transiently failed URL with attempts
left waits as `retry` until its `retry_at`, then goes into a retry batch; one out of attempts,
or in a batch that failed for good, is `failed`. Index pages of the master's own crawl are kept
beside them (`index_pages`: `ok` or `failed`). Writes are batched: one transaction per report.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from scrapyfleet.crawler.outcomes import OUTCOMES, UrlFailure, backoff

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
RETRY = "retry"  # pending again, waiting for its retry batch


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


class UrlBook:
    """Per-URL outcomes and index coverage, on the ledger's connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        db.executescript(SCHEMA)

    # -- URLs ------------------------------------------------------------------------------------
    def add(self, batch: str, urls: Sequence[str]) -> None:
        """URLs diverted into a new batch (or moved into a retry batch)."""
        self._db.executemany(
            "INSERT INTO urls (url, batch, outcome) VALUES (?, ?, 'pending')"
            " ON CONFLICT (url) DO UPDATE SET batch = excluded.batch, outcome = 'pending',"
            " retry_at = NULL",
            ((url, batch) for url in urls),
        )

    def settle(
        self,
        batch: str,
        node: str,
        failures: Iterable[UrlFailure],
        max_attempts: int,
        now: float | None = None,
    ) -> dict[str, int]:
        """A successful report of `batch` from `node`: its pending URLs are landed but for the
        failures. Transient failures with attempts left wait for a retry. Counts by outcome."""
        now = time.time() if now is None else now
        counts: dict[str, int] = dict.fromkeys((*OUTCOMES, RETRY), 0)
        with self._db:
            self._db.execute("BEGIN")
            pending = {
                url: attempts
                for url, attempts in self._db.execute(
                    "SELECT url, attempts FROM urls WHERE batch = ? AND outcome = 'pending'",
                    (batch,),
                )
            }
            rows = []
            for failure in failures:
                if failure.url not in pending:
                    continue
                attempts = pending.pop(failure.url) + 1
                outcome: str = failure.outcome
                retry_at: float | None = None
                if outcome == "failed" and failure.transient and attempts < max_attempts:
                    outcome, retry_at = RETRY, now + backoff(attempts, failure.retry_after)
                counts[outcome] += 1
                rows.append(
                    (outcome, attempts, failure.reason, failure.status, node, retry_at,
                     failure.url)
                )  # fmt: skip
            self._db.executemany(
                "UPDATE urls SET outcome = ?, attempts = ?, reason = ?, status = ?, node = ?,"
                " retry_at = ? WHERE url = ?",
                rows,
            )
            self._db.execute(
                "UPDATE urls SET outcome = 'landed', attempts = attempts + 1, node = ?,"
                " reason = NULL, status = NULL WHERE batch = ? AND outcome = 'pending'",
                (node, batch),
            )
            counts["landed"] = len(pending)
        return counts

    def fail_batch(self, batch: str, reason: str) -> int:
        """The batch failed for good: its pending URLs fail with the batch's reason."""
        cur = self._db.execute(
            "UPDATE urls SET outcome = 'failed', reason = ?"
            " WHERE batch = ? AND outcome = 'pending'",
            (reason, batch),
        )
        return cur.rowcount

    def due(self, now: float | None = None, limit: int = 100_000) -> list[tuple[str, str | None]]:
        """URLs whose retry is due: (url, node it last failed on)."""
        now = time.time() if now is None else now
        return list(
            self._db.execute(
                "SELECT url, node FROM urls WHERE outcome = ? AND retry_at <= ?"
                " ORDER BY retry_at LIMIT ?",
                (RETRY, now, limit),
            )
        )

    def next_retry(self) -> float | None:
        """When the earliest waiting retry is due (None if none waits)."""
        row = self._db.execute(
            "SELECT MIN(retry_at) FROM urls WHERE outcome = ?", (RETRY,)
        ).fetchone()
        return None if row[0] is None else float(row[0])

    def counts(self) -> dict[str, int]:
        """URLs by outcome (a URL waiting for its retry counts as pending)."""
        counts: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
        for outcome, n in self._db.execute("SELECT outcome, COUNT(*) FROM urls GROUP BY outcome"):
            counts["pending" if outcome == RETRY else outcome] += n
        return counts

    def retried(self) -> int:
        """URLs that needed more than one worker attempt."""
        return int(self._db.execute("SELECT COUNT(*) FROM urls WHERE attempts > 1").fetchone()[0])

    def not_landed(self) -> Iterator[UrlRecord]:
        """Every URL that is not landed (and not pending), for `failed.jl`."""
        for row in self._db.execute(
            "SELECT url, outcome, reason, attempts, node, status FROM urls"
            " WHERE outcome IN ('gone', 'no_item', 'failed') ORDER BY outcome, url"
        ):
            yield UrlRecord(*row)

    def all_urls(self) -> Iterator[str]:
        for (url,) in self._db.execute("SELECT url FROM urls"):
            yield url

    def retry_failed(self) -> int:
        """`--resume`: failed URLs get a fresh set of attempts, due at once."""
        cur = self._db.execute(
            "UPDATE urls SET outcome = ?, retry_at = 0, attempts = 0 WHERE outcome = 'failed'",
            (RETRY,),
        )
        return cur.rowcount

    # -- index pages -----------------------------------------------------------------------------
    def index_ok(self, url: str) -> None:
        self._db.execute(
            "INSERT INTO index_pages VALUES (?, 'ok', 1, NULL) ON CONFLICT (url) DO UPDATE"
            " SET state = 'ok', attempts = attempts + 1, reason = NULL",
            (url,),
        )

    def index_failed(self, url: str, reason: str) -> int:
        """An attempt at an index page failed; how many attempts it has had."""
        self._db.execute(
            "INSERT INTO index_pages VALUES (?, 'failed', 1, ?) ON CONFLICT (url) DO UPDATE"
            " SET state = 'failed', attempts = attempts + 1, reason = excluded.reason",
            (url, reason),
        )
        row = self._db.execute("SELECT attempts FROM index_pages WHERE url = ?", (url,)).fetchone()
        return int(row[0])

    def failed_index_pages(self) -> list[tuple[str, str]]:
        """(url, reason) of index pages that failed on their last attempt."""
        return list(
            self._db.execute(
                "SELECT url, COALESCE(reason, '') FROM index_pages WHERE state = 'failed'"
                " ORDER BY url"
            )
        )

    def reset_index_attempts(self) -> None:
        """`--resume`: failed index pages get a fresh set of attempts."""
        self._db.execute("UPDATE index_pages SET attempts = 0 WHERE state = 'failed'")
