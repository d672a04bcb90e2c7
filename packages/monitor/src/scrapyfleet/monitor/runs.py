"""Crawl runs: crawl-master launched as a subprocess, each with its own run directory under the
state directory (`runs/<id>/`), watched and stopped by PID.

A run is `running` while its process lives, `stopping` after a stop (SIGTERM: crawl-master's own
clean stop, resumable), and when the process has gone: `finished` (summary ok), `stopped`
(interrupted), `failed` (summary not ok, or no summary: the reason says why). A stopped or
failed run resumes with `crawl-master --resume RUN_DIR`. The processes are in their own session:
a monitor restart leaves them running and adopts them again (by PID and command line).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapyfleet.core.procs import cmdline, free_port, pid_alive
from scrapyfleet.monitor.definitions import Definition
from scrapyfleet.monitor.events import ConsoleEvents
from scrapyfleet.monitor.store import Store

RUNS_DIR = "runs"
OUTPUT = "crawl-master.out"  # the process's stdout and stderr, in its run directory
SUMMARY = "summary.json"
FAILED_LIST = "failed.jl"
LIVE = ("running", "stopping")
RESUMABLE = ("stopped", "failed")
TAIL = 2000  # characters of the output a failed start quotes


class RunError(Exception):
    """A run cannot do as asked (409 in the API); the message says why."""


def _alive(pid: int, run_dir: str) -> bool:
    """Whether `pid` is still that run's crawl-master (its command line names the run dir)."""
    return pid_alive(pid) and run_dir.encode() in cmdline(pid)


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    """The run's summary.json; None without one (or an unreadable one)."""
    try:
        return dict(json.loads((run_dir / SUMMARY).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def outcome(
    run_dir: Path, summary: dict[str, Any] | None, exit_code: int | None
) -> tuple[str, str]:
    """(state, reason) of an ended run from its summary.json, or from its output without one."""
    if summary is None:
        try:
            tail = (run_dir / OUTPUT).read_text(encoding="utf-8", errors="replace")[-TAIL:]
        except OSError:
            tail = ""
        lines = [line for line in tail.splitlines() if "crawl-master:" in line or "error" in line]
        return (
            "failed",
            f"no summary.json (exit {exit_code}): {' '.join(lines[-2:]) or 'no output'}",
        )
    if summary.get("ok"):
        return "finished", "ok"
    if summary.get("reason") != "finished":
        return "stopped", f"interrupted ({summary.get('reason')})"
    failed = summary.get("urls", {}).get("failed", 0)
    return "failed", summary.get("fatal") or f"{failed} URLs failed"


class Runs:
    """Every run the console launched, in the state database; `refresh` once per control tick."""

    def __init__(
        self,
        store: Store,
        events: ConsoleEvents,
        crawl_master: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.events = events
        self.crawl_master = crawl_master
        self.clock = clock
        self.root = store.directory / RUNS_DIR
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        # called with (run id, its summary or None) when `refresh` finds a run's process gone
        self.on_end: Callable[[str, dict[str, Any] | None], None] = lambda _run, _summary: None

    def get(self, run_id: str) -> dict[str, Any] | None:
        return self.store.row("SELECT * FROM runs WHERE id = ?", (run_id,))

    def all(self, definition: str | None = None) -> list[dict[str, Any]]:
        if definition is None:
            return self.store.rows("SELECT * FROM runs ORDER BY started DESC")
        return self.store.rows(
            "SELECT * FROM runs WHERE definition = ? ORDER BY started DESC", (definition,)
        )

    def live(self, definition: str) -> list[str]:
        """Ids of the definition's runs whose process is still there."""
        rows = self.store.rows(
            "SELECT id FROM runs WHERE definition = ? AND state IN (?, ?)", (definition, *LIVE)
        )
        return [r["id"] for r in rows]

    def _launch(self, run_id: str, definition: Definition, args: list[str]) -> None:
        run_dir = self.root / run_id
        run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        metrics = f"127.0.0.1:{free_port()}"
        command = [self.crawl_master, *args, "--metrics", metrics, "--metrics-linger", "0",
                   "--log-format", "json", "--progress", "log"]  # fmt: skip
        with (run_dir / OUTPUT).open("ab") as out:
            out.write(f"# {datetime.now(UTC).isoformat()} {' '.join(command)}\n".encode())
            out.flush()
            try:
                process = subprocess.Popen(
                    command, cwd=definition.project_dir, stdout=out, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, start_new_session=True,
                )  # fmt: skip
            except OSError as e:
                raise RunError(f"cannot start {self.crawl_master}: {e.strerror or e}") from None
        self.processes[run_id] = process
        self.store.write(
            "UPDATE runs SET pid = ?, metrics = ?, state = 'running', ended = NULL, "
            "exit_code = NULL, reason = NULL WHERE id = ?",
            (process.pid, f"http://{metrics}/metrics", run_id),
        )

    def start(self, definition: Definition, trigger: str) -> dict[str, Any]:
        """Launch a new run of `definition`; `trigger` says who or what asked."""
        stamp = datetime.fromtimestamp(self.clock(), UTC).strftime("%Y%m%dT%H%M%S")
        run_id = f"{definition.name}-{stamp}-{secrets.token_hex(2)}"
        run_dir = self.root / run_id
        self.store.write(
            "INSERT INTO runs (id, definition, run_dir, state, started, trigger) "
            "VALUES (?, ?, ?, 'starting', ?, ?)",
            (run_id, definition.name, str(run_dir), self.clock(), trigger),
        )
        try:
            self._launch(run_id, definition, [*definition.arguments(), "--run-dir", str(run_dir)])
        except RunError as e:
            self._end(run_id, "failed", str(e), None)
            raise
        self.events.emit("run_started", run=run_id, definition=definition.name, trigger=trigger)
        return self.get(run_id) or {}

    def resume(self, run_id: str, definition: Definition, trigger: str) -> dict[str, Any]:
        run = self.get(run_id)
        if run is None:
            raise KeyError(run_id)
        if run["state"] not in RESUMABLE:
            raise RunError(f"run {run_id} is {run['state']}: only a stopped or failed run resumes")
        self._launch(run_id, definition, ["--resume", run["run_dir"]])
        self.store.write("UPDATE runs SET launches = launches + 1 WHERE id = ?", (run_id,))
        self.events.emit("run_resumed", run=run_id, definition=definition.name, trigger=trigger)
        return self.get(run_id) or {}

    def stop(self, run_id: str, trigger: str) -> dict[str, Any]:
        """SIGTERM the run's crawl-master (its clean, resumable stop)."""
        run = self.get(run_id)
        if run is None:
            raise KeyError(run_id)
        if run["state"] != "running":
            raise RunError(f"run {run_id} is {run['state']}: only a running run stops")
        try:
            os.kill(run["pid"], signal.SIGTERM)
        except ProcessLookupError:
            raise RunError(f"run {run_id}: its process {run['pid']} is gone") from None
        self.store.write("UPDATE runs SET state = 'stopping' WHERE id = ?", (run_id,))
        self.events.emit("run_stopping", run=run_id, definition=run["definition"], trigger=trigger)
        return self.get(run_id) or {}

    def _end(self, run_id: str, state: str, reason: str, exit_code: int | None) -> None:
        self.store.write(
            "UPDATE runs SET state = ?, reason = ?, exit_code = ?, ended = ?, pid = NULL "
            "WHERE id = ?",
            (state, reason, exit_code, self.clock(), run_id),
        )

    def refresh(self) -> list[str]:
        """Settle every run whose process has gone; the ids of those still live."""
        live = []
        for run in self.store.rows("SELECT * FROM runs WHERE state IN (?, ?)", LIVE):
            process = self.processes.get(run["id"])
            if process is not None:
                code = process.poll()
                gone = code is not None
            else:
                code, gone = None, not _alive(run["pid"], run["run_dir"])
            if not gone:
                live.append(run["id"])
                continue
            self.processes.pop(run["id"], None)
            summary = read_summary(Path(run["run_dir"]))
            state, reason = outcome(Path(run["run_dir"]), summary, code)
            self._end(run["id"], state, reason, code)
            self.on_end(run["id"], summary)
            level = "info" if state == "finished" else "warning"
            self.events.emit(f"run_{state}", level, run=run["id"], definition=run["definition"],
                             reason=reason, exit_code=code)  # fmt: skip
        return live

    def summary(self, run_id: str) -> dict[str, Any] | None:
        run = self.get(run_id)
        return read_summary(Path(run["run_dir"])) if run else None

    def failed_list(self, run_id: str) -> Path | None:
        run = self.get(run_id)
        path = Path(run["run_dir"]) / FAILED_LIST if run else None
        return path if path is not None and path.is_file() else None
