"""ScrapydClient against stub HTTP servers: every failure becomes a ScrapydError with a reason."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from scrapyfleet.core.scrapyd import ScrapydClient, ScrapydError
from scrapyfleet.core.targets import Target

ServerFactory = Callable[..., object]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def stub(aiohttp_server: ServerFactory, handler: web.RequestHandler) -> TestServer:
    app = web.Application()
    app.router.add_route("*", "/{endpoint}", handler)
    server = await aiohttp_server(app, host="127.0.0.1")  # type: ignore[misc]
    assert isinstance(server, TestServer)
    return server


def client_for(server: TestServer, session: aiohttp.ClientSession, **target: str) -> ScrapydClient:
    url = str(server.make_url("")).rstrip("/")
    return ScrapydClient(Target(name="stub", url=url, **target), session, timeout=0.5)


async def test_connection_refused(session: aiohttp.ClientSession, free_port: Callable[[], int]):
    client = ScrapydClient(Target("gone", f"http://127.0.0.1:{free_port()}"), session, timeout=1)
    with pytest.raises(ScrapydError) as caught:
        await client.daemonstatus()
    assert caught.value.reason == "connection refused"
    assert caught.value.endpoint == "daemonstatus.json"


async def test_timeout(session: aiohttp.ClientSession, aiohttp_server: ServerFactory) -> None:
    never = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await never.wait()
        return web.json_response({})

    client = client_for(await stub(aiohttp_server, hang), session)
    with pytest.raises(ScrapydError) as caught:
        await client.daemonstatus()
    assert caught.value.reason == "timeout after 0.5s"


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (web.Response(status=500, text="boom"), "HTTP 500"),
        (web.Response(text="<html>hello</html>"), "not JSON"),
        (web.Response(body=b"\xff\xfe\x00"), "not JSON"),
        (web.json_response([1, 2]), "not a JSON object"),
        (
            web.json_response({"status": "error", "message": "project 'x' not found"}),
            "project 'x' not found",
        ),
        (web.json_response({"running": 1}), "unexpected response: no status ok"),
        (
            web.json_response({"status": "ok", "pending": "1", "running": 0, "finished": 0}),
            "unexpected response: no int 'pending'",
        ),
    ],
)
async def test_bad_answers(
    session: aiohttp.ClientSession,
    aiohttp_server: ServerFactory,
    response: web.Response,
    reason: str,
) -> None:
    async def answer(request: web.Request) -> web.Response:
        return response

    client = client_for(await stub(aiohttp_server, answer), session)
    with pytest.raises(ScrapydError) as caught:
        await client.daemonstatus()
    assert caught.value.reason == reason


async def test_listjobs_parses_and_sends_basic_auth(
    session: aiohttp.ClientSession, aiohttp_server: ServerFactory
) -> None:
    seen: list[tuple[str | None, str]] = []

    async def listjobs(request: web.Request) -> web.Response:
        seen.append((request.headers.get("Authorization"), request.query_string))
        return web.json_response(
            {
                "status": "ok",
                "pending": [{"id": "a", "spider": "s", "project": "p", "args": {}}],
                "running": [{"id": "b", "spider": "s", "pid": 42, "start_time": "t0"}],
                "finished": [{"id": "c", "spider": "s", "end_time": "t1", "log_url": "/l"}],
            }
        )

    server = await stub(aiohttp_server, listjobs)
    jobs = await client_for(server, session, username="ops", password="pw").listjobs("p")
    assert seen == [("Basic b3BzOnB3", "project=p")]  # base64("ops:pw")
    assert [(j.id, j.state) for j in (*jobs.pending, *jobs.running, *jobs.finished)] == [
        ("a", "pending"),
        ("b", "running"),
        ("c", "finished"),
    ]
    assert jobs.by_id()["b"].pid == 42
    assert jobs.by_id()["c"].log_url == "/l"


async def test_job_without_id_is_rejected(
    session: aiohttp.ClientSession, aiohttp_server: ServerFactory
) -> None:
    async def listjobs(request: web.Request) -> web.Response:
        body = {"status": "ok", "pending": [{"spider": "s"}], "running": [], "finished": []}
        return web.json_response(body)

    client = client_for(await stub(aiohttp_server, listjobs), session)
    with pytest.raises(ScrapydError, match="no str 'id'"):
        await client.listjobs("p")


async def test_schedule_rejects_reserved_argument(session: aiohttp.ClientSession) -> None:
    client = ScrapydClient(Target("n", "http://127.0.0.1:9"), session)
    with pytest.raises(ValueError, match="project"):
        await client.schedule("p", "s", args={"project": "x"})
