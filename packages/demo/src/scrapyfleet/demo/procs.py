"""Process supervision for the demo: start children in their own sessions, watch, stop them all.

Every child gets its own process group (`start_new_session=True`), so Ctrl-C in the terminal
reaches only the demo, and stopping a child signals its whole group (scrapyd's job processes,
Spark's JVM and Python driver). Every PID is recorded in `pids.json`. Children are reaped with
`os.wait4`, so each one's CPU seconds (its own and its reaped descendants') are known exactly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from scrapyfleet.core.files import write_json_atomic
from scrapyfleet.core.procs import cmdline, pid_alive, stop_group

log = structlog.get_logger("scrapyfleet.demo")

PIDS_FILE = "pids.json"
POLL = 0.1


class ComponentError(RuntimeError):
    """A component died or did not become ready; the message says which and where its log is."""


@dataclass(slots=True)
class Child:
    """One started component."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    started: float
    returncode: int | None = None
    cpu_seconds: float | None = None
    stopped_by_us: bool = False

    @property
    def pid(self) -> int:
        return self.popen.pid

    def poll(self) -> int | None:
        """Reap the child if it has exited (recording its resource usage); its exit code."""
        if self.returncode is None:
            pid, status, usage = os.wait4(self.pid, os.WNOHANG)
            if pid:
                self._reaped(status, usage)
        return self.returncode

    def wait(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(POLL)
        return self.returncode

    def _reaped(self, status: int, usage: Any) -> None:
        self.returncode = os.waitstatus_to_exitcode(status)
        self.popen.returncode = self.returncode
        self.cpu_seconds = round(usage.ru_utime + usage.ru_stime, 3)

    def signal_group(self, signum: int) -> bool:
        """Send `signum` to the child's process group; False if the group is gone."""
        try:
            os.killpg(self.pid, signum)
        except ProcessLookupError:
            return False
        return True

    def group_alive(self) -> bool:
        try:
            os.killpg(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def running(self) -> bool:
        """Whether the child or anything left in its process group is still alive."""
        return self.poll() is None or self.group_alive()

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Supervisor:
    """Starts components, checks readiness with a deadline, and stops them in reverse order."""

    run_dir: Path
    children: list[Child] = field(default_factory=list)
    extra_pids: dict[str, int] = field(default_factory=dict)
    _extra_cmdlines: dict[int, bytes] = field(default_factory=dict)

    def start(
        self,
        name: str,
        argv: Sequence[str],
        log_name: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Child:
        """Start `argv` in its own session (in the run directory, with `env` added to the
        environment), stdout and stderr to RUN/logs/<name>.log."""
        log_path = self.run_dir / (log_name or f"logs/{name}.log")
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as out:
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.run_dir,
                env=os.environ | env if env else None,
                start_new_session=True,
            )
        child = Child(name, popen, log_path, time.monotonic())
        self.children.append(child)
        self.write_pids()
        log.info("started", component=name, pid=child.pid, log=str(log_path))
        return child

    def add_pids(self, pids: dict[str, int]) -> None:
        """Record processes a component started in sessions of their own (scrapyd nodes)."""
        self.extra_pids.update(pids)
        self._extra_cmdlines.update({pid: cmdline(pid) for pid in pids.values()})
        self.write_pids()

    def write_pids(self) -> None:
        data = {
            "demo": os.getpid(),
            "components": {c.name: c.pid for c in self.children},
            "extra": self.extra_pids,
        }
        write_json_atomic(self.run_dir / PIDS_FILE, data, indent=2)

    def wait_ready(self, child: Child, ready: Callable[[], bool], timeout: float) -> float:
        """Poll `ready` until true; ComponentError if any child dies or the deadline passes."""
        deadline = time.monotonic() + timeout
        while not ready():
            self.check()
            if time.monotonic() > deadline:
                raise ComponentError(
                    f"{child.name} was not ready within {timeout:.0f} s; see {child.log_path}"
                )
            time.sleep(POLL)
        seconds = round(time.monotonic() - child.started, 2)
        log.info("ready", component=child.name, pid=child.pid, seconds=seconds)
        return seconds

    def check(self, *children: Child) -> None:
        """ComponentError naming the first of `children` (default: all) that has exited."""
        for child in children or tuple(self.children):
            code = child.poll()
            if code is not None and not child.stopped_by_us:
                raise ComponentError(
                    f"{child.name} (pid {child.pid}) exited with code {code}; "
                    f"see {child.log_path}\n{child.log_tail()}"
                )

    def stop_all(self, each: float = 5.0, budget: float = 10.0) -> list[str]:
        """SIGTERM every group in reverse start order, waiting up to `each` seconds for each
        (and `budget` in all); then SIGKILL whatever is left. Names of the killed components."""
        budget_end = time.monotonic() + budget
        for child in reversed(self.children):
            child.stopped_by_us = True
            if not child.running():
                continue
            child.signal_group(signal.SIGTERM)
            deadline = min(time.monotonic() + each, budget_end)
            while child.running() and time.monotonic() < deadline:
                time.sleep(POLL)
            log.info("stopped", component=child.name, pid=child.pid, code=child.returncode)
        killed = []
        for child in reversed(self.children):
            if child.running():
                child.signal_group(signal.SIGKILL)
                child.wait(each)
                killed.append(child.name)
        for name, pid in self.extra_pids.items():
            if self._extra_alive(pid):
                stop_group(pid, grace=0.0)
                killed.append(name)
        return killed

    def _extra_alive(self, pid: int) -> bool:
        """Alive, and still the process recorded (not a reused PID)."""
        return pid_alive(pid) and cmdline(pid) == self._extra_cmdlines.get(pid)

    def usage(self) -> dict[str, dict[str, Any]]:
        """Per component: PID, exit code, CPU seconds (its own and its reaped descendants')."""
        return {
            c.name: {
                "pid": c.pid,
                "returncode": c.returncode,
                "cpu_seconds": c.cpu_seconds,
            }
            for c in self.children
        }

    def leftovers(self) -> list[str]:
        """Names of components with a process still alive."""
        alive = [c.name for c in self.children if c.group_alive()]
        return alive + [name for name, pid in self.extra_pids.items() if self._extra_alive(pid)]
