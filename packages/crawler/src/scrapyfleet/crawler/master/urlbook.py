"""Every URL of a run and what became of it, in the ledger's SQLite database.

A diverted URL is `pending` in its batch until a worker's successful report settles it: `landed`
unless the report names it `gone`, `no_item` or `failed`. A transiently failed URL that
`retrywindow.RetryRule` retries waits as `retry` until its `retry_at`, then goes into a retry
batch; one out of attempts or window, or in a batch that failed for good, is `failed`. Index pages
of the master's own crawl are kept beside them (`index_pages`: `ok` or `failed`), by the same
rule. A URL that lands at its first try costs no row of its own: its batch's payload holds it and
its fingerprint is in `seen`; every URL that failed once has a row in `failures`. Writes are
batched: one transaction per batch or report, and each keeps `tally` (the counts) in step. The
tables: `urlschema.py`.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence

from scrapyfleet.crawler.master.indexpages import IndexPages, tried_after
from scrapyfleet.crawler.master.urlschema import (
    DONE,
    FAILED,
    UrlRecord,
    create_tables,
    fingerprint_key,
    pack,
    unpack,
)
from scrapyfleet.crawler.outcomes import OUTCOMES, UrlFailure
from scrapyfleet.crawler.retrywindow import RetryRule

RETRY = "retry"  # pending again, waiting for its retry batch
LOOKUP = 500  # fingerprints looked up per query (SQLite allows 999 parameters at least)


class UrlBook(IndexPages):
    """Per-URL outcomes and index coverage, on the ledger's connection."""

    def __init__(self, db: sqlite3.Connection, where: str = ":memory:") -> None:
        self._db = db
        create_tables(db, where)

    # -- URLs ------------------------------------------------------------------------------------
    def known(self, fingerprints: Iterable[bytes]) -> set[bytes]:
        """Those of the request fingerprints whose requests are in a batch already."""
        keys = {fingerprint_key(fp): fp for fp in fingerprints}
        asked, found = list(keys), set[bytes]()
        for at in range(0, len(asked), LOOKUP):
            part = asked[at : at + LOOKUP]
            rows = self._db.execute(
                f"SELECT fp FROM seen WHERE fp IN ({', '.join('?' * len(part))})", part
            )
            found.update(keys[key] for (key,) in rows)
        return found

    def add(self, batch: str, urls: Sequence[str], fingerprints: Sequence[bytes] = ()) -> None:
        """URLs into a new batch: new to the run, with their request fingerprints (remembered in
        `seen`), or, without, those of `due()` (moved into it, pending again)."""
        with self._transaction():
            moved = 0
            if not fingerprints:
                moved = self._db.executemany(
                    "UPDATE failures SET batch = ?, outcome = 'pending', retry_at = NULL"
                    " WHERE url = ? AND outcome = ?",
                    ((batch, url, RETRY) for url in urls),
                ).rowcount
            self._db.execute(
                "INSERT INTO payloads (batch, urls, fresh) VALUES (?, ?, ?)",
                (batch, pack(urls), len(urls) - moved),
            )
            self._db.executemany(  # in key order: neighbours share their B-tree pages
                "INSERT OR IGNORE INTO seen (fp) VALUES (?)",
                ((key,) for key in sorted(map(fingerprint_key, fingerprints))),
            )
            self._count(pending=len(urls), retry=-moved)

    def split(self, batch: str, into: str, keep: int) -> int:
        """The URLs of `batch` after its first `keep` into a new batch `into`, pending still (no
        count changes): only for an unsettled batch of URLs new to the run. How many moved (0:
        none; the batch is not such a batch, or holds no more than `keep`)."""
        with self._transaction():
            row = self._db.execute(
                "SELECT urls, fresh FROM payloads WHERE batch = ? AND settled = 0", (batch,)
            ).fetchone()
            urls = [] if row is None else unpack(row[0])
            if len(urls) <= keep or row[1] != len(urls):
                return 0
            self._db.execute(
                "UPDATE payloads SET urls = ?, fresh = ? WHERE batch = ?",
                (pack(urls[:keep]), keep, batch),
            )
            self._db.execute(
                "INSERT INTO payloads (batch, urls, fresh) VALUES (?, ?, ?)",
                (into, pack(urls[keep:]), len(urls) - keep),
            )
        return len(urls) - keep

    def payload(self, batch: str) -> list[str]:
        """The batch's URLs."""
        row = self._db.execute("SELECT urls FROM payloads WHERE batch = ?", (batch,)).fetchone()
        if row is None:
            raise KeyError(batch)
        return unpack(row[0])

    def retried_only(self, batch: str) -> bool:
        """Whether the batch holds only URLs that failed before (a retry batch)."""
        row = self._db.execute("SELECT fresh FROM payloads WHERE batch = ?", (batch,)).fetchone()
        return row is not None and not row[0]

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """The caller's open transaction, or one of its own (committed at the end)."""
        if self._db.in_transaction:
            yield
            return
        with self._db:
            self._db.execute("BEGIN")
            yield

    def _count(self, **changes: int) -> None:
        """Add to the run's counts by outcome (in the transaction that changed them)."""
        self._db.executemany(
            "INSERT INTO tally (outcome, n) VALUES (?, ?)"
            " ON CONFLICT (outcome) DO UPDATE SET n = n + excluded.n",
            ((outcome, n) for outcome, n in changes.items() if n),
        )

    def _unsettled(self, batch: str) -> tuple[set[str], dict[str, tuple[int, int, float | None]]]:
        """A batch's pending URLs, before it settles: those new to the run, and those retried
        with their (`attempts`, `answered`, `first_failed_at`). Two empty sets once settled."""
        row = self._db.execute(
            "SELECT urls, fresh FROM payloads WHERE batch = ? AND settled = 0", (batch,)
        ).fetchone()
        if row is None:
            return set(), {}
        retried = {
            url: (attempts, answered, first)
            for url, attempts, answered, first in self._db.execute(
                "SELECT url, attempts, answered, first_failed_at FROM failures"
                " WHERE batch = ? AND outcome = 'pending'",
                (batch,),
            )
        }
        fresh = set(unpack(row[0])).difference(retried) if row[1] else set()
        return fresh, retried

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
            fresh, retried = self._unsettled(batch)
            if not fresh and not retried:
                return counts
            rows = []
            for failure in failures:
                if failure.url in retried:
                    before = retried.pop(failure.url)
                elif failure.url in fresh:
                    fresh.discard(failure.url)
                    before = (0, 0, None)
                else:
                    continue
                tried = tried_after(before, failure, now)
                outcome: str = failure.outcome
                retry_at, reason = None, failure.reason
                if outcome == "failed":
                    retry_at, reason = rule.next_try(failure, tried, now)
                    outcome = RETRY if retry_at is not None else outcome
                counts[outcome] += 1
                rows.append(
                    (failure.url, batch, outcome, tried.tries, tried.answered,
                     tried.first_failed_at, reason, failure.status, node, retry_at)
                )  # fmt: skip
            self._db.executemany(
                "INSERT OR REPLACE INTO failures (url, batch, outcome, attempts, answered,"
                " first_failed_at, reason, status, node, retry_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            self._db.execute(
                "UPDATE failures SET outcome = 'landed', attempts = attempts + 1, node = ?,"
                " reason = NULL, status = NULL WHERE batch = ? AND outcome = 'pending'",
                (node, batch),
            )
            self._db.execute(
                "UPDATE payloads SET settled = ?, landed = ? WHERE batch = ?",
                (DONE, len(fresh), batch),
            )
            counts["landed"] = len(fresh) + len(retried)
            self._count(**{**counts, "pending": -sum(counts.values())})  # all were pending
        return counts

    def fail_batch(self, batch: str, reason: str) -> int:
        """The batch failed for good: its pending URLs fail with the batch's reason."""
        with self._transaction():
            fresh, _ = self._unsettled(batch)
            failed = self._db.execute(
                "UPDATE failures SET outcome = 'failed', reason = ?"
                " WHERE batch = ? AND outcome = 'pending'",
                (reason, batch),
            ).rowcount
            self._db.executemany(
                "INSERT INTO failures (url, batch, outcome, reason) VALUES (?, ?, 'failed', ?)",
                ((url, batch, reason) for url in fresh),
            )
            self._db.execute("UPDATE payloads SET settled = ? WHERE batch = ?", (FAILED, batch))
            failed += len(fresh)
            self._count(pending=-failed, failed=failed)
        return failed

    def due(self, now: float | None = None, limit: int = 100_000) -> list[tuple[str, str | None]]:
        """URLs whose retry is due: (url, node it last failed on)."""
        now = time.time() if now is None else now
        return list(
            self._db.execute(
                "SELECT url, node FROM failures WHERE outcome = ? AND retry_at <= ?"
                " ORDER BY retry_at LIMIT ?",
                (RETRY, now, limit),
            )
        )

    def next_retry(self) -> float | None:
        """When the earliest waiting retry is due (None if none waits)."""
        row = self._db.execute(
            "SELECT MIN(retry_at) FROM failures WHERE outcome = ?", (RETRY,)
        ).fetchone()
        return None if row[0] is None else float(row[0])

    def counts(self) -> dict[str, int]:
        """URLs by outcome (a URL waiting for its retry counts as pending)."""
        counts: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
        for outcome, n in self._db.execute("SELECT outcome, n FROM tally"):
            counts["pending" if outcome == RETRY else outcome] += n
        return counts

    def retried(self) -> int:
        """URLs that needed more than one worker attempt."""
        row = self._db.execute("SELECT COUNT(*) FROM failures WHERE attempts > 1").fetchone()
        return int(row[0])

    def not_landed(self) -> Iterator[UrlRecord]:
        """Every URL that is not landed (and not pending), for `failed.jl`."""
        for row in self._db.execute(
            "SELECT url, outcome, reason, attempts, node, status FROM failures"
            " WHERE outcome IN ('gone', 'no_item', 'failed') ORDER BY outcome, url"
        ):
            yield UrlRecord(*row)

    def retry_failed(self) -> int:
        """`--resume`: failed URLs get fresh attempts and a fresh window, due at once (a URL
        still waiting for its retry keeps its window's start)."""
        with self._transaction():
            retried = self._db.execute(
                "UPDATE failures SET outcome = ?, retry_at = 0, attempts = 0, answered = 0,"
                " first_failed_at = NULL WHERE outcome = 'failed'",
                (RETRY,),
            ).rowcount
            self._count(failed=-retried, retry=retried)
        return retried
