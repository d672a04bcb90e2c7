"""Benchmark of the demo site: responses/s at --latency 0 and memory over >= 100,000 responses.

Starts `demosite` as its own process on a free loopback port, drives it with wrk (another
process; `apt-get install -y wrk`) in rounds until enough responses have been served, and prints
responses/s per round and the server's RSS after each round. Run by hand:

    .venv/bin/python bench/demosite.py [--responses 100000] [--connections 64]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from scrapyfleet.core.procs import free_port, url_ok
from scrapyfleet.core.waits import wait_until
from scrapyfleet.demosite.catalog import Catalog

# A crawl's mix: 30 property pages per index page, random order.
PROPERTIES_LUA = """
math.randomseed(7)
request = function()
  local i = math.random(0, {total} - 1)
  if math.random(31) == 1 then
    return wrk.format(nil, string.format("/properties/index_%05d.html", math.floor(i / 30)))
  end
  return wrk.format(nil, string.format("/properties/property_%06d.html", i))
end
"""
BENCHMARK_LUA = """
math.randomseed(7)
request = function()
  local i = math.random(1, 5000)
  if math.random(21) == 1 then
    local page = math.floor((i - 1) / 20) + 1
    return wrk.format(nil, string.format("/ti:5000/rr:0/benchmark/index?p=%d", page))
  end
  return wrk.format(nil, string.format("/ti:5000/rr:0/benchmark/detail?id0=%d", i))
end
"""


def wait_healthy(url: str, timeout: float = 30.0) -> None:
    if not wait_until(lambda: url_ok(url, timeout=2), timeout, interval=0.1):
        raise SystemExit(f"demosite did not answer {url} within {timeout}s")


def wrk_round(base: str, script: Path, seconds: int, connections: int) -> tuple[int, float, int]:
    """One wrk run: (responses, responses/s, non-2xx/3xx + socket errors)."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), base],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    responses = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = (int(bad.group(1)) if bad else 0) + (sum(map(int, errors.groups())) if errors else 0)
    return responses, rate, failed


def run(name: str, base: str, lua: str, server: psutil.Process, args: argparse.Namespace) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua.format(total=args.total))
    script = Path(f.name)
    try:
        wrk_round(base, script, 2, args.connections)  # warm-up
        start_rss = server.memory_info().rss
        print(f"\n{name}: RSS after warm-up {start_rss / 2**20:.1f} MiB")
        served = 0
        while served < args.responses:
            responses, rate, failed = wrk_round(base, script, args.seconds, args.connections)
            served += responses
            rss = server.memory_info().rss
            print(
                f"  {responses:>7} responses in {args.seconds}s: {rate:>7.0f} responses/s, "
                f"{failed} failed; total {served:>7}, RSS {rss / 2**20:.1f} MiB"
            )
        growth = (server.memory_info().rss - start_rss) / 2**20
        print(f"  RSS growth over {served} responses: {growth:+.1f} MiB")
    finally:
        script.unlink()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--total", type=int, default=50_000, help="listings served")
    parser.add_argument("--responses", type=int, default=100_000, help="responses per scenario")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--seconds", type=int, default=10, help="length of one wrk round")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 1

    started = time.perf_counter()
    Catalog(args.total).truth()
    print(f"ground truth of {args.total} listings: {time.perf_counter() - started:.2f} s")

    port = free_port()
    demosite = Path(sys.executable).with_name("demosite")
    cmd = [str(demosite), "--port", str(port), "--latency", "0", "--total", str(args.total)]
    proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base + "/health")
        server = psutil.Process(proc.pid)
        print(f"demosite pid {proc.pid}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
        run("properties pages", base, PROPERTIES_LUA, server, args)
        run("benchmark pages (rr:0)", base, BENCHMARK_LUA, server, args)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
