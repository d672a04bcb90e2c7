"""What the dispatcher is configured with (from the crawler's `DISTRIBUTED_*` settings) and what
it ends with (see docs/architecture.md)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings

from scrapyfleet.core.metrics import parse_address
from scrapyfleet.core.targets import Target, find_config, resolve_targets
from scrapyfleet.crawler.defaults import DEFAULTS, add_storages
from scrapyfleet.crawler.master.landing import receipt_key
from scrapyfleet.crawler.master.placement import Placement
from scrapyfleet.crawler.retrywindow import RetryRule


@dataclass(frozen=True, slots=True)
class FleetConfig:
    """Everything the dispatcher needs; built from the `DISTRIBUTED_*` settings by the middleware
    (their defaults live in the settings module)."""

    targets: list[Target]
    run_dir: Path
    feed_uri: str
    project: str
    spider: str
    listen_host: str
    listen_port: int
    advertise_url: str | None
    tls_cert: str  # "" for plain HTTP
    tls_key: str
    master_ca_file: str  # what workers trust for the endpoint's certificate ("": system CAs)
    worker_settings: dict[str, str]
    default_slots: int
    placement: Placement
    max_attempts: int  # per batch (infrastructure); URLs and index pages: `url_retries`
    url_retries: RetryRule  # the site's transient failures: max_attempts and the retry window
    batch_size: int  # the largest retry batch
    node_timeout: float
    poll_interval: float
    lease_timeout: float  # seconds a running job may be silent about its lease
    keep_workers: bool  # jobs lease batch after batch (False: one batch per job)
    # The sink's landing-receipt key (master/landing.py); None: landings are not confirmed.
    receipt_key: bytes | None = field(default=None, repr=False)
    request_timeout: float = 5.0  # seconds per scrapyd API call


@dataclass(slots=True)
class RunOutcome:
    """How the run ended, for the summary and the exit code."""

    failed: dict[str, str] = field(default_factory=dict)
    fatal: str | None = None
    troubled_nodes: dict[str, str] = field(default_factory=dict)


def new_run_dir() -> Path:
    """A fresh run directory's path: `runs/master-<timestamp>`."""
    return Path("runs") / time.strftime("master-%Y%m%d-%H%M%S")


def distributed_settings(settings: BaseSettings) -> BaseSettings:
    """`settings` over every `DISTRIBUTED_*` default: a project that enabled the middleware
    alone, without the add-on, gets them too."""
    layered = BaseSettings()
    layered.setdict(DEFAULTS, priority="default")
    layered.update(settings)
    return layered


def fleet_config(crawler: Crawler) -> FleetConfig:
    """The dispatcher's configuration from the crawler's `DISTRIBUTED_*` settings."""
    s = distributed_settings(crawler.settings)
    cfg = s.get("DISTRIBUTED_SCRAPY_CFG")
    config = Path(cfg) if cfg else find_config()
    listen = parse_address(s.get("DISTRIBUTED_LISTEN"))
    run_dir = s.get("DISTRIBUTED_RUN_DIR")
    concurrency = s.getint("DISTRIBUTED_WORKER_CONCURRENCY")
    worker_settings = {
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        **s.getdict("DISTRIBUTED_WORKER_SETTINGS"),
    }
    if "fleet" not in s.getdict("FEED_STORAGES"):  # the middleware alone, without the add-on
        worker_settings["FEED_STORAGES"] = json.dumps(add_storages(s))
    assert crawler.spider is not None, "the middleware is built for a running spider"
    return FleetConfig(
        targets=resolve_targets(s.getlist("DISTRIBUTED_TARGET_HOSTS"), config),
        run_dir=Path(run_dir) if run_dir else new_run_dir(),
        feed_uri=s.get("DISTRIBUTED_TARGET_FEED_URL"),
        project=s.get("DISTRIBUTED_PROJECT") or crawler.settings.get("BOT_NAME"),
        spider=crawler.spider.name,
        listen_host=listen.host,
        listen_port=listen.port,
        advertise_url=s.get("DISTRIBUTED_ADVERTISE_URL") or None,
        tls_cert=s.get("DISTRIBUTED_TLS_CERT"),
        tls_key=s.get("DISTRIBUTED_TLS_KEY"),
        # A self-signed endpoint certificate is its own CA.
        master_ca_file=s.get("DISTRIBUTED_MASTER_CA_FILE") or s.get("DISTRIBUTED_TLS_CERT"),
        worker_settings={k: str(v) for k, v in worker_settings.items()},
        default_slots=s.getint("DISTRIBUTED_NODE_SLOTS"),
        placement=s.get("DISTRIBUTED_PLACEMENT"),
        max_attempts=s.getint("DISTRIBUTED_MAX_ATTEMPTS"),
        url_retries=RetryRule(
            s.getint("DISTRIBUTED_MAX_ATTEMPTS"), s.getfloat("DISTRIBUTED_RETRY_WINDOW")
        ),
        batch_size=s.getint("DISTRIBUTED_BATCH_SIZE"),
        node_timeout=s.getfloat("DISTRIBUTED_NODE_TIMEOUT"),
        poll_interval=s.getfloat("DISTRIBUTED_POLL_INTERVAL"),
        lease_timeout=s.getfloat("DISTRIBUTED_LEASE_TIMEOUT"),
        keep_workers=s.getbool("DISTRIBUTED_KEEP_WORKERS"),
        receipt_key=receipt_key(s.get("DISTRIBUTED_RECEIPT_KEY_FILE")),
    )
