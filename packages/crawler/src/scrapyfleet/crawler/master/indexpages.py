"""The master's own index pages and what became of them (`index_pages`: `ok` or `failed`), in the
ledger beside its URLs (`urlbook.py`), tried again by the same rule (`retrywindow.RetryRule`)."""

from __future__ import annotations

import sqlite3
import time

from scrapyfleet.crawler.outcomes import UrlFailure
from scrapyfleet.crawler.retrywindow import NextTry, RetryRule, Tried, counted


class IndexPages:
    """Index coverage, on the ledger's connection (its table: `urlschema.py`)."""

    _db: sqlite3.Connection

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
            tried = tried_after(row or (0, 0, None), failure, now)
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


def tried_after(before: tuple[int, int, float | None], failure: UrlFailure, now: float) -> Tried:
    """A URL's failed tries, its ledger row's (`attempts`, `answered`, `first_failed_at`) and
    the latest failure, at `now`."""
    attempts, answered, first = before
    return Tried(attempts + 1, answered + counted(failure), now if first is None else first)
