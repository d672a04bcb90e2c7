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
