"""crawl-master on a terminal: a real short run on a pseudo-terminal, its screen read back.

The bar and the log lines never share a line, the end is a short table, and neither the
batches' creation nor `core_metrics` with nothing in flight nor the `run_summary` dict scroll by;
the run's master.log still has every event.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from scrapyfleet.crawler.master.landing import KEY_ENV as RECEIPT_KEY_ENV

WIDTH, HEIGHT = 120, 40
CONTROL = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
BAR = re.compile(r"batches .*\d+:\d\d:\d\d")  # the bar's label ... its elapsed time


def screen_of(raw: str) -> list[str]:
    """The lines a terminal shows after `raw` (scrollback kept): text, CR, LF, erase line,
    cursor up and auto-wrap at WIDTH; colours and other controls ignored."""
    lines: list[list[str]] = [[]]
    row = col = 0
    pos = 0
    for found in [*CONTROL.finditer(raw), None]:
        end = found.start() if found else len(raw)
        for char in raw[pos:end]:
            if char == "\r":
                col = 0
            elif char == "\n":
                row += 1
                lines += [[] for _ in range(row + 1 - len(lines))]
            elif char >= " ":
                if col >= WIDTH:
                    row, col = row + 1, 0
                    lines += [[] for _ in range(row + 1 - len(lines))]
                line = lines[row]
                line += [" "] * (col + 1 - len(line))
                line[col] = char
                col += 1
        if found is None:
            break
        pos = found.end()
        args, command = found.group(1) or "", found.group(2)
        if command == "A":
            row = max(0, row - int(args or 1))
        elif command == "K":
            lines[row] = [] if args == "2" else lines[row][:col]
        elif command == "G":
            col = int(args or 1) - 1
    return ["".join(line).rstrip() for line in lines]


def run_on_a_terminal(command: list[str], env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run `command` with a pseudo-terminal as its stdin, stdout and stderr; its exit code and
    everything it wrote."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", HEIGHT, WIDTH, 0, 0))
    process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env,
                               start_new_session=True)  # fmt: skip
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_a_person_reads_events_above_the_bar_and_a_summary_table(
    tmp_path: Path, site_factory, sink, cluster_factory
) -> None:
    site = site_factory(total=60)
    cluster = cluster_factory([1])
    run_dir = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPYFLEET_")}
    env.update(TERM="xterm-256color", COLUMNS=str(WIDTH), LINES=str(HEIGHT))
    if sink.receipt_key is not None:
        env[RECEIPT_KEY_ENV] = sink.receipt_key
    code, raw = run_on_a_terminal(
        [str(Path(sys.executable).with_name("crawl-master")), "--config", str(cluster.config),
         "--site", site.url, "--index-pages", "2", "--batch-size", "20",
         "--feed-uri", sink.feed_uri, "--run-dir", str(run_dir)],
        env, timeout=180,
    )  # fmt: skip
    lines = screen_of(raw)
    shown = "\n".join(lines)
    assert code == 0, shown[-3000:]
    assert "Traceback" not in shown
    assert any(BAR.search(line) for line in lines), "the bar was drawn"
    shared = [line for line in lines if BAR.search(line) and STAMP.search(line)]
    assert not shared, f"the bar and an event on one line: {shared}"
    assert sum("batch_done" in line for line in lines) == 3
    for hidden in ("batch_created", "run_summary", "started (bot:", "Versions:"):
        assert hidden not in shown, f"{hidden} is for master.log"
    for line in lines:
        if "core_metrics" in line:
            assert re.search(r"\b(scheduler|downloader|scraper|pipeline|done|memory)=[1-9]", line)
    table = shown[shown.index("crawl-master: run summary") :]
    assert re.search(r"URLs landed\s*│?\s*60\b", table) and "batches done" in table
    assert len(table.splitlines()) <= 20
    events = [json.loads(line)["event"] for line in (run_dir / "master.log").open()]
    for event in ("batch_created", "core_metrics", "run_summary", "batch_done", "Versions:"):
        assert any(e.startswith(event) for e in events), f"master.log keeps {event}"
