"""Timers: start a crawl definition's run on a cron expression or every N seconds, between an
optional start and end; persisted in the state database, so they survive a monitor restart.

Cron expressions are cronsim's (five fields, or six with seconds first), evaluated in UTC.
Each due time ends in an event: `timer_fired` (with the run), or `timer_skipped` with the
reason (the previous run still going, or missed while the monitor was down and the timer says
`missed: skip`), or `timer_failed` (the run did not start); `timer_expired` once past its end.
A due time missed while the monitor was down is run once at start (`missed: run`, the default).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cronsim import CronSim, CronSimError

from scrapyfleet.monitor.definitions import Definitions
from scrapyfleet.monitor.events import ConsoleEvents
from scrapyfleet.monitor.runs import RunError, Runs
from scrapyfleet.monitor.store import Store

KINDS = ("cron", "interval")
MISSED = ("run", "skip")
MIN_INTERVAL = 1.0  # seconds; the control loop ticks about once a second


class TimerError(ValueError):
    """A timer that cannot be saved; the message says why."""


def _time(doc: dict[str, Any], key: str) -> float | None:
    value = doc.get(key)
    if value is None or value == "":
        return None
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise TimerError(f"{key}: an ISO-8601 date and time, e.g. 2026-12-01T08:00:00Z") from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def next_due(timer: dict[str, Any], after: float) -> float | None:
    """The first due time strictly after `after`, within the timer's window; None past its end."""
    after = max(after, (timer["start_at"] or -math.inf) - 1e-6)
    if timer["kind"] == "interval":
        period, anchor = float(timer["spec"]), timer["anchor"]
        due = anchor + (math.floor((after - anchor) / period) + 1) * period
    else:
        base = datetime.fromtimestamp(math.floor(after), UTC)
        due = next(iter(CronSim(timer["spec"], base))).timestamp()  # strictly after `base`
    end = timer["end_at"]
    return None if end is not None and due > end else due


def parse(doc: Any, definitions: Definitions, now: float) -> dict[str, Any]:
    """A timer's fields from its JSON document; TimerError says what is wrong."""
    if not isinstance(doc, dict):
        raise TimerError("a timer is a JSON object")
    name = doc.get("definition")
    if not isinstance(name, str) or definitions.get(name) is None:
        raise TimerError(f"definition: no saved crawl definition {name!r}")
    kind, spec = doc.get("kind"), str(doc.get("spec", "")).strip()
    if kind not in KINDS:
        raise TimerError(f"kind: one of {', '.join(KINDS)}")
    if kind == "cron":
        try:
            CronSim(spec, datetime.now(UTC))
        except CronSimError as e:
            raise TimerError(f"spec: not a cron expression ({e})") from None
    else:
        try:
            seconds = float(spec)
        except ValueError:
            seconds = 0.0
        if not seconds >= MIN_INTERVAL or math.isinf(seconds):
            raise TimerError(f"spec: seconds between runs, at least {MIN_INTERVAL}")
    missed = doc.get("missed", "run")
    if missed not in MISSED:
        raise TimerError(f"missed: one of {', '.join(MISSED)}")
    start_at, end_at = _time(doc, "start_at"), _time(doc, "end_at")
    if start_at is not None and end_at is not None and end_at <= start_at:
        raise TimerError("end_at: after start_at")
    return {"definition": name, "kind": kind, "spec": spec, "start_at": start_at,
            "end_at": end_at, "anchor": start_at if start_at is not None else now,
            "missed": missed, "enabled": 1 if doc.get("enabled", True) else 0}  # fmt: skip


class Timers:
    """The timers and their firing; `tick` once per control-loop tick."""

    def __init__(
        self,
        store: Store,
        definitions: Definitions,
        runs: Runs,
        events: ConsoleEvents,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.definitions = definitions
        self.runs = runs
        self.events = events
        self.clock = clock
        self.started = clock()  # due times before this were missed while the monitor was down

    def add(self, doc: Any) -> dict[str, Any]:
        now = self.clock()
        fields = parse(doc, self.definitions, now)
        fields["next_due"] = next_due(fields, now)
        fields["state"] = "waiting" if fields["next_due"] is not None else "expired"
        columns = ", ".join(fields)
        timer_id = self.store.write(
            f"INSERT INTO timers ({columns}) VALUES ({', '.join('?' * len(fields))})",
            list(fields.values()),
        )
        return self.get(timer_id) or {}

    def get(self, timer_id: int) -> dict[str, Any] | None:
        return self.store.row("SELECT * FROM timers WHERE id = ?", (timer_id,))

    def all(self) -> list[dict[str, Any]]:
        return self.store.rows("SELECT * FROM timers ORDER BY id")

    def delete(self, timer_id: int) -> bool:
        return bool(self.store.db.execute("DELETE FROM timers WHERE id = ?", (timer_id,)).rowcount)

    def tick(self) -> None:
        """Fire (or skip, saying why) every enabled timer whose due time has come."""
        now = self.clock()
        due = self.store.rows(
            "SELECT * FROM timers WHERE enabled = 1 AND next_due IS NOT NULL AND next_due <= ?",
            (now,),
        )
        for timer in due:
            self._due(timer, now)

    def _due(self, timer: dict[str, Any], now: float) -> None:
        following = next_due(timer, now)
        state = "waiting" if following is not None else "expired"
        self.store.write(
            "UPDATE timers SET next_due = ?, state = ? WHERE id = ?",
            (following, state, timer["id"]),
        )
        where = {"timer": timer["id"], "definition": timer["definition"],
                 "due": timer["next_due"]}  # fmt: skip
        missed = timer["next_due"] < self.started
        definition = self.definitions.get(timer["definition"])
        live = self.runs.live(timer["definition"])
        if missed and timer["missed"] == "skip":
            self.events.emit("timer_skipped", "warning", **where,
                             reason="missed while the monitor was down")  # fmt: skip
        elif live:
            self.events.emit("timer_skipped", "warning", **where,
                             reason=f"overlap: run {live[0]} still going")  # fmt: skip
        elif definition is None:
            self.events.emit("timer_failed", "error", **where, reason="definition deleted")
        else:
            try:
                run = self.runs.start(definition, trigger=f"timer {timer['id']}")
            except RunError as e:
                self.events.emit("timer_failed", "error", **where, reason=str(e))
            else:
                self.store.write(
                    "UPDATE timers SET last_fired = ?, last_run = ? WHERE id = ?",
                    (now, run["id"], timer["id"]),
                )
                self.events.emit("timer_fired", **where, run=run["id"], missed=missed)
        if following is None:
            self.events.emit("timer_expired", **where)
