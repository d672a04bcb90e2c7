"""ScrapydClient against real scrapyd processes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from scrapyfleet.core.scrapyd import ScrapydClient, ScrapydError
from scrapyfleet.core.targets import Target

PROJECT = "tiny"
# schedule.json and addversion.json run `scrapy list` in a blocking subprocess on the node: on a
# loaded machine that alone takes seconds
SLOW = 60.0
NodeFactory = Callable[..., Any]  # conftest.ScrapydNode factory


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def test_schedule_list_cancel_on_a_real_node(
    scrapyd_node: NodeFactory,
    session: aiohttp.ClientSession,
    releases: Path,
    await_for: Callable[..., Awaitable[object]],
) -> None:
    node = scrapyd_node()
    client = ScrapydClient(Target("n1", node.url), session, SLOW)
    assert PROJECT in await client.listprojects()
    assert await client.listspiders(PROJECT) == ["wait"]

    first = await client.schedule(
        PROJECT, "wait", args={"release": str(releases / "first")}, settings={"LOG_LEVEL": "DEBUG"}
    )
    second = await client.schedule(
        PROJECT, "wait", args={"release": str(releases / "second")}, jobid="my-second-job"
    )
    assert second == "my-second-job"

    async def first_running_second_pending() -> bool:
        jobs = await client.listjobs(PROJECT)
        return [j.id for j in jobs.running] == [first] and [j.id for j in jobs.pending] == [second]

    await await_for(first_running_second_pending, timeout=30, what="first job running")
    running = (await client.listjobs(PROJECT)).by_id()[first]
    assert running.spider == "wait" and running.pid and running.start_time
    status = await client.daemonstatus()
    assert (status.pending, status.running, status.finished) == (1, 1, 0)

    assert await client.cancel(PROJECT, second) == "pending"
    assert await client.cancel(PROJECT, "no-such-job") is None
    (releases / "first").touch()

    async def first_finished() -> bool:
        jobs = await client.listjobs(PROJECT)
        return [j.id for j in jobs.finished] == [first] and not jobs.pending and not jobs.running

    await await_for(first_finished, timeout=30, what="first job finished")
    done = (await client.listjobs(PROJECT)).finished[0]
    assert done.state == "finished" and done.end_time and done.log_url


async def test_errors_from_a_real_node(
    scrapyd_node: NodeFactory, session: aiohttp.ClientSession
) -> None:
    node = scrapyd_node()
    client = ScrapydClient(Target("n1", node.url), session, SLOW)
    with pytest.raises(ScrapydError, match="project 'nope' not found"):
        await client.listjobs("nope")
    with pytest.raises(ScrapydError, match="spider 'nope' not found"):
        await client.schedule(PROJECT, "nope")


async def test_addversion_uploads_an_egg(
    scrapyd_node: NodeFactory, session: aiohttp.ClientSession, tiny_egg: bytes
) -> None:
    node = scrapyd_node()
    client = ScrapydClient(Target("n1", node.url), session, SLOW)
    assert await client.addversion("eggproj", "r1", tiny_egg) == 1
    assert "eggproj" in await client.listprojects()
    assert await client.listspiders("eggproj") == ["wait"]


async def test_basic_auth(scrapyd_node: NodeFactory, session: aiohttp.ClientSession):
    node = scrapyd_node(username="ops", password="s3cret")
    url = node.url
    status = await ScrapydClient(Target("n1", url, "ops", "s3cret"), session).daemonstatus()
    assert status.running == 0
    for wrong in (Target("n1", url), Target("n1", url, "ops", "wrong")):
        with pytest.raises(ScrapydError) as caught:
            await ScrapydClient(wrong, session).daemonstatus()
        assert caught.value.reason == "HTTP 401"
