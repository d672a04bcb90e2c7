"""Fixtures shared by every package's tests: free loopback ports, polling with a deadline, the
events of JSON log lines and rows of a crawl-master ledger; and the order files run in."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from scrapyfleet.core.procs import free_port

T = TypeVar("T")
SLOW_FIXTURES = {"cluster_factory"}  # a real scrapyd cluster: tens of seconds per test


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with slow tests (marked `slow`, or on a real scrapyd cluster) first, in their own
    order: under `--dist=worksteal` the long tests start at once and the short ones fill in
    behind, instead of one long test running alone at the end."""
    slow = {
        item.path
        for item in items
        if item.get_closest_marker("slow") or SLOW_FIXTURES & set(getattr(item, "fixturenames", ()))
    }
    items.sort(key=lambda item: item.path not in slow)


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 30.0,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Poll `predicate` until it returns a truthy value; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


async def await_for(
    predicate: Callable[[], Awaitable[T]],
    timeout: float = 30.0,  # noqa: ASYNC109 -- a deadline that fails the test with a message
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Async twin of `wait_for`."""
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


@pytest.fixture(name="free_port")
def free_port_fixture() -> Callable[..., int]:
    return free_port


@pytest.fixture(name="wait_for")
def wait_for_fixture() -> Callable[..., object]:
    return wait_for


@pytest.fixture(name="await_for")
def await_for_fixture() -> Callable[..., Awaitable[object]]:
    return await_for


def json_events(text: str, name: str) -> list[dict[str, Any]]:
    """The structlog events called `name` among JSON log lines."""
    found = []
    for line in text.splitlines():
        if line.startswith("{") and f'"{name}"' in line:
            event = json.loads(line)
            if event.get("event") == name:
                found.append(event)
    return found


def ledger_rows(run_dir: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of `sql` on crawl-master's ledger in `run_dir` ([] until the ledger exists)."""
    path = run_dir / "ledger.sqlite"
    if not path.exists():
        return []
    try:
        with sqlite3.connect(path, timeout=5) as db:
            return db.execute(sql).fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []


@pytest.fixture(name="events")
def events_fixture() -> Callable[[str, str], list[dict[str, Any]]]:
    return json_events


@pytest.fixture(name="ledger_rows")
def ledger_rows_fixture() -> Callable[[Path, str], list[tuple[Any, ...]]]:
    return ledger_rows
