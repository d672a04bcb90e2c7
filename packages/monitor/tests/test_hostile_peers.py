"""Hostile peers against a real monitor process: nodes answering deeply nested JSON or 200 MB,
a crawl-master answering 200 MB, a nested shifts.json, a node redirecting its job logs. The
monitor stays up with bounded memory; the hostile ones are down (or failed) with the reason."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest
from aiohttp import web

HUGE = 200 * 2**20
MiB = b"a" * 2**20
RSS_BOUND = 250 * 2**20  # loose: the monitor idles near 60 MB; unbounded reads took it to 459 MB
WaitFor = Callable[..., Any]


def hostile_app() -> web.Application:
    """/nested/*: JSON 100,000 levels deep; /huge/*: 200 MB, chunked (never held in memory)."""

    async def nested(request: web.Request) -> web.Response:
        return web.Response(body=b"[" * 100_000 + b"]" * 100_000, content_type="application/json")

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        try:
            await response.write(b'{"status": "ok", "pad": "')
            for _ in range(HUGE // len(MiB)):
                await response.write(MiB)
        except (ConnectionError, aiohttp.ClientConnectionResetError):
            pass  # the reader hung up at its cap
        return response

    app = web.Application()
    app.router.add_get("/nested/{endpoint}", nested)
    app.router.add_get("/huge/{endpoint}", huge)
    return app


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.mark.slow
def test_hostile_nodes_and_sources_are_down_with_reasons(
    tmp_path: Path,
    scrapyd_node: Callable[..., Any],
    run_monitor: Callable[..., Any],
    serve_app: Callable[[web.Application], str],
    wait_for: WaitFor,
    write_config: Callable[..., Path],
) -> None:
    real = scrapyd_node()
    write_config(tmp_path, {"scrapyd1": real})
    hostile = serve_app(hostile_app())
    analytics = tmp_path / "analytics"
    analytics.mkdir()
    (analytics / "shifts.json").write_text('{"words": ' + "[" * 100_000 + "]" * 100_000 + "}")
    monitor = run_monitor(
        "--targets", "scrapyd1", f"{hostile}/nested", f"{hostile}/huge", "--interval", "0.5",
        "--timeout", "10", "--web", "127.0.0.1:0", "--crawl-metrics", f"{hostile}/huge/metrics",
        "--analytics-output", str(analytics), cwd=tmp_path,
    )  # fmt: skip
    url = wait_for(lambda: monitor.find(event="web_console"), 30, what="console URL")["url"]
    nested = wait_for(lambda: monitor.find(event="node_down", url=f"{hostile}/nested"), 30)
    huge = wait_for(lambda: monitor.find(event="node_down", url=f"{hostile}/huge"), 30)
    assert "JSON nested deeper than 32 levels" in nested["reason"]
    assert huge["reason"] == "answer over 8 MiB"

    process = psutil.Process(monitor.process.pid)
    peak, polls = 0, len([e for e in monitor.events if e["event"] == "cluster_status"])

    def ten_more_polls() -> bool:
        nonlocal peak
        peak = max(peak, process.memory_info().rss)
        return len([e for e in monitor.events if e["event"] == "cluster_status"]) >= polls + 10

    wait_for(ten_more_polls, 60, interval=0.02, what="ten polls with hostile peers")
    assert monitor.process.poll() is None, monitor.stderr.read_text()
    assert peak < RSS_BOUND, f"monitor RSS peaked at {peak / 2**20:.0f} MB"
    print(f"monitor RSS peak over 10 hostile polls: {peak / 2**20:.0f} MB")
    statuses = [e for e in monitor.events if e["event"] == "node_status"]
    assert statuses and all(e["node"] == "scrapyd1" for e in statuses)  # the real node goes on

    status, text = get(url + "snapshot.json")
    assert status == 200
    snap = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in snapshot.json"))
    assert [n["up"] for n in snap["nodes"]] == [True, False, False]
    assert snap["crawl"] == {"state": "failed", "reason": "answer over 1 MiB"}
    assert snap["analysis"]["reason"] == "shifts.json: JSON nested deeper than 32 levels"
    assert "Traceback" not in monitor.stderr.read_text()


@pytest.mark.slow
def test_log_proxy_refuses_a_nodes_redirect(
    tmp_path: Path,
    run_monitor: Callable[..., Any],
    serve_app: Callable[[web.Application], str],
    wait_for: WaitFor,
) -> None:
    stolen: list[str] = []

    async def elsewhere(request: web.Request) -> web.Response:
        stolen.append(request.headers.get("Authorization", ""))
        return web.Response(text="somebody else's secrets\n")

    elsewhere_app = web.Application()
    elsewhere_app.router.add_get("/{tail:.*}", elsewhere)
    other = serve_app(elsewhere_app)

    async def node(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"{other}/internal/secrets")

    node_app = web.Application()
    node_app.router.add_get("/logs/{tail:.*}", node)
    redirecting = serve_app(node_app)
    name = redirecting.removeprefix("http://")
    monitor = run_monitor(
        "--targets", f"http://ops:pw@{name}", "--interval", "0.5", "--web", "127.0.0.1:0",
        cwd=tmp_path,
    )  # fmt: skip
    url = wait_for(lambda: monitor.find(event="web_console"), 30, what="console URL")["url"]
    status, text = get(f"{url}nodes/{urllib.parse.quote(name, safe='')}/logs/tiny/wait/j1.log")
    assert status == 502
    assert f"{name} redirected (HTTP 302) to '{other}/internal/secrets': not followed" in text
    assert stolen == []  # never asked, with or without the node's credentials
