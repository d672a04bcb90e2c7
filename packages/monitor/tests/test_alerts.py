"""Alert delivery against real local receivers (aiohttp on 127.0.0.1): retries with backoff,
bounded attempts, order, and a poll loop that never waits for a webhook."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from structlog.testing import capture_logs

from scrapyfleet.core.procs import free_port
from scrapyfleet.monitor.alerts import Alerts, Delivery, document
from scrapyfleet.monitor.daemon import Event

AwaitFor = Callable[..., Awaitable[Any]]
FAST = Delivery(attempts=4, timeout=2.0, backoff=0.05, max_backoff=0.2)
DOWN = Event("node_down", "warning", {"node": "scrapyd1", "url": "http://x", "reason": "refused"})


async def receiver(aiohttp_server: Any, fail: int = 0, delay: float = 0.0) -> tuple[str, list[Any]]:
    """A receiver whose first `fail` requests get 500; every request waits `delay` seconds."""
    got: list[Any] = []
    requests = 0

    async def hook(request: web.Request) -> web.Response:
        nonlocal requests
        requests += 1
        await asyncio.sleep(delay)
        if requests <= fail:
            return web.Response(status=500)
        got.append(await request.json())
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = await aiohttp_server(app)
    return str(server.make_url("/hook")), got


def test_document_is_the_event_shape() -> None:
    doc = document(DOWN, "2025-01-01T00:00:00Z")
    assert doc == {"event": "node_down", "level": "warning", "timestamp": "2025-01-01T00:00:00Z",
                   "node": "scrapyd1", "url": "http://x", "reason": "refused"}  # fmt: skip


async def test_retries_until_delivered_and_counts_outcomes(
    aiohttp_server: Any, await_for: AwaitFor
) -> None:
    flaky, got = await receiver(aiohttp_server, fail=2)
    outcomes: list[str] = []
    async with aiohttp.ClientSession() as session:
        alerts = Alerts([flaky], session, FAST, outcomes.append)
        with capture_logs() as logs:
            alerts.submit([DOWN, Event("node_status", "info", {"node": "scrapyd1"})])
            await await_for(lambda: asyncio.sleep(0, got), 10, what="delivery")
            await alerts.close()
    assert [d["event"] for d in got] == ["node_down"]  # node_status is no alert
    assert outcomes == ["sent"]
    sent = [e for e in logs if e["event"] == "alert_sent"]
    assert sent and sent[0]["attempts"] == 3 and sent[0]["alert"] == "node_down"


async def test_bounded_attempts_end_in_alert_failed_with_reason(aiohttp_server: Any) -> None:
    broken, got = await receiver(aiohttp_server, fail=100)
    dead = f"http://127.0.0.1:{free_port()}/hook"
    outcomes: list[str] = []
    async with aiohttp.ClientSession() as session:
        alerts = Alerts([broken, dead], session, FAST, outcomes.append)
        with capture_logs() as logs:
            alerts.submit([DOWN])
            await alerts.close(grace=10)
    failed = {e["webhook"]: e for e in logs if e["event"] == "alert_failed"}
    assert failed[broken]["reason"] == "HTTP 500" and failed[broken]["attempts"] == 4
    assert failed[dead]["reason"] == "cannot connect"
    assert outcomes == ["failed", "failed"] and got == []


async def test_submit_never_waits_and_order_is_kept(
    aiohttp_server: Any, await_for: AwaitFor
) -> None:
    slow, got = await receiver(aiohttp_server, delay=0.3)
    events = [
        Event(name, "info", {"n": i}) for i, name in enumerate(["node_down", "node_recovered"] * 3)
    ]
    async with aiohttp.ClientSession() as session:
        alerts = Alerts([slow], session, FAST)
        started = time.monotonic()
        alerts.submit(events)
        assert time.monotonic() - started < 0.05
        await await_for(lambda: asyncio.sleep(0, len(got) == 6), 10, what="six alerts")
        await alerts.close()
    assert [d["n"] for d in got] == list(range(6))


async def test_timeout_per_post(aiohttp_server: Any) -> None:
    hanging, _ = await receiver(aiohttp_server, delay=5)
    async with aiohttp.ClientSession() as session:
        alerts = Alerts([hanging], session, Delivery(attempts=2, timeout=0.2, backoff=0.01))
        with capture_logs() as logs:
            alerts.submit([DOWN])
            await alerts.close(grace=5)
    failed = [e for e in logs if e["event"] == "alert_failed"]
    assert failed and failed[0]["reason"] == "timeout after 0.2s"
