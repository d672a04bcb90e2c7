"""A hostile scrapyd node on loopback: nested, huge, endless or non-finite JSON answers become a
ScrapydError with the reason, read no further than the cap (old client: RecursionError, or the
whole answer in memory)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from scrapyfleet.core.httpread import MAX_ANSWER
from scrapyfleet.core.scrapyd import ScrapydClient, ScrapydError
from scrapyfleet.core.targets import Target

ServerFactory = Callable[..., object]
HUGE = 200 * 2**20
MiB = b"a" * 2**20


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def node(aiohttp_server: ServerFactory, handler: Callable[..., object]) -> str:
    app = web.Application()
    app.router.add_get("/{endpoint}", handler)  # type: ignore[arg-type]
    server = await aiohttp_server(app, host="127.0.0.1")  # type: ignore[misc]
    assert isinstance(server, TestServer)
    return str(server.make_url("")).rstrip("/")


async def refusal(url: str, session: aiohttp.ClientSession) -> ScrapydError:
    client = ScrapydClient(Target("hostile", url), session, timeout=10)
    with pytest.raises(ScrapydError) as caught:
        await client.daemonstatus()
    return caught.value


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "JSON nested deeper than 32 levels"),
        (b'{"status": "ok", "x": ' + b"[" * 40 + b"]" * 40 + b"}", "JSON nested deeper than 32"),
        (b'{"status": "ok", "pending": NaN}', "non-finite number NaN in JSON"),
        (b'{"status": "ok", "pending": 1e999}', "non-finite number 1e999 in JSON"),
    ],
)
async def test_bad_json_is_a_reason(
    session: aiohttp.ClientSession, aiohttp_server: ServerFactory, body: bytes, reason: str
) -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    error = await refusal(await node(aiohttp_server, answer), session)
    assert error.reason.startswith(reason)
    assert error.endpoint == "daemonstatus.json" and not error.rejected


async def test_endless_answer_is_cut_at_the_cap(
    session: aiohttp.ClientSession, aiohttp_server: ServerFactory
) -> None:
    sent = 0

    async def stream(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"status": "ok", "pad": "')
        try:
            while sent < HUGE:  # chunked: no length to refuse up front
                await response.write(MiB)
                sent += len(MiB)
        except (ConnectionError, aiohttp.ClientConnectionResetError):
            pass  # the client hung up: what this test wants
        return response

    error = await refusal(await node(aiohttp_server, stream), session)
    assert error.reason == "answer over 8 MiB"
    assert sent < HUGE // 4  # the client stopped reading near the cap, not at the end


async def test_declared_length_over_the_cap_is_not_read(
    session: aiohttp.ClientSession, aiohttp_server: ServerFactory
) -> None:
    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b" " * (MAX_ANSWER + 1), content_type="application/json")

    assert (await refusal(await node(aiohttp_server, big), session)).reason == "answer over 8 MiB"
