"""httpguard on a real aiohttp server on loopback, with small limits: clients from 127.0.0.2 and
127.0.0.3 (every 127/8 address is loopback on Linux) attack, 127.0.0.1 is the real client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web

from scrapyfleet.core import httpguard

LIMITS = httpguard.Limits(
    header_timeout=0.5,
    body_timeout=0.5,
    send_timeout=0.5,
    per_address=3,
    total=5,
    streams_per_address=2,
    streams_total=3,
)
ATTACKER, OTHER, REAL = "127.0.0.2", "127.0.0.3", "127.0.0.1"
Streams = list[asyncio.StreamWriter]
Connect = Callable[[str], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


def make_app() -> tuple[web.Application, list[str]]:
    ended: list[str] = []

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text=f"hello {len(await request.read())}\n")

    async def events(request: web.Request) -> web.StreamResponse:
        guard = request.app[httpguard.GUARD]
        async with guard.stream(request):
            response = web.StreamResponse()
            await response.prepare(request)
            try:
                while True:  # 1 MiB writes to a client that may never read them
                    await guard.send(request, response, b"x" * 2**20)
            except ConnectionResetError as e:
                ended.append(str(e))
            return response

    app = web.Application()
    httpguard.install(app, "test", LIMITS)
    app.router.add_route("*", "/", hello)
    app.router.add_get("/events", events)
    return app, ended


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, list[str]]]:
    app, ended = make_app()
    runner = await httpguard.serve(app, "127.0.0.1", 0, access_log=None)
    yield int(runner.addresses[0][1]), ended
    await runner.cleanup()


@pytest.fixture
async def connect(server: tuple[int, list[str]]) -> AsyncIterator[Connect]:
    opened: Streams = []

    async def open_from(source: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", server[0], local_addr=(source, 0)
        )
        opened.append(writer)
        return reader, writer

    yield open_from
    for writer in opened:
        writer.close()


async def answer(reader: asyncio.StreamReader) -> bytes:
    """What the server sends until it closes (bounded)."""
    return await asyncio.wait_for(reader.read(65536), 5)


async def get(port: int, source: str = REAL, path: str = "/") -> tuple[int, str]:
    connector = aiohttp.TCPConnector(local_addr=(source, 0), force_close=True)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, await response.text()


async def test_connections_capped_per_address_then_in_total(
    server: tuple[int, list[str]], connect: Connect
) -> None:
    port = server[0]
    held = [await connect(ATTACKER) for _ in range(3)]
    reader, _ = await connect(ATTACKER)
    refused = await answer(reader)
    assert refused.startswith(b"HTTP/1.1 503") and b"over 3 connections from one address" in refused
    assert await get(port) == (200, "hello 0\n")  # another address still gets in
    held += [await connect(OTHER) for _ in range(2)]  # 5 open: the total
    assert (await get(port))[0] == 503
    held[0][1].close()
    await held[0][1].wait_closed()

    async def answered() -> bool:
        return (await get(port))[0] == 200

    deadline = time.monotonic() + 5
    while not await answered():  # the server notices the closed connection within a moment
        assert time.monotonic() < deadline, "a freed slot was never reused"
        await asyncio.sleep(0.05)


async def test_headers_and_idle_connections_have_a_deadline(connect: Connect) -> None:
    started = time.monotonic()
    idle_reader, _ = await connect(ATTACKER)
    slow_reader, slow = await connect(ATTACKER)
    slow.write(b"GET / HTTP/1.1\r\nHost: x\r\n")

    async def trickle() -> None:
        for _ in range(40):  # a header byte every 0.1 s: never done
            await asyncio.sleep(0.1)
            if slow.is_closing():
                return
            slow.write(b"X")

    trickling = asyncio.create_task(trickle())
    assert await answer(idle_reader) == b""  # closed by the server
    assert await answer(slow_reader) == b""
    took = time.monotonic() - started
    trickling.cancel()
    assert took < 2.5, f"closed after {took:.1f}s (header_timeout 0.5s)"


async def test_body_has_a_deadline(connect: Connect) -> None:
    reader, writer = await connect(ATTACKER)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
    started = time.monotonic()
    reply = await answer(reader)
    assert reply.startswith(b"HTTP/1.1 408") and b"body not sent within 0.5s" in reply
    assert time.monotonic() - started < 2.5


async def test_a_client_gone_mid_body_is_refused_without_a_traceback(
    server: tuple[int, list[str]], connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    _, writer = await connect(ATTACKER)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
    await writer.drain()
    writer.close()  # hangs up before the other 90 bytes
    await writer.wait_closed()
    assert await get(server[0]) == (200, "hello 0\n")  # served on; the gone one left no trace
    assert not [r for r in caplog.records if r.name.startswith("aiohttp") and r.exc_info]


async def test_event_streams_capped_and_non_readers_cut(
    server: tuple[int, list[str]], connect: Connect
) -> None:
    ended = server[1]
    request = b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n"
    streams = []
    for source in (ATTACKER, ATTACKER, ATTACKER, OTHER, OTHER):
        reader, writer = await connect(source)
        writer.write(request)
        streams.append(reader)
    heads = [await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 5) for r in streams]
    statuses = [int(h.split()[1]) for h in heads]
    assert statuses == [200, 200, 503, 200, 503]  # 2 per address, 3 in all
    assert b"over 2 event streams from one address" in await streams[2].read(200)
    assert b"over 3 event streams" in await streams[4].read(200)
    deadline = time.monotonic() + 10
    while len(ended) < 3:  # none of the three reads: each is cut after its send_timeout
        assert time.monotonic() < deadline, f"streams not cut: {ended}"
        await asyncio.sleep(0.05)
    assert ended == ["client not reading"] * 3
    reader, writer = await connect(REAL)  # the slots are free again
    writer.write(request)
    assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).startswith(b"HTTP/1.1 200")
