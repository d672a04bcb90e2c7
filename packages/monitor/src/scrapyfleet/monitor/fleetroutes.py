"""`/api/jobs`, `/api/timers` and `/api/rules`: plain scrapyd jobs scheduled on chosen nodes,
cancelled, and their stats from their logs; timers and alert rules (docs/console.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from aiohttp import web

from scrapyfleet.core.scrapyd import ScrapydClient, ScrapydError
from scrapyfleet.core.targets import Target
from scrapyfleet.monitor.api import Api, ApiError, answer, body
from scrapyfleet.monitor.jobstats import JobStatsError, job_stats
from scrapyfleet.monitor.logproxy import valid_part
from scrapyfleet.monitor.rules import RuleError
from scrapyfleet.monitor.timers import TimerError

SCHEDULE_TIMEOUT = 30.0  # seconds a schedule.json may take at least (a project's first blocks)


def _names(doc: Mapping[str, Any], key: str) -> dict[str, str]:
    value = doc.get(key, {})
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and k and isinstance(v, str | int | float) for k, v in value.items()
    ):
        raise ApiError(400, f"{key}: an object of names to values")
    return {k: str(v) for k, v in value.items()}


def _id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise ApiError(404, "no such id") from None


def fleet_routes(
    targets: Mapping[str, Target],
    session: aiohttp.ClientSession,
    timeout: float,
    project: str,
    nodes: Callable[[], list[dict[str, Any]]],
) -> Callable[[Api, web.Application], None]:
    """Routes for the nodes in `targets`; jobs are in `project` unless a request names another;
    `nodes` gives the latest poll's nodes (the console's snapshot)."""

    def client(name: Any, limit: float = timeout) -> ScrapydClient:
        target = targets.get(name) if isinstance(name, str) else None
        if target is None:
            raise ApiError(400, f"no node {name!r}")
        return ScrapydClient(target, session, limit)

    def plain(doc: Mapping[str, Any], key: str, default: str | None = None) -> str:
        value = doc.get(key, default)
        if not isinstance(value, str) or not valid_part(value):
            raise ApiError(400, f"{key}: a plain name")
        return value

    def add(api: Api, app: web.Application) -> None:
        control = api.control

        async def schedule(request: web.Request) -> web.Response:
            doc = await body(request)
            if not isinstance(doc, dict):
                raise ApiError(400, "a JSON object")
            nodes = doc.get("nodes")
            spider = doc.get("spider")

            async def do() -> dict[str, Any]:
                if not isinstance(nodes, list) or not nodes:
                    raise ApiError(400, "nodes: a non-empty list of node names")
                clients = [client(n, max(timeout, SCHEDULE_TIMEOUT)) for n in nodes]
                name, where = plain(doc, "spider"), plain(doc, "project", project)
                args, settings = _names(doc, "args"), _names(doc, "settings")

                async def one(c: ScrapydClient) -> dict[str, str]:
                    try:
                        job = await c.schedule(where, name, settings=settings, args=args)
                    except (ScrapydError, ValueError) as e:
                        return {"node": c.target.name, "error": str(e)}
                    return {"node": c.target.name, "job": job}

                jobs = list(await asyncio.gather(*(one(c) for c in clients)))
                if all("error" in j for j in jobs):
                    raise ApiError(502, "; ".join(f"{j['node']}: {j['error']}" for j in jobs))
                return {"jobs": jobs}

            return await api.act(request, "schedule_job", f"{spider} on {nodes}", do)

        async def cancel(request: web.Request) -> web.Response:
            doc = await body(request)
            if not isinstance(doc, dict):
                raise ApiError(400, "a JSON object")

            async def do() -> dict[str, Any]:
                c, job = client(doc.get("node")), plain(doc, "job")
                try:
                    before = await c.cancel(plain(doc, "project", project), job)
                except ScrapydError as e:
                    raise ApiError(502, f"{c.target.name}: {e.reason}") from None
                return {"node": c.target.name, "job": job, "previous_state": before}

            return await api.act(
                request, "cancel_job", f"{doc.get('job')} on {doc.get('node')}", do
            )

        async def stats(request: web.Request) -> web.Response:
            info = request.match_info
            target = targets.get(info["node"])
            parts = (info["project"], info["spider"], info["job"])
            if target is None or not all(valid_part(p) for p in parts):
                raise ApiError(404, "no such node, or not a plain project, spider or job name")
            try:
                return answer(await job_stats(target, session, timeout, *parts))
            except JobStatsError as e:
                raise ApiError(502, str(e)) from None

        def listing(kind: str, save: Callable[[Any], dict[str, Any]],
                    delete: Callable[[int], bool]) -> None:  # fmt: skip
            async def create(request: web.Request) -> web.Response:
                doc = await body(request)

                async def do() -> dict[str, Any]:
                    try:
                        return save(doc)
                    except (TimerError, RuleError) as e:
                        raise ApiError(400, str(e)) from None

                return await api.act(request, f"add_{kind[:-1]}", str(doc), do)

            async def remove(request: web.Request) -> web.Response:
                item = _id(request)

                async def do() -> dict[str, Any]:
                    if not delete(item):
                        raise ApiError(404, f"no {kind[:-1]} {item}")
                    return {"deleted": item}

                return await api.act(request, f"delete_{kind[:-1]}", str(item), do)

            app.router.add_post(f"/{kind}", create)
            app.router.add_delete(f"/{kind}/{{id}}", remove)

        async def jobs(request: web.Request) -> web.Response:
            return answer([{"node": n["name"], **job} for n in nodes() for job in n["jobs"]])

        async def timers(request: web.Request) -> web.Response:
            return answer(control.timers.all())

        async def rules(request: web.Request) -> web.Response:
            return answer(control.rules.all())

        app.router.add_get("/jobs", jobs)
        app.router.add_post("/jobs", schedule)
        app.router.add_post("/jobs/cancel", cancel)
        app.router.add_get("/jobs/{node}/{project}/{spider}/{job}/stats", stats)
        app.router.add_get("/timers", timers)
        app.router.add_get("/rules", rules)
        listing("timers", control.timers.add, control.timers.delete)
        listing("rules", control.rules.add, control.rules.delete)

    return add
