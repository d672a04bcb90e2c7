"""`distr`: the `easy` crawl, meant to be distributed (rule 1 is the middleware's target)."""

from __future__ import annotations

from scrapyfleet.crawler.spiders.easy import EasySpider


class DistrSpider(EasySpider):
    name = "distr"
    custom_settings = {"DISTRIBUTED_TARGET_RULE": 1}  # noqa: RUF012 (Scrapy reads a plain dict)
