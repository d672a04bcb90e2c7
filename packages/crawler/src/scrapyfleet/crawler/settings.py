"""Scrapy settings of the built-in demo project (master, workers and the speed lab).

crawl-master runs it where no Scrapy project is found. It enables the fleet add-on like any
user project (docs/own-project.md); the `DISTRIBUTED_*` defaults live in `defaults.py`.
"""

from scrapyfleet.core import contracts

BOT_NAME = contracts.PROJECT
SPIDER_MODULES = ["scrapyfleet.crawler.spiders"]
NEWSPIDER_MODULE = "scrapyfleet.crawler.spiders"

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
ROBOTSTXT_OBEY = False
# Nothing listens for operators on worker nodes: no telnet console per process.
TELNETCONSOLE_ENABLED = False
# No RemoteControl port per process either: the master has its own endpoint, workers need none.
# Re-enable for a live look into one crawl (e.g. the speed lab) with -s REMOTE_CONTROL_ENABLED=True.
REMOTE_CONTROL_ENABLED = False
LOG_LEVEL = "INFO"

CONCURRENT_REQUESTS = 32
CONCURRENT_REQUESTS_PER_DOMAIN = 32
# One item per page: fewer item tasks per response costs less CPU (scrapy/scrapy#5182).
CONCURRENT_ITEMS = 8
DOWNLOAD_DELAY = 0
COOKIES_ENABLED = False
RETRY_TIMES = 3
FEED_EXPORT_ENCODING = "utf-8"

# The fleet add-on: DistributedMiddleware, the `fleet`/`ftps` feed storages and every
# DISTRIBUTED_* default (defaults.py). Inactive in a crawl without DISTRIBUTED_TARGET_HOSTS.
ADDONS = {"scrapyfleet.crawler.Fleet": 500}

# The book's chapter-10 core metrics (scheduler, downloader, scraper, pipeline, done, memory)
# as a `core_metrics` event every CORE_METRICS_INTERVAL seconds, in master and workers alike.
EXTENSIONS = {"scrapyfleet.crawler.coremetrics.CoreMetrics": 500}
CORE_METRICS_INTERVAL = 5.0

# -- the site of the `easy` and `distr` spiders (spider arguments `site`, `index_pages`, `shards`)
SITE_URL = contracts.SITE_URL
SITE_INDEX_PAGES = contracts.index_pages(contracts.SITE_TOTAL)  # only spaces the shards
SHARDS = 20  # index chains crawled at once
