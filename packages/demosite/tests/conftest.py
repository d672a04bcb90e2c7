"""Fixtures: the demo site served for real on 127.0.0.1:<free port>, and an HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from scrapyfleet.demosite.catalog import Catalog
from scrapyfleet.demosite.site import make_app

Serve = Callable[..., Awaitable[str]]


@pytest.fixture
async def serve(free_port: Callable[[], int]) -> AsyncIterator[Serve]:
    """`await serve(catalog, latency=0.0, faults=None)` -> base URL; every site is stopped
    afterwards."""
    runners: list[web.AppRunner] = []

    async def start(catalog: Catalog, latency: float = 0.0, faults: Path | None = None) -> str:
        runner = web.AppRunner(make_app(catalog, latency, faults), access_log=None)
        await runner.setup()
        runners.append(runner)
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session
