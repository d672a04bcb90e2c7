"""Alerts that push: POST each alerting event as JSON to every `--alert-webhook`.

The document is the structured event itself: `event`, `level`, `timestamp` and its fields, as
strict JSON (a non-finite number becomes null). One
background task per webhook delivers in order, each POST bounded by a timeout, retried with
exponential backoff up to a bounded number of attempts; the poll loop only enqueues. Every
delivery ends in an `alert_sent` or `alert_failed` (with the reason) event.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import structlog

from scrapyfleet.core import safejson
from scrapyfleet.core.contracts import ALERT_EVENTS
from scrapyfleet.core.credentials import redacted
from scrapyfleet.core.waits import Backoff
from scrapyfleet.monitor.daemon import Event

QUEUE = 1000  # alerts waiting per webhook; past that new ones fail with "queue full"
JSON_TYPE = {"Content-Type": "application/json"}

log = structlog.get_logger("scrapyfleet.monitor.alerts")


@dataclass(frozen=True, slots=True)
class Delivery:
    """How hard to try: attempts per alert, seconds per POST, first and longest backoff."""

    attempts: int = 5
    timeout: float = 5.0
    backoff: float = 0.5
    max_backoff: float = 8.0

    def pause(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        return Backoff(self.backoff, self.max_backoff).delay(attempt)


def document(event: Event, timestamp: str | None = None) -> dict[str, Any]:
    """The alert's JSON document, shaped like the event's log line."""
    stamp = timestamp or datetime.now(UTC).isoformat().replace("+00:00", "Z")
    doc = {"event": event.name, "level": event.level, "timestamp": stamp, **event.fields}
    return dict(safejson.finite(doc))


class Webhook:
    """One webhook's queue and delivery task."""

    def __init__(
        self,
        url: str,
        session: aiohttp.ClientSession,
        delivery: Delivery,
        outcome: Callable[[str], None],
    ) -> None:
        self.url = url
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE)
        self._session = session
        self._delivery = delivery
        self._outcome = outcome
        self.task = asyncio.create_task(self._deliver_all(), name=f"webhook {redacted(url)}")

    def put(self, doc: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(doc)
        except asyncio.QueueFull:
            self._done(doc, "alert_failed", 0, reason="queue full")

    async def _deliver_all(self) -> None:
        while True:
            doc = await self.queue.get()
            try:
                await self._deliver(doc)
            finally:
                self.queue.task_done()

    async def _deliver(self, doc: dict[str, Any]) -> None:
        d = self._delivery
        reason = "no attempt"
        for attempt in range(1, d.attempts + 1):
            reason = await self._post(doc)
            if not reason:
                self._done(doc, "alert_sent", attempt)
                return
            log.debug("alert_retry", webhook=redacted(self.url), alert=doc["event"], reason=reason)
            if attempt < d.attempts:
                await asyncio.sleep(d.pause(attempt))
        self._done(doc, "alert_failed", d.attempts, reason=reason)

    async def _post(self, doc: dict[str, Any]) -> str:
        """POST once; "" on a 2xx answer, else why not."""
        timeout = aiohttp.ClientTimeout(total=self._delivery.timeout)
        body = safejson.dumps(doc).encode()
        try:
            async with self._session.post(
                self.url, data=body, headers=JSON_TYPE, timeout=timeout
            ) as response:
                return "" if 200 <= response.status < 300 else f"HTTP {response.status}"
        except aiohttp.ClientConnectorError:
            return "cannot connect"
        except TimeoutError:
            return f"timeout after {self._delivery.timeout}s"
        except aiohttp.ClientError as e:
            return f"{type(e).__name__}: {e}"

    def _done(self, doc: dict[str, Any], outcome: str, attempts: int, **extra: str) -> None:
        self._outcome("sent" if outcome == "alert_sent" else "failed")
        level = log.info if outcome == "alert_sent" else log.warning
        level(
            outcome,
            webhook=redacted(self.url),
            alert=doc["event"],
            attempts=attempts,
            **extra,
        )


class Alerts:
    """Every webhook's delivery; `submit` never waits."""

    def __init__(
        self,
        urls: Sequence[str],
        session: aiohttp.ClientSession,
        delivery: Delivery | None = None,
        outcome: Callable[[str], None] | None = None,
    ) -> None:
        """`outcome` is told "sent" or "failed" after every delivery (the metrics count them)."""
        told = outcome or (lambda _: None)
        self.webhooks = [Webhook(u, session, delivery or Delivery(), told) for u in urls]

    def submit(self, events: Iterable[Event]) -> None:
        """Queue the alerting ones among `events` for every webhook."""
        for event in events:
            if event.name in ALERT_EVENTS:
                doc = document(event)
                for webhook in self.webhooks:
                    webhook.put(doc)

    async def close(self, grace: float = 3.0) -> None:
        """Let queued alerts go out for up to `grace` seconds, then stop; what is left fails."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(w.queue.join() for w in self.webhooks)), grace)
        for webhook in self.webhooks:
            webhook.task.cancel()
            left = webhook.queue.qsize()
            if left:
                log.warning(
                    "alert_failed",
                    webhook=redacted(webhook.url),
                    reason="shut down",
                    alerts=left,
                )
        await asyncio.gather(*(w.task for w in self.webhooks), return_exceptions=True)

    def send(self, event: Event) -> None:
        """Queue `event` for every webhook, whatever its name (the console's alert rules)."""
        doc = document(event)
        for webhook in self.webhooks:
            webhook.put(doc)
