"""The worker report: what a worker tells the master about its batch attempt when it closes.

Besides the attempt's counts it names the feed file it uploaded and every URL of the batch that
did not yield an item, with why (`outcomes.UrlFailure`); the URLs it does not name are landed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit

from scrapyfleet.core.credentials import scrubbed
from scrapyfleet.crawler.outcomes import UrlFailure
from scrapyfleet.crawler.sitewire import SiteOrder, parse_sites

SCHEME = "fleet"  # the workers' feed storage: `fleet:<name template>` (worker/feedstorage.py)
COUNTS = ("attempt", "items", "pages")


@dataclass(frozen=True, slots=True)
class BatchGrant:
    """What a job gets for one attempt of a batch: the answer of `GET /batches/{id}`, and the
    `lease` of `POST /batches/{id}/next`; both carry the attempt's credential."""

    batch: str
    attempt: int
    urls: list[str]
    feed: str  # the feed destination (with its password): never on a command line
    lease_timeout: float | None = None  # None: the job takes one batch, no renewals
    credential: str | None = None  # what the job's other calls of this attempt bear
    sites: dict[str, SiteOrder] | None = None  # orders for the batch's domains (sitewire.py)

    def to_json(self) -> dict[str, Any]:
        # Field by field, not `asdict`: that deep-copies the URL list
        answer = {f.name: v for f in fields(self)
                  if f.name != "sites" and (v := getattr(self, f.name)) is not None}  # fmt: skip
        if self.sites is not None:
            answer["sites"] = {name: order.to_json() for name, order in self.sites.items()}
        return answer

    @classmethod
    def from_json(cls, obj: object) -> BatchGrant:
        """Validate a decoded JSON answer; ValueError says what is wrong."""
        if not isinstance(obj, dict):
            raise ValueError("a batch must be a JSON object")
        batch, attempt, urls, feed = (obj.get(k) for k in ("batch", "attempt", "urls", "feed"))
        if not isinstance(batch, str) or not isinstance(feed, str):
            raise ValueError("a batch needs its id and feed destination")
        if not isinstance(attempt, int) or isinstance(attempt, bool):
            raise ValueError("a batch's attempt must be an integer")
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise ValueError("a batch's urls must be a list of strings")
        timeout, credential = obj.get("lease_timeout"), obj.get("credential")
        if timeout is not None and not isinstance(timeout, int | float):
            raise ValueError("lease_timeout must be a number")
        if credential is not None and not isinstance(credential, str):
            raise ValueError("credential must be a string")
        sites = parse_sites(obj, SiteOrder) if "sites" in obj else None
        return cls(batch, attempt, urls, feed, timeout, credential, sites)


RECEIPT_MAX_CHARS = 512  # a receipt is one short line (scrapyfleet.core.receipts)


@dataclass(frozen=True, slots=True)
class FeedFile:
    """The feed file an attempt uploaded: its name, size and item lines, and the sink's landing
    receipt for it (`scrapyfleet.core.receipts`; None: the sink gave none)."""

    name: str
    bytes: int
    lines: int
    receipt: str | None = None

    @classmethod
    def from_json(cls, obj: object) -> FeedFile:
        if not isinstance(obj, dict):
            raise ValueError("feed must be a JSON object")
        name, size, lines = obj.get("name"), obj.get("bytes"), obj.get("lines")
        if not isinstance(name, str) or not name:
            raise ValueError("feed needs its name")
        for key, value in (("bytes", size), ("lines", lines)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"feed {key} must be an integer >= 0")
        receipt = obj.get("receipt")
        if receipt is not None and (
            not isinstance(receipt, str) or len(receipt) > RECEIPT_MAX_CHARS
        ):
            raise ValueError(f"feed receipt must be a string of at most {RECEIPT_MAX_CHARS}")
        return cls(name, size, lines, receipt)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class WorkerReport:
    """Outcome of one attempt of one batch, as the worker saw it."""

    job: str
    node: str
    attempt: int
    items: int
    pages: int
    finish_reason: str
    feed_ok: bool
    feed: FeedFile | None = None
    failures: list[UrlFailure] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.finish_reason == "finished" and self.feed_ok

    def to_json(self) -> dict[str, Any]:
        return asdict(self)  # the feed and failures as nested objects

    @classmethod
    def from_json(cls, obj: object) -> WorkerReport:
        """Validate a decoded JSON body; ValueError says what is wrong."""
        if not isinstance(obj, dict):
            raise ValueError("report must be a JSON object")
        for name in ("job", "node", "finish_reason"):
            if not isinstance(obj.get(name), str):
                raise ValueError(f"field {name!r} must be str")
        for name in COUNTS:
            value = obj.get(name)
            # bool is an int: keep counts strictly numeric and flags strictly boolean.
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"field {name!r} must be an integer >= 0")
        if not isinstance(obj.get("feed_ok"), bool):
            raise ValueError("field 'feed_ok' must be bool")
        feed = obj.get("feed")
        failures = obj.get("failures", [])
        if not isinstance(failures, list):
            raise ValueError("field 'failures' must be a list")
        return cls(
            job=obj["job"],
            node=obj["node"],
            attempt=obj["attempt"],
            items=obj["items"],
            pages=obj["pages"],
            finish_reason=obj["finish_reason"],
            feed_ok=obj["feed_ok"],
            feed=None if feed is None else FeedFile.from_json(feed),
            failures=[UrlFailure.from_json(f) for f in failures],
        )


def split_feed_uri(uri: str) -> tuple[str, str]:
    """`ftp://u:p@host/dir/%(batch)s.jl` -> (`ftp://u:p@host/dir/`, `%(batch)s.jl`)."""
    head, sep, name = uri.rpartition("/")
    if not sep or not name or not urlsplit(uri).scheme:
        raise ValueError(f"feed URI must be SCHEME://.../NAME, got {scrubbed(uri)!r}")
    return head + "/", name
