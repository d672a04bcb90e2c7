"""What the dispatcher is configured with and what it ends with (see docs/architecture.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from scrapyfleet.core.targets import Target
from scrapyfleet.crawler.master.placement import Placement


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
    max_attempts: int  # per batch (infrastructure) and per URL (the site's transient failures)
    batch_size: int  # the largest retry batch
    node_timeout: float
    poll_interval: float
    lease_timeout: float  # seconds a running job may be silent about its lease
    keep_workers: bool  # jobs lease batch after batch (False: one batch per job)
    request_timeout: float = 5.0  # seconds per scrapyd API call


@dataclass(slots=True)
class Outcome:
    """How the run ended, for the summary and the exit code."""

    failed: dict[str, str] = field(default_factory=dict)
    fatal: str | None = None
    troubled_nodes: dict[str, str] = field(default_factory=dict)
