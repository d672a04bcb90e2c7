"""Job logs through the console: `/nodes/{node}/logs/{project}/{spider}/{job}.log`.

The console fetches the log from the node's `logs/` with the node's credentials and streams it
to the browser, which needs no access to the nodes. Every path part is checked strictly: the node
must be a known target, the others plain names (no dots first, no slashes, no escapes). A node's
redirect is never followed (it could point the console, with the node's credentials, anywhere):
the browser gets a 502 that names it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import quote

import aiohttp
import structlog
from aiohttp import web

from scrapyfleet.core.credentials import auth_header
from scrapyfleet.core.targets import Target

PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
ROUTE = "/nodes/{node}/logs/{project}/{spider}/{job}.log"
CHUNK = 64 * 1024

log = structlog.get_logger("scrapyfleet.monitor.logproxy")


def valid_part(text: str) -> bool:
    """Whether `text` may be a project, spider or job name in a log path."""
    return PART.fullmatch(text) is not None and ".." not in text


def log_path(node: str, project: str, spider: str, job: str) -> str | None:
    """The console's path of a job's log, or None if a part is not a plain name."""
    if not all(valid_part(p) for p in (project, spider, job)):
        return None
    return f"/nodes/{quote(node, safe='')}/logs/{project}/{spider}/{job}.log"


def _text(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message + "\n")


def log_handler(
    targets: Mapping[str, Target], session: aiohttp.ClientSession, timeout: float
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The route's handler: proxies a node's job log, or answers why not (400, 404, 502, 504).

    A redirect from the node is refused with a 502, never followed."""
    limits = aiohttp.ClientTimeout(sock_connect=timeout, sock_read=timeout)

    async def handle(request: web.Request) -> web.StreamResponse:
        info = request.match_info
        target = targets.get(info["node"])
        if target is None:
            return _text(404, f"no node {info['node']!r}")
        parts = (info["project"], info["spider"], info["job"])
        if not all(valid_part(p) for p in parts):
            return _text(400, "bad project, spider or job name")
        url = f"{target.url}/logs/{'/'.join(parts)}.log"
        try:
            async with session.get(
                url, headers=auth_header(target), timeout=limits, allow_redirects=False
            ) as upstream:
                if 300 <= upstream.status < 400:
                    where = upstream.headers.get("Location", "nowhere")
                    message = f"{target.name} redirected (HTTP {upstream.status}) to {where!r}"
                    log.warning("log_redirect_refused", node=target.name, location=where)
                    return _text(502, f"{message}: not followed")
                if upstream.status != 200:
                    status = 404 if upstream.status == 404 else 502
                    return _text(status, f"{target.name} answered HTTP {upstream.status}")
                response = web.StreamResponse(
                    headers={
                        "Content-Type": "text/plain; charset=utf-8",
                        "Cache-Control": "no-store",
                    }
                )
                await response.prepare(request)
                try:
                    async for chunk in upstream.content.iter_chunked(CHUNK):
                        await response.write(chunk)
                except (aiohttp.ClientError, TimeoutError) as e:  # headers are sent: say it inline
                    await response.write(f"\n[log cut short: {type(e).__name__}]\n".encode())
                await response.write_eof()
                return response
        except aiohttp.ClientConnectorError:
            return _text(502, f"{target.name} is not answering")
        except TimeoutError:
            return _text(504, f"{target.name} did not answer within {timeout}s")
        except aiohttp.ClientError as e:
            return _text(502, f"{target.name}: {type(e).__name__}")

    return handle
