"""The web console of a real monitor process under attack from 127.0.0.2 (every 127/8 address is
loopback on Linux) while a real client on 127.0.0.1 keeps being answered: 1,000 idle and slow
connections, 100 event streams, a basic-auth brute force; and a password on the command line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from scrapyfleet.core.httpgate import MAX_LINGERING
from scrapyfleet.core.httpguard import Limits
from scrapyfleet.core.loginthrottle import LoginRules

ATTACKER, REAL = "127.0.0.2", "127.0.0.1"
LIMITS, RULES = Limits(), LoginRules()  # the monitor's defaults
WaitFor = Callable[..., Any]
Opened = tuple[asyncio.StreamReader, asyncio.StreamWriter]

pytestmark = pytest.mark.slow


def start_console(run_monitor: Callable[..., Any], tmp_path: Path, wait_for: WaitFor) -> Any:
    """A monitor with its console, polling a node that is not there (the console is the target)."""
    from scrapyfleet.core.procs import free_port

    monitor = run_monitor(
        "--targets", f"http://127.0.0.1:{free_port()}", "--interval", "0.5", "--web",
        "127.0.0.1:0", cwd=tmp_path,
    )  # fmt: skip
    return monitor, wait_for(lambda: monitor.find(event="web_console"), 30, what="console")["url"]


async def session_get(
    url: str, source: str = REAL, password: str | None = None
) -> tuple[int, bytes]:
    connector = aiohttp.TCPConnector(local_addr=(source, 0), force_close=True)
    auth = {"Authorization": aiohttp.encode_basic_auth("ops", password)} if password else {}
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.get(url, headers=auth, timeout=aiohttp.ClientTimeout(total=20)) as response,
    ):
        return response.status, await response.content.read(4096)


async def first_bytes(reader: asyncio.StreamReader, wait: float) -> bytes | None:
    """What the server sent and closed with within `wait` seconds; None if it holds on."""
    try:
        return await asyncio.wait_for(reader.read(4096), wait)
    except TimeoutError:
        return None
    except ConnectionResetError:
        return b""


async def open_many(port: int, count: int, first: bytes) -> list[Opened]:
    """`count` connections from ATTACKER, 50 at a time, each sending `first`."""
    opened: list[Opened] = []
    for start in range(0, count, 50):
        batch = await asyncio.gather(
            *(
                asyncio.open_connection("127.0.0.1", port, local_addr=(ATTACKER, 0))
                for _ in range(min(50, count - start))
            )
        )
        for _, writer in batch:
            writer.write(first)
        opened += batch
    return opened


async def test_idle_and_slow_connections_and_streams_are_capped(
    tmp_path: Path, run_monitor: Callable[..., Any], wait_for: WaitFor
) -> None:
    monitor, url = start_console(run_monitor, tmp_path, wait_for)
    port = int(url.rsplit(":", 1)[1].strip("/"))
    assert (await session_get(url + "snapshot.json"))[0] in (200, 503)  # 503 before a first poll
    started = time.monotonic()
    idle = await open_many(port, 500, b"")
    slow = await open_many(port, 500, b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # never finished
    answers = await asyncio.gather(*(first_bytes(r, 1.0) for r, _ in idle + slow))
    held = [pair for pair, a in zip(idle + slow, answers, strict=True) if a is None]
    refused = [a for a in answers if a is not None]
    assert len(held) == LIMITS.per_address, f"{len(held)} of 1,000 connections held"
    busy = [a for a in refused if a.startswith(b"HTTP/1.1 503")]
    assert all(b"over 32 connections from one address" in a for a in busy)
    # each refused one is answered 503; past MAX_LINGERING refused at once (a flood), some are
    # closed with their request still unread, which the client sees as a reset
    assert len(busy) >= min(MAX_LINGERING, len(refused)) and set(refused) - set(busy) <= {b""}
    print(
        f"1,000 connections from one address: {len(held)} held, {len(busy)} answered 503, "
        f"{len(refused) - len(busy)} reset"
    )
    status, body = await session_get(url)  # the real client, meanwhile
    assert status == 200 and b"<html" in body.lower()
    closed = await asyncio.gather(*(first_bytes(r, 30) for r, _ in held))
    took = time.monotonic() - started
    assert closed == [b""] * len(held)  # closed by the console: no headers within the deadline
    assert took < LIMITS.header_timeout + 10, f"held ones closed after {took:.0f}s"
    for _, writer in idle + slow:
        writer.close()

    streams = await open_many(port, 100, b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    heads = await asyncio.gather(*(first_bytes(r, 5) for r, _ in streams))
    opened = [h for h in heads if h and h.startswith(b"HTTP/1.1 200")]
    too_many_streams = [h for h in heads if h and b"over 8 event streams" in h]
    assert len(opened) == LIMITS.streams_per_address
    assert len(too_many_streams) == LIMITS.per_address - LIMITS.streams_per_address
    others = [h[:12] if h else h for h in heads if h not in opened]
    assert len(others) == 100 - LIMITS.streams_per_address
    assert set(others) == {b"HTTP/1.1 503"}, set(others)
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(REAL, 0))
    writer.write(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"event: snapshot" in await asyncio.wait_for(reader.readuntil(b"\n\n"), 10) + (
        await asyncio.wait_for(reader.readuntil(b"event: snapshot"), 10)
    )
    writer.close()
    for _, w in streams:
        w.close()
    reasons = {e["reason"] for e in monitor.events if e["event"] == "http_refused"}
    assert {"over 32 connections from one address", "over 8 event streams from one address"} <= (
        reasons
    )
    assert monitor.process.poll() is None


async def test_basic_auth_brute_force_is_delayed_then_banned(
    tmp_path: Path,
    run_monitor: Callable[..., Any],
    wait_for: WaitFor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SCRAPYFLEET_MONITOR_WEB_PASSWORD", "right one")
    from scrapyfleet.core.procs import free_port

    monitor = run_monitor(
        "--targets", f"http://127.0.0.1:{free_port()}", "--interval", "0.5", "--web",
        "127.0.0.1:0", "--web-user", "ops", cwd=tmp_path,
    )  # fmt: skip
    url = wait_for(lambda: monitor.find(event="web_console"), 30, what="console")["url"]
    page = url + "snapshot.json"

    async def guess(n: int) -> tuple[int, float]:
        begun = time.monotonic()
        status, _ = await session_get(page, ATTACKER, f"guess {n}")
        return status, time.monotonic() - begun

    started = time.monotonic()
    guesses = await asyncio.gather(*(guess(n) for n in range(30)))  # at once, 30 connections
    took = time.monotonic() - started
    statuses = sorted(s for s, _ in guesses)
    assert statuses == [401] * (RULES.ban_after - 1) + [429] * (31 - RULES.ban_after)
    slowest = max(t for s, t in guesses if s == 401)
    assert slowest >= RULES.max_delay  # the later failures waited their growing delay
    print(f"30 parallel guesses answered in {took:.1f}s; then banned for {RULES.ban:.0f}s")

    right = "right one"
    assert (await session_get(page, ATTACKER, right))[0] == 429  # banned, however right
    assert (await session_get(page, REAL, right))[0] in (200, 503)  # another address: let in
    assert (await session_get(page, REAL, "typo"))[0] == 401
    assert (await session_get(page, REAL))[0] == 401  # no credentials: asked, not counted
    banned = wait_for(lambda: monitor.find(event="login_banned"), 10, what="login_banned")
    assert banned["peer"] == ATTACKER


def test_password_in_targets_is_warned_with_the_variable(tmp_path: Path) -> None:
    from scrapyfleet.core.procs import free_port

    node = f"127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "scrapyfleet.monitor.cli", "--log-format", "json", "--once"]
    inline = subprocess.run(
        [*command, "--targets", f"http://ops:s3cret@{node}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert inline.returncode == 1  # the node is not there
    warning = next(
        line for line in inline.stdout.splitlines() if "password_on_command_line" in line
    )
    assert '"option": "--targets"' in warning and '"use": "SCRAPYFLEET_MONITOR_TARGETS"' in warning
    assert "s3cret" not in inline.stdout + inline.stderr
    env = {**os.environ, "SCRAPYFLEET_MONITOR_TARGETS": f"http://ops:s3cret@{node}"}
    quiet = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env
    )
    assert quiet.returncode == 1 and "password_on_command_line" not in quiet.stdout
