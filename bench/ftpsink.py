"""Benchmark of ftpsink: loopback throughput of one big upload and of many concurrent small ones,
without and with landing receipts (a receipt key: lines counted while streaming, an HMAC per file).

Starts the real `ftpsink` console script on a free loopback port (temporary root, passive ports
from the kernel, no size limit), uploads with ftplib from this process and prints, per scenario,
MB/s (bytes / wall time from first connect to the last 226) and the server's CPU seconds. Every
landed file is checked for size and SHA-256, every receipt verified. Target: >= 150 MB/s for the
single upload, receipts on or off. Run by hand:

    .venv/bin/python bench/ftpsink.py [--big-mb 200] [--files 50] [--file-mb 2]
"""

from __future__ import annotations

import argparse
import ftplib
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

from scrapyfleet.core import receipts
from scrapyfleet.core.procs import free_port
from scrapyfleet.core.waits import wait_until

MB = 1 << 20
FTPSINK = str(Path(sys.executable).parent / "ftpsink")
KEY = "bench-receipt-key-0123456789abcdef"


def upload(port: int, name: str, payload: bytes, signed: bool) -> None:
    with ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", port, timeout=60)
        ftp.login()
        reply = ftp.storbinary(f"STOR {name}", io.BytesIO(payload), blocksize=256 * 1024)
    receipt = receipts.parse(reply)
    if signed:
        assert receipt is not None and receipts.verify(KEY.encode(), receipt), reply
        lines = payload.count(b"\n") + (payload[-1:] not in (b"", b"\n"))
        assert (receipt.size, receipt.lines) == (len(payload), lines), reply
    else:
        assert receipt is None, reply


def wait_listening(log: Path, server: subprocess.Popen[bytes], timeout: float) -> None:
    def listening() -> bool:
        if server.poll() is not None:
            raise SystemExit(f"ftpsink exited: {log.read_text()}")
        return any(
            json.loads(line)["event"] == "listening" for line in log.read_text().splitlines()
        )

    if not wait_until(listening, timeout):
        raise SystemExit("ftpsink did not start listening in time")


def scenario(
    title: str, port: int, server: psutil.Process, root: Path, files: dict[str, bytes], signed: bool
) -> None:
    cpu = server.cpu_times()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(files)) as pool:
        list(pool.map(lambda name: upload(port, name, files[name], signed), files))
    seconds = time.perf_counter() - started
    after = server.cpu_times()
    for name, payload in files.items():
        landed = (root / name).read_bytes()
        assert hashlib.sha256(landed).digest() == hashlib.sha256(payload).digest(), name
    total = sum(map(len, files.values()))
    server_cpu = (after.user - cpu.user) + (after.system - cpu.system)
    print(
        f"{title:<40} {total / MB:8.0f} MB {seconds:7.2f} s {total / MB / seconds:8.1f} MB/s"
        f"   server CPU {server_cpu:6.2f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--big-mb", type=int, default=200, help="size of the single upload")
    parser.add_argument("--files", type=int, default=50, help="concurrent uploads")
    parser.add_argument("--file-mb", type=int, default=2, help="size of each concurrent upload")
    args = parser.parse_args()

    print(f"{os.cpu_count()} CPUs (shared machine)")
    big = {"big_0_t.jl": os.urandom(args.big_mb * MB)}
    small = {f"{i}_bench_t.jl": os.urandom(args.file_mb * MB) for i in range(args.files)}
    for signed in (False, True):
        with tempfile.TemporaryDirectory(prefix="ftpsink-bench-") as tmp:
            root, log, port = Path(tmp) / "items", Path(tmp) / "sink.log", free_port()
            command = [FTPSINK, "--port", str(port), "--root", str(root), "--passive-ports", "0",
                       "--max-file-size", "0", "--log-format", "json"]  # fmt: skip
            env = {**os.environ, "SCRAPYFLEET_FTPSINK_RECEIPT_KEY": KEY} if signed else None
            with log.open("w") as stderr:
                server = subprocess.Popen(command, stderr=stderr, env=env)
            try:
                wait_listening(log, server, 30)
                process = psutil.Process(server.pid)
                tag = "receipts on" if signed else "receipts off"
                scenario(f"1 upload, {tag}", port, process, root, big, signed)
                scenario(f"{args.files} concurrent uploads, {tag}", port, process, root, small,
                         signed)  # fmt: skip
            finally:
                server.terminate()
                server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
