"""--deploy uploads an egg that scrapyd accepts and runs, on a node without the egg-less project."""

from __future__ import annotations

import io
import json
import urllib.request
import zipfile
from pathlib import Path

from scrapyfleet.core.contracts import PROJECT
from scrapyfleet.crawler.master.deploy import build_egg


def test_egg_layout() -> None:
    with zipfile.ZipFile(io.BytesIO(build_egg("1"))) as egg:
        names = set(egg.namelist())
        assert "scrapyfleet/crawler/settings.py" in names
        assert "scrapyfleet/crawler/spiders/distr.py" in names
        assert "scrapyfleet/core/scrapyd.py" in names
        assert egg.read("EGG-INFO/entry_points.txt").decode() == (
            "[scrapy]\nsettings = scrapyfleet.crawler.settings\n"
        )


def test_deploy_then_crawl(tmp_path: Path, site_factory, sink, cluster_factory, run_master) -> None:
    site = site_factory(total=300)
    cluster = cluster_factory([2], projects={"unrelated": "scrapy.settings.default_settings"})
    node = cluster.nodes[0]
    result = run_master(
        ["--config", str(cluster.config), "--targets", node.url, "--project", PROJECT, "--deploy",
         "--site", site.url,
         "--index-pages", "10", "--feed-uri", sink.feed_uri, "--run-dir", str(tmp_path / "run")]
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    with urllib.request.urlopen(f"{node.url}/listversions.json?project={PROJECT}") as answer:
        assert len(json.load(answer)["versions"]) == 1
    assert {i["url"] for i in sink.items()} == site.listing_urls()
