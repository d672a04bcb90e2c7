"""The real crawl-master against a simulated fleet, on this machine: what the master costs.

N simulated scrapyd nodes in this process (`simnodes.py`), whose jobs are simulated workers
(`simworker.py`: the worker's own client, leases and wire models, no Scrapy), and a URL source
that feeds the master's collector as fast as it takes them (`simproject.py`: `data:` index
pages). crawl-master runs as a subprocess in the generated project; `--kill` stops that share of
the nodes when half the URLs are settled. Prints (and with `--out`, writes to fleetsim.json)
URLs/s through the master, its CPU ms per URL, report-to-ledger latency, ledger bytes per URL,
its RSS at 10/50/100% of the run, the scrapyd calls it made per second, and whether every URL
ended in exactly one outcome; with `--out`, every sample too (samples.csv: seconds, URLs settled,
RSS MiB, CPU s; bench/fleetplot.py draws runs of several N against each other). Run by hand:

    .venv/bin/python bench/fleetsim.py --nodes 100 --slots 4 --urls 200000
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import os
import random
import resource
import secrets
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import psutil
import structlog

sys.path.insert(0, str(Path(__file__).parent))
from simnodes import SimNode, node_host
from simproject import PROJECT, SPIDER, write_project
from simverdict import MIB, Sample, figures
from simworker import SimWorkers, parse_faults

from scrapyfleet.core.procs import script

SAMPLE_EVERY = 0.25  # seconds between samples of the master's RSS and CPU
SAMPLES_FILE = "samples.csv"
SAMPLE_COLUMNS = ("seconds", "urls_settled", "rss_mib", "cpu_seconds")
# cProfile of the master's CPU time (not wall time: the machine may be shared), to argv[1].
PROFILER = """import cProfile, runpy, sys, time
out, sys.argv = sys.argv[1], sys.argv[2:]
profile = cProfile.Profile(time.process_time)
try:
    profile.runcall(runpy.run_path, sys.argv[0], run_name="__main__")
finally:
    profile.dump_stats(out)
"""


def master_command(args: argparse.Namespace, run_dir: Path) -> list[str]:
    command = [script("crawl-master")]
    if args.profile:
        command = [sys.executable, "-c", PROFILER, str(args.profile.resolve()), *command]
    return [
        *command,
        "--spider", SPIDER,
        "--run-dir", str(run_dir),
        "--batch-size", str(args.batch_size),
        "--feed-uri", "file:///nonexistent/fleetsim/%(batch)s.jl",  # nobody stores to it
        "--node-timeout", str(args.node_timeout),
        "--progress", "off",
        "--log-format", "json",
        *args.master_arg,
    ]  # fmt: skip


def master_env() -> dict[str, str]:
    """This environment without Scrapy's or crawl-master's own variables."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("SCRAPY_", "SCRAPYFLEET_"))}


async def sample(pid: int, workers: SimWorkers, total: int, samples: list[Sample]) -> None:
    """Sample the master's RSS and CPU with the fleet's progress until cancelled."""
    process = psutil.Process(pid)
    started = time.monotonic()
    while True:
        try:
            rss, cpu = process.memory_info().rss, sum(process.cpu_times()[:2])
        except psutil.Error:
            return
        if not rss:  # exited, not yet reaped
            return
        progress = workers.stats.settled / total
        samples.append(Sample(time.monotonic() - started, progress, rss, cpu))
        await asyncio.sleep(SAMPLE_EVERY)


def write_samples(path: Path, samples: list[Sample], total: int) -> None:
    """Every sample as CSV (bench/fleetplot.py draws them)."""
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(SAMPLE_COLUMNS)
        for s in samples:
            out.writerow([round(s.seconds, 3), round(s.progress * total), round(s.rss / MIB, 2),
                          round(s.cpu, 3)])  # fmt: skip


