"""A demo site process for the experiments: started on a free loopback port, stopped by PID."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import structlog

from scrapyfleet.core.procs import free_port, url_ok
from scrapyfleet.core.waits import wait_until

log = structlog.get_logger(__name__)


def site_responds(url: str) -> bool:
    """Whether the site serves a benchmark index page right now."""
    return url_ok(f"{url}/rr:0/benchmark/index?p=1", timeout=2)


def wait_until_up(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    def serving() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"demosite exited with {proc.returncode} before serving {url}")
        return site_responds(url)

    if not wait_until(serving, timeout, interval=0.1):
        raise TimeoutError(f"demosite did not serve {url} within {timeout}s")


@contextmanager
def demosite(timeout: float = 30.0) -> Iterator[str]:
    """Run `demosite --port P --latency 0` (next to this interpreter); yield its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    exe = Path(sys.executable).with_name("demosite")
    proc = subprocess.Popen(
        [str(exe), "--port", str(port), "--latency", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(url, proc, timeout)
        log.info("site_started", url=url, pid=proc.pid)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.info("site_stopped", url=url, pid=proc.pid)
