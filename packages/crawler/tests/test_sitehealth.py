"""Site health and the domain budget as pure logic, with an injected clock (milliseconds)."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import generate_latest

from scrapyfleet.crawler.master.prometheus import CrawlMetrics
from scrapyfleet.crawler.master.sitebudget import DomainBudget
from scrapyfleet.crawler.master.sitehealth import (
    FIRST_PAUSE,
    HOLD_WHILE_DOWN,
    MIN_REQUESTS,
    PROBE_TIMEOUT,
    RAMP_FULL,
    RAMP_STEP,
    WINDOW,
    SiteHealth,
)
from scrapyfleet.crawler.sitewire import SiteCounts, SiteOrder, parse_sites

SITE = "books.example"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def health(give_up_after: float = 600.0) -> tuple[SiteHealth, Clock, list[str]]:
    clock, events = Clock(), []
    h = SiteHealth(give_up_after, lambda e, d, _: events.append(f"{e} {d}"), clock)
    return h, clock, events


def test_mostly_failing_opens_the_circuit_and_a_few_failures_do_not() -> None:
    h, clock, events = health()
    h.observe("job1", SITE, SiteCounts(ok=90, failed=10))
    h.observe("job2", SITE, SiteCounts(ok=0, failed=MIN_REQUESTS - 1))
    assert events == [] and h.verdict("job1", SITE).hold == 0  # 29 of 119 failed
    clock.now += WINDOW + 1  # the good answers age out of the window
    h.observe("job2", SITE, SiteCounts(ok=1, failed=MIN_REQUESTS))
    assert events == [f"site_down {SITE}"] and h.down() == [SITE]
    assert h.verdict("job1", SITE).hold == HOLD_WHILE_DOWN


def test_too_few_requests_give_no_verdict() -> None:
    h, _, events = health()
    h.observe("job1", SITE, SiteCounts(failed=MIN_REQUESTS - 1))
    assert events == [] and h.verdict("job1", SITE).hold == 0


def down(h: SiteHealth) -> None:
    h.observe("job1", SITE, SiteCounts(failed=MIN_REQUESTS, held=5))
    for job in ("job2", "job3"):
        h.observe(job, SITE, SiteCounts(held=3))


def test_an_outage_after_many_good_answers_is_seen_at_once() -> None:
    h, _, events = health()
    h.observe("job1", SITE, SiteCounts(ok=2000))
    h.observe("job2", SITE, SiteCounts(ok=1, failed=MIN_REQUESTS + 5))
    assert events == [f"site_down {SITE}"]


def test_broken_pages_retried_again_and_again_are_no_site_down() -> None:
    """At a crawl's end only its broken pages are crawled: their retry batches' failures are
    not judged (they would open the circuit, and their probes would fail for ever)."""
    h, clock, events = health()
    h.leased("job1", retried=True)
    for _ in range(5):
        h.observe("job1", SITE, SiteCounts(failed=MIN_REQUESTS))
        clock.now += 1
    assert events == [] and h.verdict("job1", SITE).hold == 0
    h.leased("job1", retried=False)  # its next lease is of fresh URLs: a witness again
    h.observe("job1", SITE, SiteCounts(failed=MIN_REQUESTS))
    assert events == [f"site_down {SITE}"]


def test_a_retrying_holder_probes_only_when_no_other_can() -> None:
    h, clock, _ = health()
    down(h)
    h.leased("job2", retried=True)
    clock.now += FIRST_PAUSE
    assert not h.verdict("job2", SITE).probe, "job1 and job3 hold fresh requests"
    h.observe("job1", SITE, SiteCounts())
    h.observe("job3", SITE, SiteCounts())
    assert h.verdict("job2", SITE).probe, "nobody else holds one"


def test_a_holder_holding_nothing_is_never_granted_the_probe() -> None:
    h, clock, _ = health()
    down(h)
    clock.now += FIRST_PAUSE
    h.observe("master", SITE, SiteCounts())  # its crawl has no request for the site now
    assert not h.verdict("master", SITE).probe
    assert h.verdict("job2", SITE).probe


def test_one_probe_at_a_time_with_growing_pauses_then_a_ramp() -> None:
    h, clock, events = health()
    down(h)
    assert not h.verdict("job1", SITE).probe  # the first pause
    clock.now += FIRST_PAUSE
    assert h.verdict("job1", SITE).probe
    assert not h.verdict("job2", SITE).probe  # one probe at a time
    h.observe("job1", SITE, SiteCounts(failed=1, probe="failed", held=5))
    clock.now += FIRST_PAUSE
    assert not h.verdict("job2", SITE).probe  # the pause doubled
    clock.now += FIRST_PAUSE
    assert h.verdict("job2", SITE).probe
    h.observe("job2", SITE, SiteCounts(failed=1, probe="pending", held=3))
    assert h.down() == [SITE]
    h.observe("job2", SITE, SiteCounts(ok=1, probe="ok"))
    assert events == [f"site_down {SITE}", f"site_up {SITE}"] and h.down() == []
    ramp = [h.verdict("job1", SITE).ramp]
    while ramp[-1] is not None:
        clock.now += RAMP_STEP
        ramp.append(h.verdict("job1", SITE).ramp)
    assert ramp[0] == 1 and ramp[-2] == RAMP_FULL // 2 and ramp == [*sorted(ramp[:-1]), None]
    assert h.verdict("job1", SITE).hold == 0


def test_a_probe_unused_or_unheard_of_goes_to_another_holder() -> None:
    h, clock, _ = health()
    down(h)
    clock.now += FIRST_PAUSE
    assert h.verdict("job1", SITE).probe
    h.observe("job1", SITE, SiteCounts())  # it had no request to send (holds none now)
    assert h.verdict("job2", SITE).probe
    clock.now += PROBE_TIMEOUT + 1  # job2 died with it
    assert h.verdict("job3", SITE).probe


def test_only_the_prober_can_close_the_circuit() -> None:
    h, clock, _ = health()
    down(h)
    clock.now += FIRST_PAUSE
    assert h.verdict("job1", SITE).probe
    h.observe("job2", SITE, SiteCounts(ok=5, probe="ok"))  # not its probe to answer
    assert h.down() == [SITE]


def test_retry_after_holds_the_domain_fleet_wide() -> None:
    h, clock, events = health()
    h.observe("job1", SITE, SiteCounts(ok=10, failed=1, retry_after=5))
    assert events == [f"site_slowed {SITE}"]
    assert h.verdict("job2", SITE).hold == pytest.approx(5)
    assert SITE in h.troubled()
    clock.now += 5
    assert h.verdict("job2", SITE).hold == 0 and SITE not in h.troubled()


def test_a_site_down_longer_than_the_window_is_given_up() -> None:
    h, clock, events = health(give_up_after=60)
    down(h)
    clock.now += 59
    h.check()
    assert not h.verdict("job1", SITE).give_up
    clock.now += 2
    h.check()
    assert h.verdict("job1", SITE).give_up and events[-1] == f"site_given_up {SITE}"


def budget(concurrency: int | None, delay: float = 0.0) -> tuple[DomainBudget, Clock]:
    clock = Clock()
    return DomainBudget(concurrency, delay, clock), clock


def test_the_budget_is_divided_and_never_overbooked_while_shares_move() -> None:
    b, _ = budget(8)
    assert b.share("master", SITE) == (8, 0.0)
    b.heard("master", SITE, inflight=8)
    assert b.share("job1", SITE)[0] == 0  # the master still has 8 in flight
    assert b.share("master", SITE)[0] == 4  # told to halve; until it says so, 8 are charged
    assert b.share("job1", SITE)[0] == 0
    b.heard("master", SITE, inflight=3)
    assert b.share("job1", SITE)[0] == 4
    assert b.share("master", SITE)[0] == 4
    for job in ("job2", "job3"):
        b.heard(job, SITE, 0)
    for holder in ("master", "job1", "job2", "job3"):  # each told its target, or what is free
        b.share(holder, SITE)
    b.heard("master", SITE, 2)
    b.heard("job1", SITE, 2)
    shares = {h: b.share(h, SITE)[0] for h in ("master", "job1", "job2", "job3")}
    assert shares == {"master": 2, "job1": 2, "job2": 2, "job3": 2}


def test_a_leaving_or_silent_holder_returns_its_share() -> None:
    b, clock = budget(6)
    for holder in ("job1", "job2", "job3"):
        b.heard(holder, SITE, 0)
        b.share(holder, SITE)
    assert [b.share(h, SITE)[0] for h in ("job1", "job2", "job3")] == [2, 2, 2]
    assert b.leave("job3") and not b.leave("job3"), "it held a share once"
    assert [b.share(h, SITE)[0] for h in ("job1", "job2")] == [3, 3]
    clock.now += 30
    b.heard("job1", SITE, 3)
    assert b.expire(timeout=20) == ["job2"]
    assert b.share("job1", SITE)[0] == 6


def test_more_holders_than_the_budget_take_turns() -> None:
    b, clock = budget(2)
    holders = ["job1", "job2", "job3"]
    turns: list[tuple[Any, ...]] = []
    for _ in range(3):
        for h in holders:
            b.heard(h, SITE, 0)
        got = tuple(b.share(h, SITE)[0] for h in holders)
        assert sum(got) <= 2
        turns.append(got)
        for h in holders:
            b.heard(h, SITE, 0)
        clock.now += 10
    assert all(any(t[i] for t in turns) for i in range(3))  # nobody starves


def test_the_delay_is_spread_over_the_holders() -> None:
    b, _ = budget(None, delay=0.5)
    b.heard("job1", SITE, 0)
    b.heard("job2", SITE, 0)
    assert b.share("job1", SITE) == (None, 1.0)


def test_wire_shapes_round_trip_and_refuse_garbage() -> None:
    order = SiteOrder(hold=2.5, probe=True, concurrency=3, interval=0.2)
    assert parse_sites({"sites": {SITE: order.to_json()}}, SiteOrder) == {SITE: order}
    counts = SiteCounts(ok=1, failed=2, inflight=3, retry_after=5.0, probe="pending")
    assert parse_sites({"sites": {SITE: counts.to_json()}}, SiteCounts) == {SITE: counts}
    assert parse_sites(None, SiteCounts) == {}
    for bad in ({"sites": []}, {"sites": {SITE: {"ok": -1}}}, {"sites": {SITE: {"probe": "x"}}},
                {"sites": {SITE: {"ok": True}}}, []):  # fmt: skip
        with pytest.raises(ValueError):
            parse_sites(bad, SiteCounts)


def test_site_events_reach_the_metrics() -> None:
    h, _, _ = health()
    down(h)
    metrics = CrawlMetrics()
    metrics({"batches": {}, "urls": {}, "pages": 0, "items": 0, "nodes": {},
             "attempts": {"scheduled": 0, "retries": 0}, "intake_open": False,
             "sites": {"down": h.down(), "events": list(h.events)}})  # fmt: skip
    text = generate_latest(metrics.registry).decode()
    assert "scrapyfleet_crawl_sites_down 1.0" in text
    assert "scrapyfleet_crawl_intake_open 0.0" in text
    assert 'scrapyfleet_crawl_site_events_total{event="site_down"} 1.0' in text
