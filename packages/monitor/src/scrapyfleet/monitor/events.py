"""Console events: runs started and ended, timers fired or skipped, rules fired. Each is logged
(structlog), kept in the state database (the page's event list) and handed to the listeners
(alert rules, webhooks)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import structlog

from scrapyfleet.monitor.daemon import Event
from scrapyfleet.monitor.store import Store

KEPT = 5000  # events kept in the database; older ones are dropped
SHOWN = 100  # events an API listing returns at most

log = structlog.get_logger("scrapyfleet.monitor.console")
Listener = Callable[[Event], None]


class ConsoleEvents:
    """Record and fan out console events."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self.listeners: list[Listener] = []

    def emit(self, name: str, level: str = "info", **fields: Any) -> Event:
        event = Event(name, level, fields)
        getattr(log, level)(name, **fields)
        doc = json.dumps(fields, default=str, allow_nan=False)
        self.store.write(
            "INSERT INTO events (t, name, level, fields) VALUES (?, ?, ?, ?)",
            (self.clock(), name, level, doc),
        )
        self.store.write("DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - ?", (KEPT,))
        for listener in self.listeners:
            listener(event)
        return event

    def recent(self, limit: int = SHOWN, name: str | None = None) -> list[dict[str, Any]]:
        """The newest events first, optionally only those called `name`."""
        where, args = ("WHERE name = ?", [name]) if name else ("", [])
        rows = self.store.rows(
            f"SELECT * FROM events {where} ORDER BY id DESC LIMIT ?",
            (*args, min(limit, SHOWN)),
        )
        return [
            {"id": r["id"], "time": r["t"], "event": r["name"], "level": r["level"],
             **json.loads(r["fields"])}
            for r in rows
        ]  # fmt: skip
