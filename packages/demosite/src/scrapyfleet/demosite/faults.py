"""Injected faults: the demo site misbehaves the way real sites do, by a plan in a JSON file.

`demosite --faults PLAN.json` applies, per request path, the first rule that matches the path:

    {"rules": [
      {"paths": ["/properties/property_000007.html"], "status": 503,
       "first": 6, "for_seconds": 4, "retry_after": 1},
      {"paths": ["/properties/property_000042.html"], "status": 500},
      {"paths": ["/properties/property_000043.html"], "status": 404},
      {"paths": ["/properties/property_000044.html"], "action": "reset", "first": 2},
      {"paths": ["/properties/property_000045.html"], "action": "hang", "seconds": 30,
       "first": 1},
      {"name": "outage", "paths": "*", "status": 503, "for_seconds": 30},
      {"prefix": "/properties/index_", "action": "reset", "first": 20}
    ]}

A rule matches the paths it lists, every path (`"paths": "*"`), or the paths starting with its
`prefix`. It fails while fewer than `first` requests have been answered or fewer than
`for_seconds` have passed since the first request; with neither, it fails every time. Those
requests are counted per path for a list of paths and once for the whole rule for `*` or a prefix
(an outage begins with the rule's first request and ends for every path at once); `"scope":
"path"` or `"rule"` says otherwise. `status` answers that HTTP status (with `Retry-After` if
given); `reset` drops the connection unanswered; `hang` waits `seconds` before answering normally
(the client's timeout fires first). The file is read again whenever it changes, so a test heals
the site by rewriting it (counts start afresh). How many requests each rule failed, by its `name`
(default `rule N`, N from 1), adds up over the site's life and is served with the site's other
counts at `GET /_site/stats` (`scrapyfleet.demosite.stats`), a page no rule fails.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

log = structlog.get_logger("scrapyfleet.demosite.faults")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OWN_PAGES = "/_site/"  # the site's own pages (its stats) never fail


@dataclass(frozen=True, slots=True)
class Rule:
    """How one set of paths misbehaves."""

    name: str
    paths: frozenset[str] | None  # None: every path (or every path under `prefix`)
    prefix: str = ""
    per_path: bool = True  # count requests and time per path, or once for the whole rule
    status: int = 0  # an HTTP status to answer, or 0 with an action
    action: str = "status"  # status | reset | hang
    first: int = 0  # fail the first N requests (0: no count limit)
    for_seconds: float = 0.0  # fail during this long after the first request (0: no time limit)
    retry_after: int | None = None
    seconds: float = 0.0  # how long `hang` waits

    @classmethod
    def from_json(cls, raw: dict[str, Any], number: int) -> Rule:
        """Rule `number` (from 1) of a plan from its JSON object; ValueError says what is wrong."""
        paths, prefix = raw.get("paths"), raw.get("prefix")
        if prefix is not None:
            if not isinstance(prefix, str) or not prefix.startswith("/") or paths is not None:
                raise ValueError("`prefix` is a path starting with /, instead of `paths`")
            matched: frozenset[str] | None = None
        elif paths == "*":
            matched, prefix = None, "/"
        elif isinstance(paths, list) and all(isinstance(p, str) for p in paths):
            matched, prefix = frozenset(paths), ""
        else:
            raise ValueError('a rule needs `paths` (a list of request paths, or "*") or `prefix`')
        scope = raw.get("scope", "path" if matched is not None else "rule")
        if scope not in ("path", "rule"):
            raise ValueError(f'`scope` is "path" or "rule", got {scope!r}')
        action = str(raw.get("action", "status"))
        if action not in ("status", "reset", "hang"):
            raise ValueError(f"unknown action {action!r}")
        status = int(raw.get("status", 0))
        if action == "status" and not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status, got {status}")
        retry_after = raw.get("retry_after")
        return cls(
            str(raw.get("name", f"rule {number}")),
            matched,
            prefix,
            scope == "path",
            status,
            action,
            int(raw.get("first", 0)),
            float(raw.get("for_seconds", 0.0)),
            None if retry_after is None else int(retry_after),
            float(raw.get("seconds", 0.0)),
        )

    def matches(self, path: str) -> bool:
        return path in self.paths if self.paths is not None else path.startswith(self.prefix)


@dataclass(slots=True)
class FaultPlan:
    """The rules of the plan file; per rule (and path), how often and since when it was
    requested; and, by rule name, how many requests it failed since the site started."""

    path: Path
    rules: list[Rule] = field(default_factory=list)
    mtime: int = -1
    seen: dict[tuple[int, str], tuple[int, float]] = field(default_factory=dict)
    failed: Counter[str] = field(default_factory=Counter)

    def reload(self) -> None:
        """Read the file again if it changed; a broken file keeps the last good rules."""
        try:
            mtime = self.path.stat().st_mtime_ns
            if mtime == self.mtime:
                return
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            rules = [Rule.from_json(r, n) for n, r in enumerate(raw.get("rules", []), start=1)]
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            log.error("fault_plan_unreadable", path=str(self.path), reason=str(exc))
            return
        self.rules, self.mtime, self.seen = rules, mtime, {}
        log.info("fault_plan_loaded", path=str(self.path), rules=len(rules))

    def fault(self, path: str, now: float) -> Rule | None:
        """The rule failing this request of `path`, if any (and count the request)."""
        number, rule = next(
            ((n, r) for n, r in enumerate(self.rules) if r.matches(path)), (0, None)
        )
        if rule is None:
            return None
        key = (number, path if rule.per_path else "")
        count, since = self.seen.get(key, (0, now))
        self.seen[key] = (count + 1, since)
        limited = rule.first > 0 or rule.for_seconds > 0
        failing = (rule.first > 0 and count < rule.first) or (
            rule.for_seconds > 0 and now - since < rule.for_seconds
        )
        if failing or not limited:
            self.failed[rule.name] += 1
            return rule
        return None


FAULTS = web.AppKey("faults", FaultPlan)


@web.middleware
async def inject_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply the plan's rule for this path, if one fails it now."""
    if request.path.startswith(OWN_PAGES):
        return await handler(request)
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
