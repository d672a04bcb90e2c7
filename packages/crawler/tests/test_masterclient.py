"""The worker's master client reads an answer within bounds: a huge or deeply nested answer (a
hostile master, or a man in the middle of plain HTTP) is a ValueError, never a RecursionError or
unbounded memory; it outwaits a busy master (503) longer than a failing one (real HTTP through
aiohttp's test server)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from scrapyfleet.core.httpread import MAX_ANSWER
from scrapyfleet.core.waits import Backoff
from scrapyfleet.crawler.worker import masterclient
from scrapyfleet.crawler.worker.masterclient import TRIES, MasterClient

ANSWERS = {
    "nested": b"[" * 100_000 + b"]" * 100_000,
    "huge": b'"' + b"x" * (MAX_ANSWER + 1) + b'"',
    "nan": b'{"urls": NaN}',
    "fine": b'{"batch": "r-00001"}',
}

PEERS: list[object] = []  # the client address of each request the master answered
FAILURES = {"busy": 503, "broken": 500}  # batch -> the status its first answers have


@pytest.fixture
async def master(aiohttp_server) -> str:
    async def answer(request: web.Request) -> web.Response:
        PEERS.append(request.transport.get_extra_info("peername") if request.transport else None)
        batch = request.match_info["batch"]
        if batch in FAILURES and len(PEERS) <= 2 * TRIES:
            return web.Response(status=FAILURES[batch])
        body = ANSWERS.get(batch, ANSWERS["fine"])
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/batches/{batch}", answer)
    return str((await aiohttp_server(app)).make_url(""))


@pytest.fixture
async def client(master: str) -> AsyncIterator[MasterClient]:
    client = MasterClient(master, None)
    yield client
    await client.close()


@pytest.mark.parametrize("kind", ["nested", "huge", "nan"])
async def test_an_unbounded_answer_is_refused(client: MasterClient, kind: str) -> None:
    with pytest.raises(ValueError):
        await client.call("GET", kind, "", None)


async def test_a_fine_answer_is_read(client: MasterClient) -> None:
    assert await client.call("GET", "fine", "", None) == {"batch": "r-00001"}


async def test_one_session_serves_every_call(client: MasterClient) -> None:
    PEERS.clear()
    for _ in range(3):
        await client.call("GET", "fine", "", None)
    assert len(PEERS) == 3 and len(set(PEERS)) == 1, "one kept-alive connection, not one per call"
    await client.close()
    with pytest.raises(ConnectionError):
        await client.call("GET", "fine", "", None)


async def test_a_busy_master_is_outwaited_a_failing_one_is_not(
    client: MasterClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(masterclient, "RETRY", Backoff(first=0.001, cap=0.002))
    PEERS.clear()
    assert await client.call("GET", "busy", "", None) == {"batch": "r-00001"}
    assert len(PEERS) == 2 * TRIES + 1, "503 twice as many times as TRIES: still asking"
    PEERS.clear()
    with pytest.raises(ConnectionError, match="HTTP 500"):
        await client.call("GET", "broken", "", None)
    assert len(PEERS) == TRIES
    monkeypatch.setattr(masterclient, "BUSY_PATIENCE", 0.0)
    PEERS.clear()
    with pytest.raises(ConnectionError, match="HTTP 503"):
        await client.call("GET", "busy", "", None)
    assert len(PEERS) == TRIES, "past its patience, a busy master gets the usual tries"
