"""The site gate's holding logic on its own (asyncio, no network): the real crawls are in
test_site_outage.py."""

from __future__ import annotations

import asyncio

import pytest

from scrapyfleet.crawler.sitegate import BURST, GateState, SiteDown
from scrapyfleet.crawler.sitewire import SiteOrder

SITE = "books.example"


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_held_domain_lets_only_the_granted_probe_through() -> None:
    state = GateState()
    gate = state.domain(SITE)
    state.obey({SITE: SiteOrder(hold=30)})
    waiting = [asyncio.ensure_future(gate.enter()) for _ in range(5)]
    await settle()
    assert not any(w.done() for w in waiting)
    state.obey({SITE: SiteOrder(hold=30, probe=True)})
    await settle()
    assert [w.result() for w in waiting if w.done()] == [True]  # one probe
    assert state.report()[SITE].probe == "pending"
    gate.leave(failed=False, probe=True)
    assert state.urgent.is_set() and state.report()[SITE].probe == "ok"
    state.obey({SITE: SiteOrder(hold=0)})
    await settle()
    assert all(w.done() for w in waiting)


async def test_the_share_bounds_requests_in_flight() -> None:
    state = GateState()
    gate = state.domain(SITE)
    state.obey({SITE: SiteOrder(concurrency=2)})
    waiting = [asyncio.ensure_future(gate.enter()) for _ in range(4)]
    await settle()
    assert sum(w.done() for w in waiting) == 2 and gate.inflight == 2
    gate.leave(failed=False, probe=False)
    await settle()
    assert sum(w.done() for w in waiting) == 3 and gate.inflight == 2
    state.obey({SITE: SiteOrder(concurrency=None)})
    await settle()
    assert all(w.done() for w in waiting)


async def test_a_burst_of_failures_holds_at_once_and_asks_early() -> None:
    state = GateState()
    gate = state.domain(SITE)
    for _ in range(BURST):
        await gate.enter()
        gate.leave(failed=True, probe=False)
    assert state.urgent.is_set()
    late = asyncio.ensure_future(gate.enter())
    await settle()
    assert not late.done()
    assert state.report()[SITE].failed == BURST
    state.obey({SITE: SiteOrder(hold=0)})  # the master disagrees: go
    await settle()
    assert late.done()


async def test_failures_in_a_row_after_many_answers_hold_at_once_and_are_told_alone() -> None:
    """A fast job has many good answers since its last renewal when the site goes down: a burst
    of failures in a row holds at once, and its report does not drown them in those answers."""
    state = GateState()
    gate = state.domain(SITE)
    for failed in [False] * (5 * BURST) + [True] * BURST:
        await gate.enter()
        gate.leave(failed=failed, probe=False)
    assert state.urgent.is_set()
    late = asyncio.ensure_future(gate.enter())
    await settle()
    assert not late.done()
    counts = state.report()[SITE]
    assert (counts.ok, counts.failed) == (0, BURST)


async def test_a_few_broken_pages_retried_are_no_burst() -> None:
    state = GateState()
    gate = state.domain(SITE)
    for _ in range(5 * BURST):
        await gate.enter()
        gate.leave(failed=False, probe=False)
    for first in [True, False, False, False] * (BURST // 2):  # each page tried 4 times
        await gate.enter()
        gate.leave(failed=True, probe=False, first=first)
    assert not state.urgent.is_set()


async def test_an_answer_to_a_report_sent_before_a_burst_does_not_lift_it() -> None:
    state = GateState()
    gate = state.domain(SITE)
    state.report()  # a renewal goes out; its answer comes back after the burst
    for _ in range(BURST):
        await gate.enter()
        gate.leave(failed=True, probe=False)
    state.obey({SITE: SiteOrder(hold=0)})
    late = asyncio.ensure_future(gate.enter())
    await settle()
    assert not late.done(), "that answer knew nothing of the burst"
    assert state.report()[SITE].failed == BURST
    state.obey({SITE: SiteOrder(hold=0)})  # the master's word on the burst: go
    await settle()
    assert late.done()


async def test_retry_after_holds_the_domain_and_giving_up_fails_what_waits() -> None:
    state = GateState()
    gate = state.domain(SITE)
    await gate.enter()
    gate.leave(failed=True, probe=False, retry_after=30)
    assert state.report()[SITE].retry_after == 30
    held = asyncio.ensure_future(gate.enter())
    await settle()
    assert not held.done()
    state.obey({SITE: SiteOrder(give_up=True)})
    with pytest.raises(SiteDown):
        await held


async def test_a_domain_new_to_a_budgeted_job_waits_for_its_share() -> None:
    state = GateState()
    state.obey({SITE: SiteOrder(concurrency=2)})
    other = asyncio.ensure_future(state.domain("other.example").enter())
    await settle()
    assert not other.done() and state.urgent.is_set()
    state.obey({"other.example": SiteOrder(concurrency=1)})
    await settle()
    assert other.done()
