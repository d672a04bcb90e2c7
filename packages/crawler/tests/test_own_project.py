"""docs/own-project.md, followed literally: `scrapy startproject properties` (not the demo's
project: the book's chapter-11 fields `server`, `date`, `image_urls`), a CrawlSpider and a plain
Spider, the documented lines, distributed over real scrapyd nodes by `crawl-master --deploy` run
in the project, into a real ftpsink with an account, from the real demo site."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import Counter
from pathlib import Path

from .conftest import BIN, SINK_ACCOUNT, Cluster, Sink, Site

ITEMS = """
import scrapy


class PropertiesItem(scrapy.Item):
    title = scrapy.Field()
    price = scrapy.Field()
    image_urls = scrapy.Field()
    url = scrapy.Field()
    server = scrapy.Field()
    date = scrapy.Field()
"""

PARSE_ITEM = """
    def parse_item(self, response):
        item = PropertiesItem()
        item["title"] = response.xpath('//*[@itemprop="name"][1]/text()').get()
        item["price"] = response.xpath('//*[@itemprop="price"][1]/text()').re("[.0-9]+")
        item["image_urls"] = response.xpath('//*[@itemprop="image"][1]/@src').getall()
        item["url"] = response.url
        item["server"] = socket.gethostname()
        item["date"] = datetime.datetime.now().isoformat()
        return item
"""

CRAWL_SPIDER = """
import datetime
import socket

from scrapy.linkextractors import LinkExtractor
from scrapy.spiders import CrawlSpider, Rule

from properties.items import PropertiesItem


class EasySpider(CrawlSpider):
    name = "easy"
    start_urls = ["{site}/properties/index_00000.html"]
    custom_settings = {{"DISTRIBUTED_TARGET_RULE": 1}}
    rules = (
        Rule(LinkExtractor(restrict_xpaths='//*[contains(@class,"next")]')),
        Rule(LinkExtractor(restrict_xpaths='//*[@itemprop="url"]'), callback="parse_item"),
    )
"""

PLAIN_SPIDER = """
import datetime
import socket

import scrapy

from properties.items import PropertiesItem


class BasicSpider(scrapy.Spider):
    name = "basic"
    start_urls = ["{site}/properties/index_00000.html"]
    custom_settings = {{"DISTRIBUTED_TARGET_CALLBACK": "parse_item"}}

    def parse(self, response):
        for href in response.xpath('//*[contains(@class,"next")]//@href').getall():
            yield scrapy.Request(response.urljoin(href))
        for href in response.xpath('//*[@itemprop="url"]/@href').getall():
            yield scrapy.Request(response.urljoin(href), callback=self.parse_item)
