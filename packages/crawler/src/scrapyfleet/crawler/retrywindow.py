"""When a transiently failed URL or index page is tried again: by time, not only by count.

A transient failure (`outcomes.UrlFailure.transient`: 5xx, 408, 429, timeouts, resets, refused
connections, DNS) is tried again after `outcomes.backoff` (exponential with jitter, capped, never
sooner than the site's `Retry-After`) until it succeeds or its retry window, counted from its
first failure, is spent; the last try falls at the window's end. Only attempts the site answered
with a status of its own count toward `max_attempts`: an answer saying the site cannot serve now
(`UNAVAILABLE_STATUSES`: 429, 503, a gateway's 502/504/52x, 408) and a connection that failed
spend window only, so waiting out an outage burns no attempt (docs/architecture.md, "Every URL").
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from scrapyfleet.crawler.outcomes import (
    RETRY_AFTER_CAP,
    UNAVAILABLE_STATUSES,
    UrlFailure,
    backoff,
)


def counted(failure: UrlFailure) -> bool:
    """Does this failure spend one of `max_attempts` (a real answer from the site)?"""
    return failure.status is not None and failure.status not in UNAVAILABLE_STATUSES


@dataclass(frozen=True, slots=True)
class Tried:
    """A URL's failed tries so far, the latest included."""

    tries: int  # every failed try (the backoff grows with these)
    answered: int  # those `counted`
    first_failed_at: float  # epoch seconds: the retry window starts here


class NextTry(NamedTuple):
    """Try again at `at` (epoch seconds), or never (None) and record `reason`."""

    at: float | None
    reason: str


@dataclass(frozen=True, slots=True)
class RetryRule:
    """How long and how often a transiently failed URL is tried again."""

    max_attempts: int  # tries with a real answer
    window: float  # seconds from the first failure

    def next_try(
        self,
        failure: UrlFailure,
        tried: Tried,
        now: float,
        rand: Callable[[], float] = random.random,
    ) -> NextTry:
        """When to try `failure.url` again after its latest failure, at `now`."""
        if not failure.transient or (counted(failure) and tried.answered >= self.max_attempts):
            return NextTry(None, failure.reason)
        end = tried.first_failed_at + self.window
        wait = min(failure.retry_after, RETRY_AFTER_CAP) if failure.retry_after else 0.0
        if now >= end or now + wait > end:
            return NextTry(None, f"retry window ({self.window:g}s) spent: {failure.reason}")
        at = min(now + backoff(tried.tries, failure.retry_after, rand), end)
        return NextTry(at, failure.reason)
