"""Benchmark of the monitor: CPU used to poll many stub scrapyd nodes (target: < 10% of one core).

Starts a stub process that serves scrapyd's daemonstatus.json and listjobs.json on --nodes
loopback ports (a few jobs per node, changing every poll), then runs `monitor` against all of them
at --interval for --duration seconds and prints the monitor's CPU time as a share of one core,
its RSS and the number of polls it completed. Run by hand:

    .venv/bin/python bench/monitor.py [--nodes 200] [--interval 1] [--duration 30]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import subprocess
import sys
import threading
import time

import psutil
from aiohttp import web

from scrapyfleet.core.waits import wait_until


def _job(i: int) -> dict[str, str]:
    return {"id": f"job{i}", "spider": "worker", "project": "p"}


def stub_app() -> web.Application:
    """A scrapyd look-alike whose jobs move on one step per listjobs call."""
    step = itertools.count()

    async def daemonstatus(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "pending": 2, "running": 2, "finished": 20})

    async def listjobs(request: web.Request) -> web.Response:
        n = next(step)
        return web.json_response(
            {
                "status": "ok",
                "pending": [_job(n + 3), _job(n + 4)],
                "running": [_job(n + 1), _job(n + 2)],
                "finished": [_job(i) for i in range(max(0, n - 20), n + 1)],
            }
        )

    app = web.Application()
    app.router.add_get("/daemonstatus.json", daemonstatus)
    app.router.add_get("/listjobs.json", listjobs)
    return app


async def serve(nodes: int) -> None:
    """Serve `nodes` stub nodes on free loopback ports; print the ports as one JSON line."""
    ports = []
    for _ in range(nodes):
        runner = web.AppRunner(stub_app(), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        ports.append(runner.addresses[0][1])
    print(json.dumps(ports), flush=True)
    await asyncio.Event().wait()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=200, help="stub scrapyd nodes")
    parser.add_argument("--interval", type=float, default=1.0, help="monitor poll interval (s)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds measured")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.nodes))
        return 0

    stubs = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--nodes", str(args.nodes)], stdout=subprocess.PIPE
    )
    try:
        assert stubs.stdout is not None
        ports = json.loads(stubs.stdout.readline())
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        monitor = subprocess.Popen(
            [sys.executable, "-m", "scrapyfleet.monitor.cli", "--log-format", "json",
             "--project", "p", "--interval", str(args.interval), "--timeout", "5",
             "--targets", *urls],
            stdout=subprocess.PIPE,
        )  # fmt: skip
        polls, unreachable = [0], [0]

        def count() -> None:
            assert monitor.stdout is not None
            for line in monitor.stdout:
                event = json.loads(line)["event"]
                polls[0] += event == "cluster_status"
                unreachable[0] += event == "node_unreachable"

        threading.Thread(target=count, daemon=True).start()
        process = psutil.Process(monitor.pid)
        # start-up (imports, first poll) is not measured
        if not wait_until(lambda: polls[0] >= 1, 30, interval=0.1):
            raise SystemExit("monitor made no poll within 30 s")
        before, started, first_poll = process.cpu_times(), time.monotonic(), polls[0]
        time.sleep(args.duration)
        after, wall = process.cpu_times(), time.monotonic() - started
        rss = process.memory_info().rss
        monitor.terminate()
        monitor.wait(10)
    finally:
        stubs.terminate()
        stubs.wait(10)

    cpu = (after.user - before.user) + (after.system - before.system)
    print(f"nodes                 {args.nodes}")
    print(f"interval              {args.interval} s")
    print(f"measured              {wall:.1f} s, {polls[0] - first_poll} polls")
    print(f"node_unreachable      {unreachable[0]}")
    print(f"monitor CPU           {100 * cpu / wall:.1f}% of one core (target < 10%)")
    print(f"monitor RSS           {rss / 2**20:.0f} MiB")
    print(f"load average (1 min)  {psutil.getloadavg()[0]:.2f} on {psutil.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
