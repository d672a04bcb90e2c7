"""Injected faults: the demo site misbehaves the way real sites do, by a plan in a JSON file.

`demosite --faults PLAN.json` applies, per request path, the first rule that lists the path:

    {"rules": [
      {"paths": ["/properties/property_000007.html"], "status": 503,
       "first": 6, "for_seconds": 4, "retry_after": 1},
      {"paths": ["/properties/property_000042.html"], "status": 500},
      {"paths": ["/properties/property_000043.html"], "status": 404},
      {"paths": ["/properties/property_000044.html"], "action": "reset", "first": 2},
      {"paths": ["/properties/property_000045.html"], "action": "hang", "seconds": 30,
       "first": 1}
    ]}

A rule fails a path while fewer than `first` of its requests have been answered or fewer than
`for_seconds` have passed since its first request; with neither, it fails every time. `status`
answers that HTTP status (with `Retry-After` if given); `reset` drops the connection unanswered;
`hang` waits `seconds` before answering normally (the client's timeout fires first). The file is
read again whenever it changes, so a test heals the site by rewriting it (counts start afresh).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

log = structlog.get_logger("scrapyfleet.demosite.faults")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Rule:
    """How one set of paths misbehaves."""

    paths: frozenset[str]
    status: int = 0  # an HTTP status to answer, or 0 with an action
    action: str = "status"  # status | reset | hang
    first: int = 0  # fail the first N requests (0: no count limit)
    for_seconds: float = 0.0  # fail during this long after the first request (0: no time limit)
    retry_after: int | None = None
    seconds: float = 0.0  # how long `hang` waits

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Rule:
        """A rule from its JSON object; ValueError says what is wrong."""
        paths = raw.get("paths")
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise ValueError("a rule needs `paths`, a list of request paths")
        action = str(raw.get("action", "status"))
        if action not in ("status", "reset", "hang"):
            raise ValueError(f"unknown action {action!r}")
        status = int(raw.get("status", 0))
        if action == "status" and not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status, got {status}")
        retry_after = raw.get("retry_after")
        return cls(
            frozenset(paths),
            status,
            action,
            int(raw.get("first", 0)),
            float(raw.get("for_seconds", 0.0)),
            None if retry_after is None else int(retry_after),
            float(raw.get("seconds", 0.0)),
        )


@dataclass(slots=True)
class FaultPlan:
    """The rules of the plan file and, per path, how often and since when it was requested."""

    path: Path
    rules: list[Rule] = field(default_factory=list)
    mtime: int = -1
    seen: dict[str, tuple[int, float]] = field(default_factory=dict)

    def reload(self) -> None:
        """Read the file again if it changed; a broken file keeps the last good rules."""
        try:
            mtime = self.path.stat().st_mtime_ns
            if mtime == self.mtime:
                return
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            rules = [Rule.from_json(r) for r in raw.get("rules", [])]
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            log.error("fault_plan_unreadable", path=str(self.path), reason=str(exc))
            return
        self.rules, self.mtime, self.seen = rules, mtime, {}
        log.info("fault_plan_loaded", path=str(self.path), rules=len(rules))

    def fault(self, path: str, now: float) -> Rule | None:
        """The rule failing this request of `path`, if any (and count the request)."""
        rule = next((r for r in self.rules if path in r.paths), None)
        if rule is None:
            return None
        count, since = self.seen.get(path, (0, now))
        self.seen[path] = (count + 1, since)
        limited = rule.first > 0 or rule.for_seconds > 0
        failing = (rule.first > 0 and count < rule.first) or (
            rule.for_seconds > 0 and now - since < rule.for_seconds
        )
        return rule if failing or not limited else None


FAULTS = web.AppKey("faults", FaultPlan)


@web.middleware
async def inject_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply the plan's rule for this path, if one fails it now."""
    plan = request.app[FAULTS]
    plan.reload()
    rule = plan.fault(request.path, time.monotonic())
    if rule is None:
        return await handler(request)
    log.info("fault_injected", path=request.path, action=rule.action, status=rule.status)
    if rule.action == "reset":
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)  # never sent: the connection is gone
    if rule.action == "hang":
        await asyncio.sleep(rule.seconds)
        return await handler(request)
    headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else {}
    return web.Response(status=rule.status, text=f"injected {rule.status}\n", headers=headers)


def add_faults(app: web.Application, plan_file: Path) -> None:
    """Make `app` misbehave as `plan_file` says."""
    plan = FaultPlan(plan_file)
    plan.reload()
    app[FAULTS] = plan
    app.middlewares.append(inject_faults)
