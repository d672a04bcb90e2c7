"""Every URL of a run and what became of it, in the ledger's SQLite database.

A diverted URL is `pending` in its batch until a worker's successful report settles it: `landed`
unless the report names it `gone`, `no_item` or `failed`. A transiently failed URL that
`retrywindow.RetryRule` retries waits as `retry` until its `retry_at`, then goes into a retry
batch; one out of attempts or window, or in a batch that failed for good, is `failed`. Index pages
of the master's own crawl are kept beside them (`index_pages`: `ok` or `failed`), by the same
rule. Writes are batched: one transaction per report. The tables: `urlschema.py`.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from scrapyfleet.crawler.master.urlschema import create_tables
from scrapyfleet.crawler.outcomes import OUTCOMES, UrlFailure
from scrapyfleet.crawler.retrywindow import NextTry, RetryRule, Tried, counted

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
        create_tables(db)

    # -- URLs ------------------------------------------------------------------------------------
    def add(self, batch: str, urls: Sequence[str]) -> None:
        """URLs diverted into a new batch (or moved into a retry batch)."""
        self._db.executemany(
            "INSERT INTO urls (url, batch, outcome) VALUES (?, ?, 'pending')"
            " ON CONFLICT (url) DO UPDATE SET batch = excluded.batch, outcome = 'pending',"
            " retry_at = NULL",
            ((url, batch) for url in urls),
        )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """The caller's open transaction, or one of its own (committed at the end)."""
        if self._db.in_transaction:
            yield
            return
        with self._db:
            self._db.execute("BEGIN")
            yield

    def settle(
        self,
        batch: str,
        node: str,
        failures: Iterable[UrlFailure],
        rule: RetryRule,
        now: float | None = None,
    ) -> dict[str, int]:
        """A successful report of `batch` from `node`: its pending URLs are landed but for the
        failures. Transient failures wait for a retry while `rule` allows. Counts by outcome. In
        the caller's transaction if one is open (`Ledger.done_and_settled`), else in its own."""
        with self._transaction():
            now = time.time() if now is None else now
            counts: dict[str, int] = dict.fromkeys((*OUTCOMES, RETRY), 0)
            pending: dict[str, tuple[int, int, float | None]] = {
                url: (attempts, answered, first)
                for url, attempts, answered, first in self._db.execute(
                    "SELECT url, attempts, answered, first_failed_at FROM urls"
                    " WHERE batch = ? AND outcome = 'pending'",
                    (batch,),
                )
            }
            rows = []
            for failure in failures:
                if failure.url not in pending:
                    continue
                tried = _tried(pending.pop(failure.url), failure, now)
                outcome: str = failure.outcome
                retry_at, reason = None, failure.reason
                if outcome == "failed":
                    retry_at, reason = rule.next_try(failure, tried, now)
                    outcome = RETRY if retry_at is not None else outcome
                counts[outcome] += 1
                rows.append(
                    (outcome, tried.tries, tried.answered, tried.first_failed_at, reason,
                     failure.status, node, retry_at, failure.url)
                )  # fmt: skip
            self._db.executemany(
                "UPDATE urls SET outcome = ?, attempts = ?, answered = ?, first_failed_at = ?,"
                " reason = ?, status = ?, node = ?, retry_at = ? WHERE url = ?",
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
        """`--resume`: failed URLs get fresh attempts and a fresh window, due at once (a URL
        still waiting for its retry keeps its window's start)."""
        cur = self._db.execute(
            "UPDATE urls SET outcome = ?, retry_at = 0, attempts = 0, answered = 0,"
            " first_failed_at = NULL WHERE outcome = 'failed'",
            (RETRY,),
        )
        return cur.rowcount

    # -- index pages -----------------------------------------------------------------------------
    def index_ok(self, url: str) -> None:
        self._db.execute(
            "INSERT INTO index_pages (url, state, attempts) VALUES (?, 'ok', 1)"
            " ON CONFLICT (url) DO UPDATE"
            " SET state = 'ok', attempts = attempts + 1, reason = NULL",
            (url,),
        )

    def index_failed(
        self, failure: UrlFailure, rule: RetryRule, now: float | None = None
    ) -> NextTry:
        """An attempt at an index page failed: when `rule` tries it again, and why it failed."""
        now = time.time() if now is None else now
        with self._db:
            self._db.execute("BEGIN")
            row = self._db.execute(
                "SELECT attempts, answered, first_failed_at FROM index_pages WHERE url = ?",
                (failure.url,),
            ).fetchone()
            tried = _tried(row or (0, 0, None), failure, now)
            next_try = rule.next_try(failure, tried, now)
            self._db.execute(
                "INSERT INTO index_pages (url, state, attempts, answered, first_failed_at, reason)"
                " VALUES (?, 'failed', ?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET"
                " state = 'failed', attempts = excluded.attempts, answered = excluded.answered,"
                " first_failed_at = excluded.first_failed_at, reason = excluded.reason",
                (failure.url, tried.tries, tried.answered, tried.first_failed_at, next_try.reason),
            )
        return next_try

    def failed_index_pages(self) -> list[tuple[str, str]]:
        """(url, reason) of index pages that failed on their last attempt."""
        return list(
            self._db.execute(
                "SELECT url, COALESCE(reason, '') FROM index_pages WHERE state = 'failed'"
                " ORDER BY url"
            )
        )

    def reset_index_attempts(self) -> None:
        """`--resume`: failed index pages get fresh attempts and a fresh window."""
        self._db.execute(
            "UPDATE index_pages SET attempts = 0, answered = 0, first_failed_at = NULL"
            " WHERE state = 'failed'"
        )


def _tried(before: tuple[int, int, float | None], failure: UrlFailure, now: float) -> Tried:
    """A URL's failed tries, its ledger row's (`attempts`, `answered`, `first_failed_at`) and
    the latest failure, at `now`."""
    attempts, answered, first = before
    return Tried(attempts + 1, answered + counted(failure), now if first is None else first)
