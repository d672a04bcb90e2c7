"""crawl-master refuses, before crawling, an endpoint its nodes' workers could not reach."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scrapyfleet.crawler.master.reach import check_nodes_reach

CRAWL_MASTER = str(Path(sys.executable).parent / "crawl-master")
FAR = "http://192.0.2.10:6800"  # TEST-NET-1: never an address of this machine


def test_loopback_endpoint_with_a_node_on_another_host_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "scrapy.cfg"
    config.write_text(f"[deploy:near]\nurl = http://127.0.0.1:6800/\nproject = properties\n\n"
                      f"[deploy:far]\nurl = {FAR}/\nproject = properties\n")  # fmt: skip
    done = subprocess.run(
        [CRAWL_MASTER, "--config", str(config), "--targets", "near", "far", "--site",
         "http://127.0.0.1:9", "--run-dir", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"the workers of {FAR} (on another host) cannot reach" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()  # refused before anything started


def test_reachable_endpoints_pass() -> None:
    check_nodes_reach("127.0.0.1:0", None, ["http://127.0.0.1:6800", "http://localhost:6801"])
    check_nodes_reach("0.0.0.0:7000", "http://192.0.2.1:7000", [FAR])  # advertised off loopback
    check_nodes_reach("192.0.2.1:7000", None, [FAR])
    with pytest.raises(ValueError, match="cannot reach"):
        check_nodes_reach("0.0.0.0:7000", "http://127.0.0.1:7000", [FAR])