"""

ADDON_LINE = 'ADDONS = {"scrapyfleet.crawler.Fleet": 500}'
MIDDLEWARE_LINE = (
    'SPIDER_MIDDLEWARES = {"scrapyfleet.crawler.middleware.DistributedMiddleware": 100}'
)
Run = subprocess.CompletedProcess[str]
FIELDS = {"title", "price", "image_urls", "url", "server", "date"}


def start_project(where: Path, site: Site, sink: Sink, cluster: Cluster, line: str) -> Path:
    """Steps 2-4 of docs/own-project.md on a fresh `scrapy startproject properties`."""
    subprocess.run([BIN / "scrapy", "startproject", "properties"], cwd=where, check=True,
                   capture_output=True)  # fmt: skip
    root = where / "properties"
    package = root / "properties"
    (package / "items.py").write_text(ITEMS)
    spiders = package / "spiders"
    (spiders / "easy.py").write_text(CRAWL_SPIDER.format(site=site.url) + PARSE_ITEM)
    (spiders / "basic.py").write_text(PLAIN_SPIDER.format(site=site.url) + PARSE_ITEM)
    settings = package / "settings.py"
    text = settings.read_text()
    assert "ADDONS = {}" in text, "the startproject template changed"
    text = text.replace("ADDONS = {}", line).replace("DOWNLOAD_DELAY = 1", "DOWNLOAD_DELAY = 0")
    text += (
        f'\nDISTRIBUTED_TARGET_FEED_URL = "ftp://{SINK_ACCOUNT[0]}@127.0.0.1:{sink.port}/'
        '%(batch)s_%(name)s_%(time)s.jl"\nDISTRIBUTED_BATCH_SIZE = 100\n'
    )
    settings.write_text(text)
    with (root / "scrapy.cfg").open("a") as cfg:
        for node in cluster.nodes:
            cfg.write(f"\n[deploy:{node.name}]\nurl = {node.url}\n")
    return root


def crawl_master(
    project: Path, *args: str, password: str = SINK_ACCOUNT[1]
) -> subprocess.CompletedProcess[str]:
    """Step 5: crawl-master run in the project, the feed password in the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCRAPY_", "SCRAPYFLEET_"))}
    env["SCRAPYFLEET_CRAWL_MASTER_FEED_PASSWORD"] = password
    return subprocess.run(
        [BIN / "crawl-master", "--log-format", "json", "--progress", "log", *args],
        cwd=project, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip


def landed(sink: Sink, spider: str) -> list[dict[str, object]]:
    items = []
    for path in sorted(sink.root.glob(f"*_{spider}_*.jl")):
        items += [json.loads(line) for line in path.read_text().splitlines() if line]
    return items


def summary_of(project: Path) -> dict[str, object]:
    [run] = sorted((project / "runs").iterdir(), key=lambda p: p.stat().st_mtime)[-1:]
    return json.loads((run / "summary.json").read_text())


def assert_every_listing_once(sink: Sink, spider: str, site: Site) -> None:
    items = landed(sink, spider)
    assert Counter(i["url"] for i in items) == Counter(site.listing_urls())
    assert all(set(i) == FIELDS and i["title"] and i["server"] for i in items), items[:1]


def test_a_startproject_project_runs_on_the_fleet(
    tmp_path: Path, site_factory, account_sink: Sink, cluster_factory
) -> None:
    site = site_factory(total=300)
    cluster = cluster_factory([2, 2])  # the demo's egg-less project only: no `properties`
    project = start_project(tmp_path, site, account_sink, cluster, ADDON_LINE)

    result = crawl_master(project, "--spider", "easy", "--deploy")
    assert result.returncode == 0, result.stderr[-3000:]
    assert_every_listing_once(account_sink, "easy", site)
    assert summary_of(project)["batches"] == 3, "the project's DISTRIBUTED_BATCH_SIZE = 100"

    # A plain scrapy.Spider, diverted by its callback; the command line beats the project.
    result = crawl_master(project, "--spider", "basic", "--batch-size", "150")
    assert result.returncode == 0, result.stderr[-3000:]
    assert_every_listing_once(account_sink, "basic", site)
    assert summary_of(project)["batches"] == 2, "--batch-size 150 wins over the project's 100"


def refused(result: subprocess.CompletedProcess[str], started: float, *words: str) -> str:
    """crawl-master said no: exit 2, within seconds, one line naming `words`, no traceback."""
    assert result.returncode == 2, result.stderr[-2000:]
    assert time.monotonic() - started < 30
    lines = [line for line in result.stderr.splitlines() if line.startswith("crawl-master:")]
    assert len(lines) == 1 and all(w in lines[0] for w in words), result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    return lines[0]


def test_the_middleware_line_and_every_refusal(
    tmp_path: Path, site_factory, account_sink: Sink, cluster_factory
) -> None:
    site = site_factory(total=300)
    cluster = cluster_factory([2])
    project = start_project(tmp_path, site, account_sink, cluster, MIDDLEWARE_LINE)
    settings = project / "properties" / "settings.py"
    easy = project / "properties" / "spiders" / "easy.py"
    original = easy.read_text()

    def attempt(*args: str, password: str = SINK_ACCOUNT[1]) -> tuple[Run, float]:
        started = time.monotonic()
        return crawl_master(project, *args, password=password), started

    def target(spider: Path, setting: str) -> None:
        spider.write_text(original.replace('{"DISTRIBUTED_TARGET_RULE": 1}', setting))

    # Before anything is deployed: the node lacks the project.
    refused(*attempt("--spider", "easy"), "no project 'properties'", "--deploy")
    refused(*attempt("--spider", "esay", "--deploy"), "unknown spider 'esay'", "basic, easy")
    refused(*attempt("--spider", "easy", password="wrong"), "refused the login", "'worker'")
    target(easy, '{"DISTRIBUTED_TARGET_RULE": 5}')
    refused(*attempt("--spider", "easy"), "out of range", "2 rules")
    target(easy, "{}")
    refused(*attempt("--spider", "easy"), "no target")
    target(easy, '{"DISTRIBUTED_TARGET_RULE": 1, "DISTRIBUTED_TARGET_URLS": "x"}')
    refused(*attempt("--spider", "easy"), "both set")
    easy.write_text(original)
    refused(*attempt("--spider", "easy", "--targets", "127.0.0.1:9"), "no reachable scrapyd node")
    refused(*attempt("--spider", "easy", "--feed-uri", "ftp://worker@127.0.0.1:9/x.jl"),
            "unreachable")  # fmt: skip
    settings.write_text(settings.read_text().replace(MIDDLEWARE_LINE, ""))
    refused(*attempt("--spider", "easy"), "not enabled", "ADDONS")
    settings.write_text(settings.read_text() + "\n" + MIDDLEWARE_LINE + "\n")
    assert not list(account_sink.root.glob("*.jl")), "a refused run crawled"
    assert not list(project.glob("runs/*/ledger.sqlite")), "a refused run crawled"

    # The middleware line alone (no add-on): the workers still get the `fleet` feed storage.
    result = crawl_master(project, "--spider", "easy", "--deploy")
    assert result.returncode == 0, result.stderr[-3000:]
    assert_every_listing_once(account_sink, "easy", site)

    # A spider the deployed egg lacks.
    basic = project / "properties" / "spiders" / "basic.py"
    (basic.parent / "extra.py").write_text(basic.read_text().replace('"basic"', '"extra"'))
    refused(*attempt("--spider", "extra"), "has no spider 'extra'", "--deploy")

    # A target that diverts nothing: a named failure, not `ok`.
    target(easy, '{"DISTRIBUTED_TARGET_URLS": "/no-such-page"}')
    result = crawl_master(project, "--spider", "easy")
    assert result.returncode == 1, result.stderr[-3000:]
    assert "nothing diverted" in result.stderr
    assert summary_of(project)["nothing_diverted"] is True
