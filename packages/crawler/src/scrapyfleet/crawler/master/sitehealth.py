"""Site health across the fleet: one circuit per domain, fed by every job's renewals and the
master's own crawl (docs/architecture.md, "Site health and the domain budget").

A domain's circuit opens (`site_down`) when of its latest answers (the fewest reports back
from the newest, within WINDOW seconds, that hold at least MIN_REQUESTS answers) at least
FAILING failed transiently (5xx, 429, 408, timeouts, resets): a site that just went down is
judged on what it answers now, not on the good answers before. While open every holder (a job,
or the master) holds the domain's requests; after a pause one holder at a time is granted a
probe, one request; a failed probe doubles the pause (up to PAUSE_CAP), a probe that answers
closes the circuit (`site_up`) and the fleet ramps back up: each holder may keep 1 request in
flight, doubling every RAMP_STEP seconds until RAMP_FULL. A `Retry-After` (429/503) holds the
domain fleet-wide that long (`site_slowed`). A domain down longer than `give_up_after` (the
retry window) is given up (`site_given_up`): its held requests fail with the reason "site
down". A holder crawling a retry batch (URLs that failed before) is no witness against its
site: a few broken pages failing again and again are not a site down, so its failures are not
judged, and it probes only when no other holder can. Pure logic, clock injected.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from scrapyfleet.core.contracts import Events
from scrapyfleet.crawler.outcomes import RETRY_AFTER_CAP
from scrapyfleet.crawler.sitewire import SiteCounts

log = structlog.get_logger("scrapyfleet.crawler.master.sitehealth")

WINDOW = 10.0  # seconds of answers judged
MIN_REQUESTS = 20  # answers in the window before a verdict
FAILING = 0.8  # share of transient failures that opens the circuit
FIRST_PAUSE = 1.0  # seconds from opening to the first probe
PAUSE_CAP = 30.0  # longest pause between probes
PROBE_TIMEOUT = 30.0  # a probe unheard of this long is granted to another holder
HOLD_WHILE_DOWN = 10.0  # seconds a holder holds on one order while the circuit is open
RAMP_STEP = 2.0  # seconds per doubling of each holder's concurrency after the site is back
RAMP_FULL = 64  # the ramp's end: no limit from it
EVENTS_KEPT = 200  # events kept for the summary

OnEvent = Callable[[str, str, dict[str, Any]], None]  # event, domain, details


@dataclass(slots=True)
class Circuit:
    """One domain's recent answers and its circuit."""

    samples: deque[tuple[float, int, int]] = field(default_factory=deque)  # (time, ok, failed)
    down_since: float | None = None
    pause: float = FIRST_PAUSE
    next_probe: float = 0.0
    prober: str | None = None
    probe_since: float = 0.0
    up_since: float | None = None  # the ramp's start
    quiet_until: float = 0.0  # Retry-After
    given_up: bool = False
    probes: int = 0
    held: dict[str, int] = field(default_factory=dict)  # holder -> requests it holds


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the circuit tells one holder about one domain (`SiteOrder` without the budget)."""

    hold: float = 0.0
    probe: bool = False
    ramp: int | None = None  # concurrency limit of the ramp (None: none)
    give_up: bool = False


class SiteHealth:
    """The circuits of every domain the fleet crawls."""

    def __init__(
        self,
        give_up_after: float,
        on_event: OnEvent | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.give_up_after, self.on_event, self.clock = give_up_after, on_event, clock
        self.circuits: dict[str, Circuit] = {}
        self.retrying: set[str] = set()  # holders crawling a retry batch now
        self.events: deque[dict[str, Any]] = deque(maxlen=EVENTS_KEPT)

    def _event(self, name: str, domain: str, **details: Any) -> None:
        self.events.append({"event": name, "domain": domain, "at": time.time(), **details})
        if self.on_event is not None:
            self.on_event(name, domain, details)

    def leased(self, holder: str, retried: bool) -> None:
        """`holder` starts a batch: one of URLs that failed before (`retried`), or not."""
        if retried:
            self.retrying.add(holder)
        else:
            self.retrying.discard(holder)

    def observe(self, holder: str, domain: str, counts: SiteCounts) -> None:
        """`holder`'s answers from `domain` since its last word."""
        now = self.clock()
        c = self.circuits.setdefault(domain, Circuit())
        if counts.retry_after:
            until = now + min(counts.retry_after, RETRY_AFTER_CAP)
            if until > c.quiet_until + 1.0:
                self._event(
                    Events.SITE_SLOWED, domain, seconds=round(until - now, 1), holder=holder
                )
            c.quiet_until = max(c.quiet_until, until)
        c.held[holder] = counts.held
        if c.prober == holder:
            self._probed(domain, c, counts, now)
        if c.down_since is not None:
            return  # only a probe tells whether it is back
        c.samples.append((now, counts.ok, 0 if holder in self.retrying else counts.failed))
        while c.samples and c.samples[0][0] < now - WINDOW:
            c.samples.popleft()
        ok = failed = 0
        for _, ok_now, failed_now in reversed(c.samples):  # the latest answers first
            ok, failed = ok + ok_now, failed + failed_now
            if ok + failed >= MIN_REQUESTS:
                break
        if ok + failed >= MIN_REQUESTS and failed >= FAILING * (ok + failed):
            c.down_since, c.pause, c.next_probe = now, FIRST_PAUSE, now + FIRST_PAUSE
            c.samples.clear()
            c.up_since = None
            self._event(Events.SITE_DOWN, domain, failed=failed, answered=ok + failed)

    def _probed(self, domain: str, c: Circuit, counts: SiteCounts, now: float) -> None:
        if counts.probe == "pending":
            return
        log.info("site_probed", domain=domain, holder=c.prober, probe=counts.probe or "not sent")
        c.prober = None  # answered, failed, or not sent (the holder had no request to probe)
        if counts.probe == "ok" and c.down_since is not None:
            down = now - c.down_since
            c.down_since, c.up_since = None, now
            self._event(Events.SITE_UP, domain, down_seconds=round(down, 1), probes=c.probes)
        elif counts.probe == "failed" and c.down_since is not None:
            c.pause = min(PAUSE_CAP, c.pause * 2)
            c.next_probe = now + c.pause

    def verdict(self, holder: str, domain: str) -> Verdict:
        """What `holder` does with `domain` now (granting it the probe if one is due)."""
        now = self.clock()
        c = self.circuits.setdefault(domain, Circuit())
        if c.given_up:
            return Verdict(give_up=True)
        if c.down_since is not None:
            stale = c.prober is not None and now - c.probe_since > PROBE_TIMEOUT
            due = (c.prober is None or stale) and now >= c.next_probe
            if due and c.held.get(holder, 0) > 0 and self._may_probe(c, holder):
                c.prober, c.probe_since = holder, now
                c.probes += 1
                log.info("site_probe", domain=domain, holder=holder, probe=c.probes,
                         pause=c.pause)  # fmt: skip
                return Verdict(hold=HOLD_WHILE_DOWN, probe=True)
            return Verdict(hold=HOLD_WHILE_DOWN)
        ramp = None
        if c.up_since is not None:
            ramp = 2 ** int((now - c.up_since) / RAMP_STEP)
            if ramp >= RAMP_FULL:
                c.up_since, ramp = None, None
        return Verdict(hold=max(0.0, c.quiet_until - now), ramp=ramp)

    def _may_probe(self, c: Circuit, holder: str) -> bool:
        """A retrying holder probes only when no other holds a request (its URLs may fail whether
        the site is back or not)."""
        return holder not in self.retrying or not any(
            n > 0 for other, n in c.held.items() if other not in self.retrying
        )

    def forget(self, holder: str) -> None:
        """`holder` crawls nothing now."""
        self.retrying.discard(holder)
        for c in self.circuits.values():
            c.held.pop(holder, None)

    def troubled(self) -> list[str]:
        """Domains every holder must hear of: down, given up, held by a Retry-After or
        ramping up."""
        now = self.clock()
        return [d for d, c in self.circuits.items() if c.down_since is not None or c.given_up
                or c.quiet_until > now or c.up_since is not None]  # fmt: skip

    def check(self) -> None:
        """Give up the domains down longer than `give_up_after`."""
        now = self.clock()
        for domain, c in self.circuits.items():
            down = None if c.down_since is None or c.given_up else now - c.down_since
            if down is not None and down > self.give_up_after:
                c.given_up = True
                self._event(Events.SITE_GIVEN_UP, domain, down_seconds=round(down))

    def down(self) -> list[str]:
        """Domains whose circuit is open now."""
        return [d for d, c in self.circuits.items() if c.down_since is not None]
