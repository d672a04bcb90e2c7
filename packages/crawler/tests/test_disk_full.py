"""The master's run directory fills up mid-run (a small tmpfs, filled by another writer): the run
ends on a named fatal with exit 1, never a traceback or a hang, and once there is room again
`--resume` completes it with every listing landed. Needs root (mount); skipped otherwise."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

SIZE = "4m"  # the tmpfs: room for the run's ledger and logs, until the filler takes the rest


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "fs"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(mount)],
                          capture_output=True, text=True)  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path) -> None:
    """Write `path` until the filesystem is full (bounded by its size)."""
    with path.open("wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
            out.flush()
            os.fsync(out.fileno())


def test_disk_full_is_fatal_then_resumable(
    small_fs: Path,
    site_factory,
    sink,
    cluster_factory,
    run_master,
    wait_for: Callable[..., Any],
    ledger_rows: Callable[..., Any],
) -> None:
    site = site_factory(total=1500, latency=0.02)
    cluster = cluster_factory([1, 1])
    run_dir = small_fs / "run"
    args = ["--config", str(cluster.config), "--site", site.url, "--batch-size", "100",
            "--index-pages", "50", "--concurrency", "8", "--feed-uri", sink.feed_uri,
            "--run-dir", str(run_dir)]  # fmt: skip
    filler = small_fs / "filler"
    with ThreadPoolExecutor(1) as pool:
        master = pool.submit(run_master, args, 300.0)
        done = "SELECT id FROM batches WHERE state = 'done'"
        wait_for(lambda: ledger_rows(run_dir, done) or master.done(), timeout=180,
                 what="a first batch done")  # fmt: skip
        assert not master.done(), master.result().stderr[-3000:]
        fill(filler)
        result = master.result()
    assert result.returncode == 1, result.stderr[-3000:]
    assert "run directory unwritable" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr[-2500:]
    with pytest.raises(OSError) as full:
        (small_fs / "probe").write_bytes(b"x" * 65536)
    assert full.value.errno == errno.ENOSPC, "the filesystem stayed full to the end"

    filler.unlink()
    resumed = run_master(["--resume", str(run_dir)], 300.0)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert {item["url"] for item in sink.items()} == site.listing_urls()
