"""The URL source of bench/fleetsim.py: a generated Scrapy project whose spider crawls `data:`
index pages (Scrapy's data: download handler: no network) that each yield `per_page` target
requests, diverted by `DISTRIBUTED_TARGET_CALLBACK`, and the next index page; with the add-on
line of docs/own-project.md and a `[deploy:NAME]` section (URL, basic auth, slots) per node."""

from __future__ import annotations

from pathlib import Path

from simnodes import SimNode

PROJECT, SPIDER = "fleetsim", "synth"
URL_TEMPLATE = "http://sim.invalid/item/{}"  # never fetched: the simulated workers "crawl" it

SETTINGS = f"""BOT_NAME = "{PROJECT}"
SPIDER_MODULES = ["{PROJECT}.spiders"]
ADDONS = {{"scrapyfleet.crawler.Fleet": 500}}
DISTRIBUTED_TARGET_CALLBACK = "parse_item"
ROBOTSTXT_OBEY = False
TELNETCONSOLE_ENABLED = False
"""

SPIDER_CODE = """import scrapy

TOTAL, PER_PAGE = {total}, {per_page}


class SynthSpider(scrapy.Spider):
    name = "{spider}"

    async def start(self):
        yield scrapy.Request("data:,0")

    def parse(self, response):
        page = int(response.url.partition(",")[2])
        first = page * PER_PAGE
        if first + PER_PAGE < TOTAL:
            yield scrapy.Request(f"data:,{{page + 1}}")
        for n in range(first, min(first + PER_PAGE, TOTAL)):
            yield scrapy.Request({template!r}.format(n), callback=self.parse_item)

    def parse_item(self, response):
        yield {{"url": response.url}}
"""


def all_urls(total: int) -> set[str]:
    """Every URL the spider diverts."""
    return {URL_TEMPLATE.format(n) for n in range(total)}


def write_project(root: Path, total: int, per_page: int, nodes: list[SimNode]) -> Path:
    """The project in `root`; its directory (crawl-master runs there)."""
    package = root / PROJECT
    (package / "spiders").mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text(SETTINGS)
    (package / "spiders" / "__init__.py").write_text("")
    code = SPIDER_CODE.format(total=total, per_page=per_page, spider=SPIDER, template=URL_TEMPLATE)
    (package / "spiders" / f"{SPIDER}.py").write_text(code)
    deploys = "".join(
        f"\n[deploy:{n.name}]\nurl = {n.url}\nusername = {n.username}\npassword = {n.password}\n"
        f"slots = {n.slots}\n"
        for n in nodes
    )
    cfg = f"[settings]\ndefault = {PROJECT}.settings\n\n[deploy]\nproject = {PROJECT}\n{deploys}"
    (root / "scrapy.cfg").write_text(cfg)
    return root
