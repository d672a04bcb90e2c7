"""Fixtures shared by every package's tests: free loopback ports and polling with a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from scrapyfleet.core.procs import free_port

T = TypeVar("T")


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
