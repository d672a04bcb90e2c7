"""DistributedMiddleware distributes any CrawlSpider: another target rule index and callback."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

SPIDER = """
from scrapy import Request
from scrapy.linkextractors import LinkExtractor
from scrapy.spiders import CrawlSpider, Rule


class ListingsSpider(CrawlSpider):
    name = "listings"
    custom_settings = {"DISTRIBUTED_TARGET_RULE": 2}
    rules = (
        Rule(LinkExtractor(restrict_xpaths='//*[@id="no-such-thing"]')),
        Rule(LinkExtractor(restrict_xpaths='//*[contains(@class,"next")]')),
        Rule(LinkExtractor(restrict_xpaths='//*[@itemprop="url"]'), callback="parse_listing"),
    )

    async def start(self):
        yield Request(self.settings["SITE_URL"] + "/properties/index_00000.html")

    def parse_listing(self, response):
        yield {"url": response.url, "kind": "other",
               "name": response.xpath('//*[@itemprop="name"][1]/text()').get()}
"""

SETTINGS = """
from scrapyfleet.crawler.settings import *  # the user's own project, built on ours

BOT_NAME = "otherproj"
SPIDER_MODULES = ["otherproj.spiders"]
"""


def test_another_crawlspider_is_distributed(
    tmp_path: Path, site_factory, sink, cluster_factory, run_master
) -> None:
    project = tmp_path / "otherproj"
    project.mkdir()
    (project / "__init__.py").write_text("")
    (project / "spiders.py").write_text(SPIDER)
    (project / "settings.py").write_text(SETTINGS)
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path),
        "SCRAPY_SETTINGS_MODULE": "otherproj.settings",
    }
    site = site_factory(total=600)
    cluster = cluster_factory([2, 2], env=env, projects={"otherproj": "otherproj.settings"})
    result = run_master(
        ["--config", str(cluster.config), "--project", "otherproj", "--spider", "listings",
         "--site", site.url, "--setting", f"SITE_URL={site.url}", "--batch-size", "200",
         "--feed-uri", sink.feed_uri, "--run-dir", str(tmp_path / "run")],
        env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    items = sink.items()
    assert Counter(i["url"] for i in items) == Counter(site.listing_urls())
    assert {i["kind"] for i in items} == {"other"} and all(i["name"] for i in items)
    landed = sorted(p.name for p in sink.root.glob("*.jl"))
    assert len(landed) == 3 and all("_listings_" in name for name in landed)
