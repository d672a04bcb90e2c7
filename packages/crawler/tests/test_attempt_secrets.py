"""Nothing on a job's command line or in its node's world-readable files grants anything: while a
real crawl runs over scrapyd nodes with basic auth, another process reads every worker job's
command line (psutil) and the nodes' world-readable files, then tries what the ids and every
token-like value there allow: fetch the batch (its answer holds the feed password), forge a
report, take the next lease. All are refused (403/409), the feed password is never seen, and the
run still ends with every listing landed."""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil

from scrapyfleet.core.credentials import Credentials

from .conftest import start_sink

FEED_PASSWORD = "feed-canary-3f9b2c"
TOKENISH = re.compile(r"[0-9A-Za-z_-]{24,}")
MAX_JOBS = 3  # the jobs attacked (each: a few requests per token found)


def job_lines(nodes: list[int]) -> Iterator[list[str]]:
    """The command lines of the running worker jobs of the scrapyd processes `nodes` (only this
    test's: the machine may run other crawls)."""
    for pid in nodes:
        with contextlib.suppress(psutil.Error):
            for proc in psutil.Process(pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    line = proc.cmdline()
                    if any(arg.startswith("DISTRIBUTED_MASTER_URL=") for arg in line):
                        yield line


def readable_text(roots: list[Path]) -> str:
    """Every world-readable file under `roots`, as another local user could read them."""
    texts = []
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and path.stat().st_mode & stat.S_IROTH:
                texts.append(path.read_text(errors="replace"))
    return "\n".join(texts)


def status(method: str, url: str, token: str | None, body: dict[str, Any] | None = None) -> int:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = response.read().decode()
            assert FEED_PASSWORD not in answer, f"{method} {url} gave the feed password away"
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def attack(line: list[str], readable: str) -> dict[str, int]:
    """Every request the job's ids and the tokens in sight allow; their statuses."""
    values = dict(arg.split("=", 1) for arg in line if "=" in arg and not arg.startswith("-"))
    master, batch, job = values["DISTRIBUTED_MASTER_URL"], values["batch"], values["_job"]
    attempt = values["attempt"]
    tokens: list[str | None] = [None, *sorted(set(TOKENISH.findall(" ".join(line) + readable)))]
    forged = {"job": job, "node": values.get("node", ""), "attempt": int(attempt), "items": 0,
              "pages": 0, "finish_reason": "finished", "feed_ok": True, "failures": []}  # fmt: skip
    base = f"{master}/batches/{batch}"
    got = {}
    for token in tokens:
        got[f"GET {token}"] = status("GET", f"{base}?attempt={attempt}&job={job}", token)
        got[f"report {token}"] = status("POST", f"{base}/report?attempt={attempt}", token, forged)
        got[f"next {token}"] = status("POST", f"{base}/next?attempt={attempt}", token, {})
    return got


def test_a_local_reader_of_ps_and_node_files_is_refused_everything(
    tmp_path: Path,
    site_factory,
    cluster_factory,
    run_master,
    free_port: Callable[[], int],
    wait_for: Callable[..., Any],
) -> None:
    site = site_factory(total=1200, latency=0.02)
    sink = start_sink(tmp_path / "items", free_port(), wait_for, f"worker:{FEED_PASSWORD}")
    try:
        cluster = cluster_factory([2, 2], auth=Credentials("ops", "node-pass-9e1d"))
        args = ["--config", str(cluster.config), "--targets", "scrapyd*", "--site", site.url,
                "--index-pages", "40", "--batch-size", "100", "--concurrency", "4",
                "--feed-uri", sink.feed_uri, "--run-dir", str(tmp_path / "run")]  # fmt: skip
        env = {**os.environ, "SCRAPYFLEET_CRAWL_MASTER_FEED_PASSWORD": FEED_PASSWORD}
        nodes = [int(spec.pidfile.read_text()) for spec in cluster.nodes]
        attacked: dict[str, dict[str, int]] = {}
        with ThreadPoolExecutor(1) as pool:
            master = pool.submit(run_master, args, 400.0, env=env)
            while len(attacked) < MAX_JOBS and not master.done():
                lines = wait_for(lambda: list(job_lines(nodes)) or master.done(), timeout=240,
                                 what="a running worker job")  # fmt: skip
                for found in lines if isinstance(lines, list) else []:
                    job = next(a for a in found if a.startswith("_job="))
                    if job not in attacked and len(attacked) < MAX_JOBS:
                        readable = readable_text([spec.root for spec in cluster.nodes])
                        assert FEED_PASSWORD not in " ".join(found) + readable
                        attacked[job] = attack(found, readable)
            result = master.result()
    finally:
        sink.stop()
    assert attacked, "no worker job was seen running"
    granted = {job: {k: v for k, v in got.items() if v not in (403, 409)}
               for job, got in attacked.items()}  # fmt: skip
    assert granted == {job: {} for job in attacked}
    assert result.returncode == 0, result.stderr[-3000:]
    assert {item["url"] for item in sink.items()} == site.listing_urls()
