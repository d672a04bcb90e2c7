"""The console's state: one JSON-ready snapshot per poll, with the history its charts draw.

The history (pages/s, listings, leading shifts over time) is kept in memory from successive
polls, bounded by HISTORY points; a restarted console starts it afresh. The analysis panel's
numbers are finite numbers or None: a broken or hostile `shifts.json` shows as missing values.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scrapyfleet.core.contracts import ALERT_EVENTS
from scrapyfleet.core.scrapyd import Job
from scrapyfleet.core.targets import Target
from scrapyfleet.monitor.daemon import NodeReport, PollReport
from scrapyfleet.monitor.logproxy import log_path
from scrapyfleet.monitor.readings import Analysis, Crawl, Reading, Readings

HISTORY = 720  # points per chart series
RATE_WINDOW = 30.0  # seconds over which pages/s and the ETA's URL rate are measured
FINISHED_SHOWN = 10  # finished jobs listed per node (the counts are complete)
RECENT_EVENTS = 20
LEADERS = 3  # words per end of the table drawn in the shifts chart
DONE_OUTCOMES = ("landed", "gone", "no_item", "failed")


def iso(t: float | None) -> str | None:
    """Unix time -> ISO-8601 UTC with a Z, as the structured events write it."""
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class NodeMemory:
    last_answer: float | None = None


class FleetState:
    """Turns each poll's reports and readings into the snapshot the web page shows."""

    def __init__(
        self, targets: Sequence[Target], project: str, interval: float, words: int = 10
    ) -> None:
        self.project = project
        self.interval = interval
        self.words = words
        self.nodes = {t.url: NodeMemory() for t in targets}
        self.polls = 0
        self.counters: deque[tuple[float, float, float]] = deque()  # (t, pages, urls done)
        self.pages_rate: deque[tuple[float, float]] = deque(maxlen=HISTORY)
        self.shifts: deque[tuple[float, dict[str, float]]] = deque(maxlen=HISTORY)
        self.last_batch: int | None = None
        self.events: deque[dict[str, Any]] = deque(maxlen=RECENT_EVENTS)

    def update(self, report: PollReport, readings: Readings, now: float) -> dict[str, Any]:
        """The snapshot after one poll (`now`: Unix time)."""
        self.polls += 1
        self.events.extendleft(
            {"event": e.name, "level": e.level, "time": iso(now), **e.fields}
            for e in report.events
            if e.name in ALERT_EVENTS
        )
        nodes = [self._node(n, now) for n in report.nodes]
        up = [n for n in nodes if n["up"]]
        return {
            "time": iso(now),
            "poll": self.polls,
            "interval": self.interval,
            "project": self.project,
            "nodes": nodes,
            "totals": {
                "up": len(up),
                "down": len(nodes) - len(up),
                **{k: sum(n[k] for n in up) for k in ("pending", "running", "finished")},
                "slots": sum(n["slots"] or 0 for n in nodes),
            },
            "crawl": self._crawl(readings.crawl, now),
            "ingest": {
                "ftpsink": _panel(readings.ftpsink),
                "items": _panel(readings.items),
            },
            "analysis": self._analysis(readings.analysis, now),
            "events": list(self.events),
        }

    def _node(self, report: NodeReport, now: float) -> dict[str, Any]:
        memory, target = self.nodes[report.target.url], report.target
        node: dict[str, Any] = {
            "name": target.name,
            "url": target.url,
            "up": report.up,
            "reason": report.reason,
            "slots": target.slots,
            "latency": round(report.latency, 4),
            "pending": 0,
            "running": 0,
            "finished": 0,
            "jobs": [],
        }
        if report.jobs is not None:
            memory.last_answer = now
            jobs = report.jobs
            finished = sorted(jobs.finished, key=lambda j: j.end_time or "", reverse=True)
            shown = [*jobs.running, *jobs.pending, *finished[:FINISHED_SHOWN]]
            node.update(
                pending=len(jobs.pending),
                running=len(jobs.running),
                finished=len(jobs.finished),
                jobs=[self._job(target.name, job) for job in shown],
            )
        node["last_answer"] = iso(memory.last_answer)
        return node

    def _job(self, node: str, job: Job) -> dict[str, Any]:
        started = job.state != "pending"
        return {
            "id": job.id,
            "spider": job.spider,
            "state": job.state,
            "start_time": job.start_time,
            "end_time": job.end_time,
            "log": log_path(node, job.project or self.project, job.spider, job.id)
            if started
            else None,
        }

    def _crawl(self, reading: Reading[Crawl], now: float) -> dict[str, Any]:
        panel = _panel(reading)
        crawl = reading.value
        if crawl is None:
            return panel
        done = sum(crawl.urls.get(k, 0.0) for k in DONE_OUTCOMES)
        pages = crawl.pages or 0.0
        if self.counters and pages < self.counters[-1][1]:
            self.counters.clear()  # a new run: counters restarted
        self.counters.append((now, pages, done))
        while len(self.counters) > 2 and now - self.counters[1][0] >= RATE_WINDOW:
            self.counters.popleft()
        t0, pages0, done0 = self.counters[0]
        span = now - t0
        rate = (pages - pages0) / span if span > 0 else None
        url_rate = (done - done0) / span if span > 0 else None
        pending = crawl.urls.get("pending")
        if rate is not None:
            self.pages_rate.append((now, round(rate, 3)))
        eta = pending / url_rate if pending is not None and url_rate else None
        panel.update(
            started=iso(crawl.started),
            pages_per_second=None if rate is None else round(rate, 2),
            eta_seconds=None if crawl.outcome or eta is None else round(eta),
            history=[[t, v] for t, v in self.pages_rate],
        )
        return panel

    def _analysis(self, reading: Reading[Analysis], now: float) -> dict[str, Any]:
        panel = _panel(reading)
        analysis = reading.value
        if analysis is None:
            return panel
        doc = analysis.shifts
        words = [
            {"word": w["word"], "shift": _number(w.get("shift")), "count": _number(w.get("count"))}
            for w in doc["words"]
        ]
        top, bottom = _ends(words, self.words)
        leaders = [w for end in _ends(words, LEADERS) for w in end]
        if doc.get("batch_id") != self.last_batch:
            self.last_batch = doc.get("batch_id")
            self.shifts.append((now, {w["word"]: w["shift"] for w in leaders}))
        panel.update(
            batch_id=doc.get("batch_id"),
            updated_at=doc.get("updated_at"),
            listings=_number(doc.get("listings")),
            bad_records=_number(doc.get("bad_records")),
            avg_price=_number(doc.get("avg_price")),
            non_finite=analysis.non_finite,
            word_count=len(words),
            top=top,
            bottom=bottom,
            progress=[[p.get("updated_at"), p["listings"]] for p in analysis.progress],
            shifts={
                w["word"]: [[t, s[w["word"]]] for t, s in self.shifts if w["word"] in s]
                for w in leaders
            },
        )
        return panel


def _number(value: Any) -> float | None:
    """`value` if it is a finite number, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if math.isfinite(value) else None


def _ends(rows: list[dict[str, Any]], n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The first `n` rows and the last `n` that are not among them."""
    return rows[:n], rows[max(n, len(rows) - n) :]


def _panel(reading: Reading[Any]) -> dict[str, Any]:
    panel: dict[str, Any] = {"state": reading.state, "reason": reading.problem}
    value = reading.value
    if value is not None and not isinstance(value, Analysis):  # its own shape: `_analysis`
        panel.update({k: getattr(value, k) for k in value.__dataclass_fields__})
    return panel
