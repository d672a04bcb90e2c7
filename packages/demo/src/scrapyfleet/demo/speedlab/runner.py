"""Run one experiment as a separate crawl process; collect wall time, CPU time and the trace."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

log = structlog.get_logger(__name__)


@dataclass
class RunResult:
    """What one crawl process did."""

    settings: dict[str, str]
    wall: float
    cpu: float
    returncode: int
    items: int = 0
    responses: int = 0
    response_bytes: int = 0
    elapsed: float = 0.0
    reason: str | None = None
    trace: list[dict[str, Any]] = field(default_factory=list)
    malformed_lines: int = 0

    @property
    def cpu_share(self) -> float:
        """CPU seconds per wall second of the crawl process (1.0 = one core busy)."""
        return self.cpu / self.wall if self.wall else 0.0

    def peak(self, column: str) -> int:
        return max((int(row[column]) for row in self.trace), default=0)


def parse_events(lines: list[str]) -> tuple[list[dict[str, Any]], int]:
    """JSON event lines -> events; lines that are not JSON objects are counted and skipped."""
    events, malformed = [], 0
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            malformed += 1
            continue
        if isinstance(event, dict):
            events.append(event)
        else:
            malformed += 1
    return events, malformed


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_crawl(site: str, settings: Mapping[str, object], timeout: float = 600.0) -> RunResult:
    """`python -m scrapyfleet.demo.speedlab crawl` against `site` with these settings."""
    pairs = {"SPEED_SITE": site, **{k: str(v) for k, v in settings.items()}}
    cmd = [sys.executable, "-m", "scrapyfleet.demo.speedlab", "--log-format", "json", "crawl"]
    for name, value in pairs.items():
        cmd += ["-s", f"{name}={value}"]
    cpu_before, started = children_cpu(), time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    wall, cpu = time.monotonic() - started, children_cpu() - cpu_before
    events, malformed = parse_events(proc.stderr.splitlines())
    result = RunResult(dict(pairs), wall, cpu, proc.returncode, malformed_lines=malformed)
    t0 = None
    for event in events:
        if event.get("event") == "core_metrics":
            stamp = _seconds(event.get("timestamp"))
            t0 = stamp if t0 is None else t0
            result.trace.append({**event, "t": stamp - t0})
        elif event.get("event") == "crawl_finished":
            result.reason = event.get("reason")
            result.items = int(event.get("items") or 0)
            result.responses = int(event.get("responses") or 0)
            result.response_bytes = int(event.get("response_bytes") or 0)
            result.elapsed = float(event.get("elapsed") or 0.0)
    log.info(
        "run_finished",
        wall=round(wall, 2),
        cpu=round(cpu, 2),
        items=result.items,
        reason=result.reason,
        returncode=proc.returncode,
    )
    if proc.returncode != 0:
        log.warning("run_failed", returncode=proc.returncode, stderr_tail=proc.stderr[-2000:])
    return result


def _seconds(timestamp: object) -> float:
    return datetime.fromisoformat(str(timestamp).replace("Z", "+00:00")).timestamp()
