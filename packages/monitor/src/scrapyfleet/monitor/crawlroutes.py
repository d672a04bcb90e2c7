"""`/api/crawls` and `/api/runs`: crawl definitions, and runs started, stopped, resumed and
shown with their live figures, samples and summary (docs/console.md)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aiohttp import web

from scrapyfleet.monitor.api import Api, ApiError, answer, body, principal
from scrapyfleet.monitor.definitions import Definition, DefinitionError, parse
from scrapyfleet.monitor.runs import RunError


def _definition(api: Api, name: str) -> Definition:
    found = api.control.definitions.get(name)
    if found is None:
        raise ApiError(404, f"no crawl definition {name!r}")
    return found


def _run(api: Api, run_id: str) -> dict[str, Any]:
    found = api.control.runs.get(run_id)
    if found is None:
        raise ApiError(404, f"no run {run_id!r}")
    return found


def add_routes(api: Api, app: web.Application) -> None:
    control = api.control

    async def crawls(request: web.Request) -> web.Response:
        shown = []
        for definition in control.definitions.all():
            runs = control.runs.all(definition.name)
            shown.append({**asdict(definition), "last_run": runs[0] if runs else None,
                          "runs": len(runs)})  # fmt: skip
        return answer(shown)

    async def save(request: web.Request) -> web.Response:
        doc = await body(request)
        name = doc.get("name") if isinstance(doc, dict) else None

        async def do() -> dict[str, Any]:
            try:
                definition = parse(doc)
            except DefinitionError as e:
                raise ApiError(400, str(e)) from None
            control.definitions.save(definition)
            return asdict(definition)

        return await api.act(request, "save_crawl", str(name), do)

    async def delete(request: web.Request) -> web.Response:
        name = request.match_info["name"]

        async def do() -> dict[str, Any]:
            if control.runs.live(name):
                raise ApiError(409, f"crawl {name!r} has a run going: stop it first")
            if not control.definitions.delete(name):
                raise ApiError(404, f"no crawl definition {name!r}")
            return {"deleted": name}

        return await api.act(request, "delete_crawl", name, do)

    async def start(request: web.Request) -> web.Response:
        name = request.match_info["name"]

        async def do() -> dict[str, Any]:
            definition = _definition(api, name)
            live = control.runs.live(name)
            if live:
                raise ApiError(409, f"crawl {name!r} already has run {live[0]} going")
            try:
                return control.runs.start(definition, trigger=f"user {principal(request).name}")
            except RunError as e:
                raise ApiError(500, str(e)) from None

        return await api.act(request, "start_crawl", name, do)

    async def runs(request: web.Request) -> web.Response:
        found = control.runs.all(request.query.get("crawl"))
        return answer([{**r, "live": control.stats.latest.get(r["id"])} for r in found])

    async def run(request: web.Request) -> web.Response:
        found = _run(api, request.match_info["id"])
        return answer({**found, "live": control.stats.latest.get(found["id"]),
                       "summary": control.runs.summary(found["id"]),
                       "series": control.stats.series(found["id"])})  # fmt: skip

    async def stop(request: web.Request) -> web.Response:
        run_id = request.match_info["id"]

        async def do() -> dict[str, Any]:
            _run(api, run_id)
            try:
                return control.runs.stop(run_id, trigger=f"user {principal(request).name}")
            except RunError as e:
                raise ApiError(409, str(e)) from None

        return await api.act(request, "stop_run", run_id, do)

    async def resume(request: web.Request) -> web.Response:
        run_id = request.match_info["id"]

        async def do() -> dict[str, Any]:
            definition = _definition(api, _run(api, run_id)["definition"])
            try:
                return control.runs.resume(run_id, definition, f"user {principal(request).name}")
            except RunError as e:
                raise ApiError(409, str(e)) from None

        return await api.act(request, "resume_run", run_id, do)

    async def failed(request: web.Request) -> web.StreamResponse:
        path = control.runs.failed_list(_run(api, request.match_info["id"])["id"])
        if path is None:
            raise ApiError(404, "this run has no failed.jl (yet)")
        return web.FileResponse(
            path, headers={"Content-Type": "application/jsonl",
                           "Content-Disposition": 'attachment; filename="failed.jl"'},
        )  # fmt: skip

    app.router.add_get("/crawls", crawls)
    app.router.add_post("/crawls", save)
    app.router.add_delete("/crawls/{name}", delete)
    app.router.add_post("/crawls/{name}/start", start)
    app.router.add_get("/runs", runs)
    app.router.add_get("/runs/{id}", run)
    app.router.add_post("/runs/{id}/stop", stop)
    app.router.add_post("/runs/{id}/resume", resume)
    app.router.add_get("/runs/{id}/failed.jl", failed)
