"""Alert rules: thresholds checked every control tick; a rule that trips emits `rule_fired`,
notifies every webhook (a Slack-compatible document: `text` plus the event's fields) and, when
set to, stops the crawl (SIGTERM, resumable).

| kind | trips when | once per |
|---|---|---|
| `failed_urls` | a live run's failed URLs >= threshold | run |
| `error_rate` | failed / settled URLs of a live run >= threshold (0-1) | run |
| `pages_floor` | a live run's pages/s < threshold, WARMUP seconds after its start | run |
| `node_down` | a scrapyd node failed the last poll (threshold unused) | outage |
| `timer_missed` | a timer of the definition was skipped or failed to start its run | event |

A rule names a definition, or none for every definition.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from scrapyfleet.monitor.audit import Audit
from scrapyfleet.monitor.daemon import Event
from scrapyfleet.monitor.definitions import Definitions
from scrapyfleet.monitor.events import ConsoleEvents
from scrapyfleet.monitor.roles import Principal
from scrapyfleet.monitor.runs import RunError, Runs
from scrapyfleet.monitor.store import Store

KINDS = ("failed_urls", "error_rate", "pages_floor", "node_down", "timer_missed")
WARMUP = 30.0  # seconds a run may take before its pages/s is held against a floor
SETTLED = ("landed", "gone", "no_item", "failed")
TIMER_TROUBLE = ("timer_skipped", "timer_failed")


class RuleError(ValueError):
    """A rule that cannot be saved; the message says why."""


def parse(doc: Any, definitions: Definitions) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise RuleError("a rule is a JSON object")
    kind, name = doc.get("kind"), doc.get("definition")
    if kind not in KINDS:
        raise RuleError(f"kind: one of {', '.join(KINDS)}")
    if name is not None and (not isinstance(name, str) or definitions.get(name) is None):
        raise RuleError(f"definition: no saved crawl definition {name!r}")
    threshold = doc.get("threshold", 0)
    if not isinstance(threshold, int | float) or isinstance(threshold, bool) or threshold < 0:
        raise RuleError("threshold: a number >= 0")
    if kind == "error_rate" and threshold > 1:
        raise RuleError("threshold: an error rate is between 0 and 1")
    enabled = 1 if doc.get("enabled", True) else 0
    return {"definition": name, "kind": kind, "threshold": float(threshold),
            "stop": 1 if doc.get("stop") else 0, "enabled": enabled}  # fmt: skip


def measure(
    kind: str, run: Mapping[str, Any], figures: Mapping[str, Any], now: float
) -> float | None:
    """The value a run-based rule compares with its threshold (None: nothing to say yet)."""
    urls = figures.get("urls") or {}
    if kind == "failed_urls":
        return urls.get("failed")
    if kind == "error_rate":
        settled = sum(urls.get(k, 0) for k in SETTLED)
        return urls.get("failed", 0) / settled if settled else None
    if kind == "pages_floor" and now - run["started"] >= WARMUP:
        return figures.get("pages_per_second")
    return None


class Rules:
    def __init__(
        self,
        store: Store,
        definitions: Definitions,
        runs: Runs,
        events: ConsoleEvents,
        audit: Audit,
        notify: Callable[[Event], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store, self.definitions, self.runs = store, definitions, runs
        self.events, self.audit, self.notify, self.clock = events, audit, notify, clock
        self.tripped: set[tuple[int, str]] = set()  # (rule, run id or node)
        events.listeners.append(self._on_event)

    def add(self, doc: Any) -> dict[str, Any]:
        fields = parse(doc, self.definitions)
        rule_id = self.store.write(
            "INSERT INTO rules (definition, kind, threshold, stop, enabled) VALUES (?, ?, ?, ?, ?)",
            list(fields.values()),
        )
        return self.store.row("SELECT * FROM rules WHERE id = ?", (rule_id,)) or {}

    def all(self) -> list[dict[str, Any]]:
        return self.store.rows("SELECT * FROM rules ORDER BY id")

    def delete(self, rule_id: int) -> bool:
        return bool(self.store.db.execute("DELETE FROM rules WHERE id = ?", (rule_id,)).rowcount)

    def _active(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.all() if r["enabled"] and (kind is None or r["kind"] == kind)]

    def check(self, live: Mapping[str, Mapping[str, Any]], nodes: Mapping[str, bool]) -> None:
        """Trip the rules whose threshold `live` (run id -> figures) or `nodes` (name -> up)
        crosses."""
        now = self.clock()
        for rule in self._active():
            if rule["kind"] == "node_down":
                for node, up in nodes.items():
                    key = (rule["id"], f"node {node}")
                    if up:
                        self.tripped.discard(key)
                    elif key not in self.tripped:
                        self.tripped.add(key)
                        self._fire(rule, f"node {node} is down", None, node=node)
                continue
            for run_id, figures in live.items():
                run = self.runs.get(run_id)
                if run is None or rule["definition"] not in (None, run["definition"]):
                    continue
                value = measure(rule["kind"], run, figures, now)
                if value is None or (rule["id"], run_id) in self.tripped:
                    continue
                low = rule["kind"] == "pages_floor"
                if (value < rule["threshold"]) if low else (value >= rule["threshold"]):
                    self.tripped.add((rule["id"], run_id))
                    why = f"{rule['kind']} {value:g} {'<' if low else '>='} {rule['threshold']:g}"
                    self._fire(rule, f"run {run_id}: {why}", run, value=value)

    def _on_event(self, event: Event) -> None:
        if event.name not in TIMER_TROUBLE:
            return
        for rule in self._active("timer_missed"):
            if rule["definition"] in (None, event.fields.get("definition")):
                text = (
                    f"timer {event.fields.get('timer')} did not fire: {event.fields.get('reason')}"
                )
                self._fire(rule, text, None, timer=event.fields.get("timer"))

    def _fire(
        self, rule: dict[str, Any], text: str, run: dict[str, Any] | None, **fields: Any
    ) -> None:
        where = {"rule": rule["id"], "kind": rule["kind"], "threshold": rule["threshold"],
                 "run": run["id"] if run else None, "definition": run["definition"] if run
                 else rule["definition"], **fields}  # fmt: skip
        event = self.events.emit("rule_fired", "warning", text=f"scrapyfleet: {text}", **where)
        self.notify(event)
        targets = (
            [run["id"]] if run else self.runs.live(rule["definition"]) if rule["definition"] else []
        )
        if not rule["stop"]:
            return
        actor = Principal(f"rule {rule['id']}", "rule")
        for run_id in targets:
            try:
                self.runs.stop(run_id, trigger=f"rule {rule['id']}")
            except RunError as e:
                self.audit.record(actor, "stop_run", run_id, f"failed: {e}")
            else:
                self.audit.record(actor, "stop_run", run_id, "ok", reason=text)