async def kill_midway(args: argparse.Namespace, nodes: list[SimNode], workers: SimWorkers) -> None:
    """Kill `--kill` of the nodes once half the URLs are settled."""
    await workers.halfway.wait()
    doomed = random.Random(args.seed).sample(nodes, round(len(nodes) * args.kill))
    await asyncio.gather(*(node.kill() for node in doomed))
    print(f"killed {len(doomed)} nodes at {workers.stats.settled} settled URLs", flush=True)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    out: Path = args.out.resolve()
    workers = SimWorkers(args.url_seconds, args.job_concurrency, parse_faults(args.faults),
                         args.urls, args.seed)  # fmt: skip
    nodes = [SimNode(f"sim{i:03d}", secrets.token_hex(8), args.slots, PROJECT, SPIDER,
                     workers.run_job, node_host(i)) for i in range(args.nodes)]  # fmt: skip
    await asyncio.gather(*(node.start() for node in nodes))
    project = write_project(out / "project", args.urls, args.per_page, nodes)
    run_dir = out / "master"
    samples: list[Sample] = []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    sim_before = time.process_time()
    started = time.monotonic()
    with (out / "master.log").open("wb") as log:
        master = await asyncio.create_subprocess_exec(
            *master_command(args, run_dir), cwd=project, env=master_env(), stdout=log, stderr=log
        )
        helpers = [asyncio.create_task(sample(master.pid, workers, args.urls, samples))]
        if args.kill:
            helpers.append(asyncio.create_task(kill_midway(args, nodes, workers)))
        try:
            code = await asyncio.wait_for(master.wait(), args.timeout)
        except TimeoutError:
            master.terminate()
            code = await master.wait()
        wall = time.monotonic() - started
        for helper in helpers:
            helper.cancel()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    sim_cpu = time.process_time() - sim_before
    await asyncio.gather(*(node.kill() for node in nodes if not node.dead))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result = figures(args.urls, run_dir, workers.stats, samples, wall, cpu)
    calls = sum((node.calls for node in nodes), Counter[str]())
    result["scrapyd_calls_per_second"] = {k: round(n / wall, 1) for k, n in sorted(calls.items())}
    write_samples(out / SAMPLES_FILE, samples, args.urls)
    config = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    return {"exit_code": code, **result, "simulator_cpu_seconds": round(sim_cpu, 2),
            "config": config, "cpus": psutil.cpu_count()}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    add = parser.add_argument
    add("--nodes", type=int, default=10, help="simulated scrapyd nodes")
    add("--slots", type=int, default=4, help="slots (max_proc) per node")
    add("--urls", type=int, default=200_000, help="URLs the spider diverts")
    add("--per-page", type=int, default=1000, help="target URLs per synthetic index page")
    add("--batch-size", type=int, default=1000, help="crawl-master --batch-size")
    add("--url-seconds", type=float, default=0.01, help="simulated crawl time of one URL")
    add("--job-concurrency", type=int, default=8, help="URLs a simulated job crawls at once")
    add("--faults", default="gone=0.01,failed=0.01,no_item=0.01",
        help="share of URLs per outcome (failed: transient, retried)")  # fmt: skip
    add("--kill", type=float, default=0.0, help="share of the nodes killed midway")
    add("--node-timeout", type=float, default=30.0, help="crawl-master --node-timeout")
    add("--master-arg", action="append", default=[], help="another crawl-master argument")
    add("--profile", type=Path, help="write a cProfile of the master's CPU time here")
    add("--seed", type=int, default=0, help="seed of the fault draws and of the killed nodes")
    add("--timeout", type=float, default=1800, help="time limit of the run (s)")
    add("--out", type=Path, default=Path(time.strftime("runs/fleetsim-%H%M%S")), help="output")
    args = parser.parse_args()
    try:
        parse_faults(args.faults)
    except ValueError as exc:
        parser.error(f"--faults: {exc}")
    args.out.mkdir(parents=True, exist_ok=True)
    # The simulated workers say only what went wrong (the master's log is master.log).
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=2), flush=True)
    (args.out / "fleetsim.json").write_text(json.dumps(result, indent=2))
    return 0 if result["exit_code"] in (0, 1) and result["every_url_once"] else 1


if __name__ == "__main__":
    sys.exit(main())
