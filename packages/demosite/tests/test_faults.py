"""Injected faults over real HTTP: statuses for a count or a time, resets, hangs, healing."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from scrapyfleet.demosite.catalog import Catalog
from scrapyfleet.demosite.faults import Rule

from .conftest import Serve

CATALOG = Catalog(100, 0)


def plan(path: Path, *rules: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"rules": list(rules)}), encoding="utf-8")
    return path


async def status(http: aiohttp.ClientSession, url: str) -> tuple[int, str | None]:
    async with http.get(url) as response:
        await response.read()
        return response.status, response.headers.get("Retry-After")


async def test_first_n_requests_fail_then_the_page_recovers(
    serve: Serve, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    page = CATALOG.listing_path(7)
    base = await serve(CATALOG, faults=plan(tmp_path / "p.json",
                       {"paths": [page], "status": 503, "first": 3, "retry_after": 2}))  # fmt: skip
    answers = [await status(http, base + page) for _ in range(4)]
    assert answers == [(503, "2")] * 3 + [(200, None)]
    assert (await status(http, base + CATALOG.listing_path(8)))[0] == 200  # others unaffected


async def test_failing_for_a_time(
    serve: Serve, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    page = CATALOG.index_path(1)
    base = await serve(CATALOG, faults=plan(tmp_path / "p.json",
                       {"paths": [page], "status": 500, "for_seconds": 0.5}))  # fmt: skip
    started = time.monotonic()
    assert (await status(http, base + page))[0] == 500
    while (await status(http, base + page))[0] == 500:
        assert time.monotonic() - started < 5, "the fault never ended"
        await asyncio.sleep(0.05)
    assert time.monotonic() - started >= 0.5


async def test_permanent_fault_until_the_plan_is_rewritten(
    serve: Serve, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    page, gone = CATALOG.listing_path(42), CATALOG.listing_path(43)
    file = plan(tmp_path / "p.json", {"paths": [page], "status": 500},
                {"paths": [gone], "status": 404})  # fmt: skip
    base = await serve(CATALOG, faults=file)
    for _ in range(5):
        assert (await status(http, base + page))[0] == 500
    assert (await status(http, base + gone))[0] == 404
    plan(file)  # healed
    assert (await status(http, base + page))[0] == 200


async def test_reset_and_hang(serve: Serve, tmp_path: Path) -> None:
    reset, hang = CATALOG.listing_path(44), CATALOG.listing_path(45)
    rules = (
        {"paths": [reset], "action": "reset", "first": 2},
        {"paths": [hang], "action": "hang", "seconds": 1.5, "first": 1},
    )
    base = await serve(CATALOG, faults=plan(tmp_path / "p.json", *rules))
    async with aiohttp.ClientSession() as http:
        await _reset_and_hang(http, base, reset, hang)


async def _reset_and_hang(http: aiohttp.ClientSession, base: str, reset: str, hang: str) -> None:
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await status(http, base + reset)  # aiohttp sends it twice before it gives up
    assert (await status(http, base + reset))[0] == 200
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):
            await status(http, base + hang)
    assert (await status(http, base + hang))[0] == 200


async def test_broken_plan_keeps_serving(
    serve: Serve, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    file = tmp_path / "p.json"
    file.write_text("{not json")
    base = await serve(CATALOG, faults=file)
    assert (await status(http, base + CATALOG.listing_path(1)))[0] == 200


async def stats(http: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    async with http.get(base + "/_site/stats") as response:
        assert response.status == 200
        body: dict[str, Any] = await response.json()
        return body


async def test_a_whole_site_outage_counts_once_for_every_path(
    serve: Serve, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    file = plan(tmp_path / "p.json", {"name": "outage", "paths": "*", "status": 503, "first": 3})
    base = await serve(CATALOG, faults=file)
    pages = [CATALOG.listing_path(1), CATALOG.index_path(0), "/health", CATALOG.listing_path(2)]
    assert [(await status(http, base + p))[0] for p in pages] == [503, 503, 503, 200]
    # The stats page itself is neither counted nor failed.
    counts = await stats(http, base)
    assert counts == {"requests": 4, "in_flight": 0, "max_in_flight": 1, "faults": {"outage": 3}}


async def test_a_prefix_rule_counts_per_path_when_told(
    serve: Serve, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    rule = {"prefix": "/properties/index_", "status": 500, "first": 1, "scope": "path"}
    file = plan(tmp_path / "p.json", rule)
    base = await serve(CATALOG, faults=file)
    pages = [CATALOG.index_path(0), CATALOG.index_path(1), CATALOG.index_path(0)]
    assert [(await status(http, base + p))[0] for p in pages] == [500, 500, 200]
    assert (await status(http, base + CATALOG.listing_path(3)))[0] == 200
    plan(file)  # healed: the counts of what failed stay
    assert (await status(http, base + CATALOG.index_path(1)))[0] == 200
    assert (await stats(http, base))["faults"] == {"rule 1": 2}


async def test_the_site_counts_requests_in_flight(serve: Serve, tmp_path: Path) -> None:
    base = await serve(CATALOG, latency=1.0)  # long enough for all 12 to arrive
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        answers = await asyncio.gather(
            *(status(http, base + CATALOG.listing_path(i)) for i in range(12))
        )
        assert {a[0] for a in answers} == {200}
        counts = await stats(http, base)
    assert counts == {"requests": 12, "in_flight": 0, "max_in_flight": 12, "faults": {}}


def test_bad_rules_are_named() -> None:
    for raw, words in [
        ({"status": 503}, "needs `paths`"),
        ({"paths": "/x", "status": 503}, "needs `paths`"),
        ({"prefix": "x", "status": 503}, "`prefix`"),
        ({"paths": "*", "scope": "site", "status": 503}, "`scope`"),
    ]:
        with pytest.raises(ValueError, match=words):
            Rule.from_json(raw, 1)
