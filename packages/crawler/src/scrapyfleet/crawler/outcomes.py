"""What became of one detail-page URL, and when to try a failed one again.

Every URL the master diverts ends as one of `OUTCOMES` (docs/architecture.md, "Every URL"):
`landed` (its item is in an uploaded feed), `gone` (404/410), `no_item` (answered, no item) or
`failed` (after every attempt). A failure is *transient* when another try may succeed: 5xx, 408,
429, timeouts and connection errors; those go back into retry batches after `backoff()`, until
`retrywindow.py` says their attempts or their retry window are spent.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from scrapy.spidermiddlewares.httperror import HttpError

from scrapyfleet.core.waits import Backoff

if TYPE_CHECKING:
    from twisted.python.failure import Failure

Outcome = Literal["landed", "gone", "no_item", "failed", "pending"]
OUTCOMES: tuple[Outcome, ...] = ("landed", "gone", "no_item", "failed", "pending")
SETTLED_OK: frozenset[Outcome] = frozenset({"landed", "gone"})  # a run may exit 0 with these

GONE_STATUSES = frozenset({404, 410})
# The site cannot serve now (a limiter, maintenance, a gateway without its origin): these spend
# retry window, not attempts (`retrywindow.py`); 500 (the page broke) spends attempts.
UNAVAILABLE_STATUSES = frozenset({408, 429, 502, 503, 504, 520, 521, 522, 523, 524})
TRANSIENT_STATUSES = UNAVAILABLE_STATUSES | {500}
BACKOFF_BASE = 2.0  # seconds before the first retry (before jitter)
BACKOFF_CAP = 60.0  # longest exponential delay
BACKOFF = Backoff(BACKOFF_BASE, BACKOFF_CAP, jitter=True)
RETRY_AFTER_CAP = 600.0  # longest `Retry-After` honoured


@dataclass(frozen=True, slots=True)
class UrlFailure:
    """Why a worker got no item from a URL: its outcome (`gone`, `no_item` or `failed`), a reason
    in a few words, the last HTTP status, whether a later try may succeed, and `Retry-After`."""

    url: str
    outcome: Outcome
    reason: str
    status: int | None = None
    transient: bool = False
    retry_after: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: object) -> UrlFailure:
        """Validate one decoded entry of a report; ValueError says what is wrong."""
        if not isinstance(obj, dict):
            raise ValueError("a failure must be a JSON object")
        url, outcome, reason = obj.get("url"), obj.get("outcome"), obj.get("reason")
        status, transient, retry_after = (
            obj.get("status"),
            obj.get("transient"),
            obj.get("retry_after"),
        )
        if not isinstance(url, str) or not url:
            raise ValueError("a failure needs its url")
        if outcome not in ("gone", "no_item", "failed"):
            raise ValueError(f"a failure's outcome must be gone, no_item or failed: {outcome!r}")
        if not isinstance(reason, str):
            raise ValueError("a failure needs a reason")
        if status is not None and (not isinstance(status, int) or isinstance(status, bool)):
            raise ValueError("a failure's status must be an integer or null")
        if not isinstance(transient, bool):
            raise ValueError("a failure's transient flag must be a boolean")
        if retry_after is not None and (
            not isinstance(retry_after, int | float) or isinstance(retry_after, bool)
        ):
            raise ValueError("a failure's retry_after must be a number or null")
        return cls(url, outcome, reason, status, transient, retry_after)


def status_failure(url: str, status: int, retry_after: str | None = None) -> UrlFailure:
    """The outcome of a final non-2xx answer (after Scrapy's own retries)."""
    if status in GONE_STATUSES:
        return UrlFailure(url, "gone", f"HTTP {status}", status)
    transient = status in TRANSIENT_STATUSES
    delay = parse_retry_after(retry_after) if retry_after else None
    return UrlFailure(url, "failed", f"HTTP {status}", status, transient, delay)


def exception_failure(url: str, exc: BaseException) -> UrlFailure:
    """The outcome of a download that raised (timeouts, resets, refused connections, DNS):
    transient, since the network or the site may recover."""
    text = str(exc).strip()
    reason = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return UrlFailure(url, "failed", reason[:200], None, True)


def describe(url: str, failure: Failure) -> UrlFailure:
    """The outcome of a request's final error: an HTTP status kept by HttpErrorMiddleware, or
    a download exception."""
    exc = failure.value
    if isinstance(exc, HttpError):
        response = exc.response
        retry_after = response.headers.get("Retry-After")
        text = retry_after.decode("latin-1") if retry_after else None
        return status_failure(url, response.status, text)
    return exception_failure(url, exc or Exception(str(failure)))


def parse_retry_after(value: str, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date), or None."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now())


def backoff(
    attempt: int,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds before try `attempt + 1` of a URL that failed `attempt` times: exponential from
    BACKOFF_BASE up to BACKOFF_CAP with equal jitter (half fixed, half random), never less than
    the site's `Retry-After` (itself capped at RETRY_AFTER_CAP)."""
    delay = BACKOFF.delay(attempt, rand)
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_CAP))
    return delay
