"""The `DISTRIBUTED_*` settings: each one's default, stated once, and the crawl-master option that
sets it (docs/architecture.md, "Configuration").

The fleet add-on (`addon.py`) sets these defaults at Scrapy's `addon` priority, below a project's
own settings; crawl-master's options are declared from this table and set a value only when
given on the command line or in the environment. A default of None means none: the setting's
absence says something (no target hosts: not a master; no project: the deploy target's, else
BOT_NAME; no run directory: a new one under `runs/`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scrapy.settings import BaseSettings

from scrapyfleet.crawler.outcomes import BACKOFF_CAP


@dataclass(frozen=True, slots=True)
class Setting:
    """One `DISTRIBUTED_*` setting and its crawl-master option."""

    name: str
    default: Any
    option: str | None  # the crawl-master flag, e.g. "--batch-size"; None: a setting only
    help: str
    kind: type = str  # how the option's text is read (bool: --flag / --no-flag)
    choices: tuple[str, ...] | None = None


TABLE: tuple[Setting, ...] = (
    Setting("DISTRIBUTED_TARGET_HOSTS", None, "--targets", "scrapyd nodes: [deploy:NAME] names "
            "or globs of scrapy.cfg, http(s):// URLs or HOST:PORT (default: every deploy target)"),
    Setting("DISTRIBUTED_PROJECT", None, "--project", "scrapyd project of the spider (default: "
            "the deploy targets' `project`, else BOT_NAME)"),
    Setting("DISTRIBUTED_RUN_DIR", None, "--run-dir",
            "ledger, log and summary (default: runs/master-<time>)"),
    Setting("DISTRIBUTED_BATCH_SIZE", 1000, "--batch-size", "URLs per batch", int),
    Setting("DISTRIBUTED_FIRST_BATCH_SIZE", 0, "--first-batch-size", "size of the first batch; "
            "each next one doubles up to the batch size (early first results); 0: the batch size",
            int),
    Setting("DISTRIBUTED_TARGET_FEED_URL",
            "ftp://anonymous:scrapyfleet@127.0.0.1:2121/%(batch)s_%(name)s_%(time)s.jl",
            "--feed-uri", "where workers export items (a Scrapy FEEDS URI; %%(batch)s is the "
            "batch id); its password is best given as SCRAPYFLEET_CRAWL_MASTER_FEED_PASSWORD: "
            "never written to the run directory, logged or put on a job's command line"),
    Setting("DISTRIBUTED_RECEIPT_KEY_FILE", "", "--receipt-key-file", "file with ftpsink's "
            "landing-receipt key (or SCRAPYFLEET_CRAWL_MASTER_RECEIPT_KEY; never the command "
            "line): a URL counts as landed only when the sink's signed receipt confirms its feed "
            "file. Without a key landings are NOT confirmed: a worker's word is taken"),
    Setting("DISTRIBUTED_WORKER_CONCURRENCY", 64, "--concurrency",
            "CONCURRENT_REQUESTS (per domain too) of every worker", int),
    Setting("DISTRIBUTED_WORKER_SETTINGS", {}, None, "more Scrapy settings for every worker"),
    Setting("DISTRIBUTED_NODE_SLOTS", 2, "--slots",
            "slots of a node whose deploy section has no `slots`", int),
    Setting("DISTRIBUTED_PLACEMENT", "free", "--placement",
            "free: the node with most free slots; round-robin: the book's rotation",
            choices=("free", "round-robin")),
    Setting("DISTRIBUTED_MAX_ATTEMPTS", 3, "--max-attempts",
            "attempts per batch, and per URL or index page the site answered with a transient "
            "error (500); 429, 503 and other unavailable answers and failed connections spend "
            "only --retry-window", int),
    Setting("DISTRIBUTED_RETRY_WINDOW", 600.0, "--retry-window",
            "seconds a URL or index page that fails transiently (5xx, 408, 429, timeouts, "
            "resets, refused connections) is tried again, with a backoff growing up to "
            f"{BACKOFF_CAP:g} s and its Retry-After, counted from its first failure; then it "
            "fails (0: no retries)", float),
    Setting("DISTRIBUTED_NODE_TIMEOUT", 30.0, "--node-timeout",
            "seconds a node may stay silent before its batches move elsewhere", float),
    Setting("DISTRIBUTED_POLL_INTERVAL", 1.0, "--poll-interval",
            "seconds between polls of the nodes (a quiet node, its jobs all seen running and "
            "nothing queued, less often; a worker's report wakes the dispatcher at once)", float),
    Setting("DISTRIBUTED_KEEP_WORKERS", True, "--keep-workers", "each job leases batch after "
            "batch in one Scrapy process (--no-keep-workers: a process per batch)", bool),
    Setting("DISTRIBUTED_LEASE_TIMEOUT", 60.0, "--lease-timeout",
            "seconds a running job may be silent about its batch before it goes elsewhere", float),
    Setting("DISTRIBUTED_LISTEN", "127.0.0.1:0", "--listen",
            "HOST:PORT of the batch endpoint workers call (0: any free port)"),
    Setting("DISTRIBUTED_ADVERTISE_URL", "", "--advertise-url",
            "URL workers use to reach the batch endpoint (\"\": http(s)://HOST:PORT)"),
    Setting("DISTRIBUTED_TLS_CERT", "", "--tls-cert", "PEM certificate of the batch endpoint: "
            "serve it over HTTPS (workers then fetch batches and report over TLS)"),
    Setting("DISTRIBUTED_TLS_KEY", "", "--tls-key", "the certificate's private key"),
    Setting("DISTRIBUTED_MASTER_CA_FILE", "", "--master-ca-file", "CA file the workers trust "
            "for the endpoint's certificate (\"\": --tls-cert itself, right if self-signed)"),
    Setting("DISTRIBUTED_METRICS", "", "--metrics", "HOST:PORT serving the crawl's Prometheus "
            "metrics (no authentication: keep it on loopback or a trusted network)"),
    Setting("DISTRIBUTED_METRICS_LINGER", 10.0, "--metrics-linger",
            "seconds the metrics stay up after the run, so scrapers see its outcome", float),
    Setting("DISTRIBUTED_PROGRESS", "log", None, "log (progress events), bar or off"),
    # -- one politeness budget per domain for the whole fleet (master/sitebudget.py)
    Setting("DISTRIBUTED_DOMAIN_CONCURRENCY", 0, "--domain-concurrency", "at most N requests in "
            "flight to one domain across the master and every job on every node, divided among "
            "them as jobs come and go (0: no fleet-wide limit; each job's own still holds)", int),
    Setting("DISTRIBUTED_DOMAIN_DELAY", 0.0, "--domain-delay", "fleet-wide minimum seconds "
            "between requests to one domain (0: none; DOWNLOAD_DELAY still holds per job)",
            float),
)  # fmt: skip

DEFAULTS: dict[str, Any] = {s.name: s.default for s in TABLE if s.default is not None}

# The feed storages the fleet needs: `fleet` (workers' feeds, worker/feedstorage.py) and `ftps`
# (explicit FTPS trusting FEED_STORAGE_FTPS_CA_FILE; Scrapy has none).
STORAGES = {
    "fleet": "scrapyfleet.crawler.worker.feedstorage.FleetFeedStorage",
    "ftps": "scrapyfleet.crawler.ftps.FTPSFeedStorage",
}


def add_storages(settings: BaseSettings) -> dict[str, str]:
    """`FEED_STORAGES` with ours added where the project has none of that scheme."""
    storages = {str(k): str(v) for k, v in settings.getdict("FEED_STORAGES").items()}
    return {**STORAGES, **storages}
