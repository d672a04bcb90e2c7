"""Scrapy settings of the `properties` project (master, workers and the speed lab).

The one place of every `DISTRIBUTED_*` default: crawl-master's option defaults and the
middleware's fallbacks read them from here.
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
FEED_STORAGES = {
    # Workers' feeds: the destination comes from the master with the batch (feedstorage.py).
    "fleet": "scrapyfleet.crawler.worker.feedstorage.FleetFeedStorage",
    # Explicit FTPS that trusts FEED_STORAGE_FTPS_CA_FILE (Scrapy's own trusts system CAs only).
    "ftps": "scrapyfleet.crawler.ftps.FTPSFeedStorage",
}

SPIDER_MIDDLEWARES = {
    # Inactive unless DISTRIBUTED_TARGET_RULE is set (the `distr` spider sets it to 1).
    "scrapyfleet.crawler.middleware.DistributedMiddleware": 100,
}

# The book's chapter-10 core metrics (scheduler, downloader, scraper, pipeline, done, memory)
# as a `core_metrics` event every CORE_METRICS_INTERVAL seconds, in master and workers alike.
EXTENSIONS = {"scrapyfleet.crawler.metrics.CoreMetrics": 500}
CORE_METRICS_INTERVAL = 5.0

# -- the site of the `easy` and `distr` spiders (spider arguments `site`, `index_pages`, `shards`)
SITE_URL = contracts.SITE_URL
SITE_INDEX_PAGES = contracts.index_pages(contracts.SITE_TOTAL)  # only spaces the shards
SHARDS = 20  # index chains crawled at once

# -- DistributedMiddleware (see middleware.py); the master's CONCURRENT_REQUESTS is the one above.
# Not defaulted here: DISTRIBUTED_TARGET_RULE (the spider's), DISTRIBUTED_TARGET_HOSTS (it makes a
# process the master), DISTRIBUTED_PROJECT (BOT_NAME), DISTRIBUTED_RUN_DIR (a new runs/ directory).
DISTRIBUTED_BATCH_SIZE = 1000  # URLs per batch
DISTRIBUTED_FIRST_BATCH_SIZE = 0  # the first batch's size, doubling up to the batch size; 0: same
DISTRIBUTED_TARGET_FEED_URL = (  # the workers' FEEDS URI; %(batch)s is the batch id
    "ftp://anonymous:scrapyfleet@127.0.0.1:2121/%(batch)s_%(name)s_%(time)s.jl"
)
DISTRIBUTED_WORKER_CONCURRENCY = 64  # CONCURRENT_REQUESTS (per domain too) of every worker
DISTRIBUTED_WORKER_SETTINGS: dict[str, str] = {}  # more Scrapy settings for every worker
DISTRIBUTED_NODE_SLOTS = 2  # slots of a node whose deploy section has no `slots`
DISTRIBUTED_PLACEMENT = "free"  # "free" (most free slots) or "round-robin"
DISTRIBUTED_MAX_ATTEMPTS = 3  # attempts per batch, and per URL the site failed transiently
DISTRIBUTED_NODE_TIMEOUT = 30.0  # seconds a node may stay silent before its batches move
DISTRIBUTED_POLL_INTERVAL = 1.0  # seconds between polls of the nodes
DISTRIBUTED_KEEP_WORKERS = True  # a job leases batch after batch in one process (leases.py)
DISTRIBUTED_LEASE_TIMEOUT = 60.0  # seconds a running job may be silent before its lease expires
DISTRIBUTED_LISTEN = "127.0.0.1:0"  # HOST:PORT of the batch endpoint (0: any free port)
DISTRIBUTED_ADVERTISE_URL = ""  # URL workers use to reach the endpoint; "": http(s)://HOST:PORT
DISTRIBUTED_TLS_CERT = ""  # PEM certificate (chain) of the batch endpoint; "": plain HTTP
DISTRIBUTED_TLS_KEY = ""  # its private key
DISTRIBUTED_MASTER_CA_FILE = ""  # workers: CA file that signs the endpoint's certificate
DISTRIBUTED_METRICS = ""  # HOST:PORT serving the crawl's Prometheus metrics; "": none
DISTRIBUTED_METRICS_LINGER = 10.0  # seconds the metrics stay up after the run ends
DISTRIBUTED_PROGRESS = "log"  # "log" (progress events), "bar" or "off"
