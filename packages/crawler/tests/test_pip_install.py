"""docs/own-project.md step 1 with plain pip: the core and crawler packages install from the
checkout into a fresh virtualenv (their build backend comes from the package index), and that
venv's `crawl-master` runs a user's project on real nodes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import SINK_ACCOUNT, Sink
from .test_own_project import ADDON_LINE, assert_every_listing_once, start_project

PACKAGES = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_pip_installs_the_crawler_into_a_fresh_venv(
    tmp_path: Path, site_factory, account_sink: Sink, cluster_factory
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    installed = subprocess.run(
        [venv / "bin" / "pip", "install", "--quiet", PACKAGES / "core", PACKAGES / "crawler"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-3000:]

    site = site_factory(total=90)
    cluster = cluster_factory([2])
    project = start_project(tmp_path, site, account_sink, cluster, ADDON_LINE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCRAPY", "VIRTUAL_ENV"))}
    env["SCRAPYFLEET_CRAWL_MASTER_FEED_PASSWORD"] = SINK_ACCOUNT[1]
    result = subprocess.run(
        [venv / "bin" / "crawl-master", "--spider", "easy", "--deploy", "--log-format", "json"],
        cwd=project, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert_every_listing_once(account_sink, "easy", site)
