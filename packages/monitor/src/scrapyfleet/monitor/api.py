"""The console's JSON API under `/api/` (docs/console.md): the page uses it, and so can scripts.

Every request is identified (the console's accounts, `roles`); a state-changing one (POST,
DELETE) must come from an operator, from the console's own origin, with the CSRF token of
`GET /api/me`, and goes to the audit log with its result, refused or not. Errors are JSON
`{"error": why}` with a fitting status.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from scrapyfleet.monitor.control import Control
from scrapyfleet.monitor.roles import CSRF_HEADER, SAFE_METHODS, Csrf, Principal, writable

PRINCIPAL = "scrapyfleet.principal"  # the request key of who is asking
Identify = Callable[[str | None], Principal | None]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_BODY = 256 * 1024  # bytes of a request body


class ApiError(Exception):
    """Answer `status` with `{"error": message}`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def answer(data: Any, status: int = 200) -> web.Response:
    return web.json_response(
        data, status=status, dumps=lambda d: json.dumps(d, default=str, allow_nan=False)
    )


async def body(request: web.Request) -> Any:
    """The request's JSON document; 400 if it is not one."""
    too_big = ApiError(413, f"body over {MAX_BODY} bytes")
    try:
        raw = await request.read()  # bounded by the console's client_max_size
    except web.HTTPRequestEntityTooLarge:
        raise too_big from None
    if len(raw) > MAX_BODY:
        raise too_big
    try:
        return json.loads(raw or b"{}")
    except (ValueError, RecursionError):
        raise ApiError(400, "the body is not a JSON document") from None


def principal(request: web.Request) -> Principal:
    found: Principal = request[PRINCIPAL]
    return found


class Api:
    """The API's shared parts: the control side, who is asking, the CSRF tokens."""

    def __init__(self, control: Control, identify: Identify, local: bool) -> None:
        self.control = control
        self.identify = identify
        self.local = local
        self.csrf = Csrf()

    async def act(
        self, request: web.Request, action: str, target: str, do: Callable[[], Awaitable[Any]]
    ) -> web.Response:
        """Run a control action and audit it with its result."""
        who = principal(request)
        try:
            result = await do()
        except ApiError as e:
            self.control.audit.record(who, action, target, f"failed: {e.message}")
            raise
        self.control.audit.record(who, action, target, "ok")
        return answer(result)

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        who = self.identify(request.headers.get("Authorization"))
        if who is None:
            return answer({"error": "credentials required"}, 401)
        request[PRINCIPAL] = who
        if request.method not in SAFE_METHODS:
            why = writable(request, who, self.csrf, self.local)
            if why is not None:
                self.control.audit.record(who, request.method, request.path, f"refused: {why}")
                return answer({"error": why}, 403)
        try:
            return await handler(request)
        except ApiError as e:
            return answer({"error": e.message}, e.status)

    async def me(self, request: web.Request) -> web.Response:
        who = principal(request)
        return answer({"user": who.name, "role": who.role, "operator": who.operator,
                       "csrf": self.csrf.token(who), "csrf_header": CSRF_HEADER})  # fmt: skip

    async def events(self, request: web.Request) -> web.Response:
        try:
            limit = int(request.query.get("limit", "100"))
        except ValueError:
            raise ApiError(400, "limit: a number") from None
        return answer(self.control.events.recent(limit, request.query.get("event")))

    async def audit(self, request: web.Request) -> web.Response:
        return answer(self.control.audit.entries())


def make_api(api: Api, routes: list[Callable[[Api, web.Application], None]]) -> web.Application:
    """The `/api/` sub-application; each of `routes` adds its own."""
    app = web.Application(middlewares=[api.guard])
    app.router.add_get("/me", api.me)
    app.router.add_get("/events", api.events)
    app.router.add_get("/audit", api.audit)
    for add in routes:
        add(api, app)
    return app
