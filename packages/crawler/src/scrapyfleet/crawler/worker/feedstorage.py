"""`fleet:` feed storage: workers export to a destination they learn from the master.

crawl-master gives workers `FEEDS = {"fleet:<name template>": ...}` on their command line, never
the real feed URI (its password would sit in `scrapyd.out`, `ps` and the job log). The worker
receives the destination (e.g. `ftp://user:password@sink:2121/`) with its batch, over HTTP, and
this storage hands the file to Scrapy's own storage for `<destination><name>` (Scrapy's
`FEED_STORAGES`, so `ftp`, `ftps`, `file`, `s3`, ... all work). Scrapy logs the `fleet:` URI, so
no password reaches a log line. An FTP(S) destination is stored with `ftps.upload`, which keeps
the sink's final reply: ftpsink's `226` carries the landing receipt (`scrapyfleet.core.receipts`).
What was stored (name, bytes, receipt) is kept for the worker's report.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from tempfile import NamedTemporaryFile
from typing import IO, Any, Self
from urllib.parse import urlsplit

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.extensions.feedexport import FTPFeedStorage
from scrapy.utils.misc import build_from_crawler, load_object
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread

from scrapyfleet.core import receipts
from scrapyfleet.core.contracts import safe_landing_name
from scrapyfleet.crawler.contract import SCHEME
from scrapyfleet.crawler.ftps import upload


@dataclass(frozen=True, slots=True)
class StoredFeed:
    """One feed file handed to the real storage."""

    name: str
    bytes: int
    receipt: str | None = None  # the sink's landing receipt, if its reply carried one


@dataclass(slots=True)
class FleetFeeds:
    """Where a job's `fleet:` feeds go (a storage URI ending in `/`) and what they stored."""

    destination: str | None = None
    stored: list[StoredFeed] = field(default_factory=list)

    def go_to(self, destination: str) -> None:
        self.destination = destination if destination.endswith("/") else destination + "/"


class FeedHolder:
    """The spider middleware that holds the crawl's `FleetFeeds` (the worker side); the storage
    finds it with `Crawler.get_spider_middleware`."""

    feeds: FleetFeeds


class FleetFeedStorage:
    """Scrapy feed storage for `fleet:NAME` URIs (register under `FEED_STORAGES["fleet"]`)."""

    def __init__(self, uri: str, crawler: Crawler, feed_options: dict[str, Any] | None) -> None:
        # Scrapy's %(time)s holds a `+`: ftpsink refuses (553) what is no landing name.
        self.name = safe_landing_name(uri.removeprefix(f"{SCHEME}:").lstrip("/"))
        self.crawler = crawler
        self.feed_options = feed_options

    @classmethod
    def from_crawler(
        cls, crawler: Crawler, uri: str, *, feed_options: dict[str, Any] | None = None
    ) -> Self:
        return cls(uri, crawler, feed_options)

    def open(self, spider: Spider) -> IO[bytes]:
        return NamedTemporaryFile(prefix="feed-")

    def store(self, file: IO[bytes]) -> Deferred[None] | None:
        """Hand `file` to the storage of the real destination (an error fails the feed)."""
        holder = self.crawler.get_spider_middleware(FeedHolder)
        feeds = holder.feeds if holder is not None else FleetFeeds()
        size = file.seek(0, 2)
        file.seek(0)
        if feeds.destination is None:
            if size == 0:  # the batch was never fetched (the worker logged why): nothing to land
                return None
            raise RuntimeError("no feed destination: the batch was never fetched from the master")
        uri = feeds.destination + self.name
        storages = self.crawler.settings.getwithbase("FEED_STORAGES")
        scheme = urlsplit(uri).scheme
        if scheme not in storages or scheme == SCHEME:
            raise RuntimeError(f"no feed storage for {scheme!r} destinations")
        storage = build_from_crawler(
            load_object(storages[scheme]), self.crawler, uri, feed_options=self.feed_options
        )
        if isinstance(storage, FTPFeedStorage):  # ftp, ftps: keep the sink's reply
            uploaded: Deferred[str] = deferToThread(upload, storage, file)
            return uploaded.addCallback(lambda reply: self._stored(feeds, size, reply))
        # Scrapy's storage contract: bytes go into what its open() gives (a local file for
        # `file:`, a temporary one that store() uploads for the blocking storages).
        real = storage.open(self.crawler.spider)
        shutil.copyfileobj(file, real)
        result: Deferred[None] | None = storage.store(real)
        if result is None:
            self._stored(feeds, size, "")
            return None
        return result.addCallback(lambda _: self._stored(feeds, size, ""))

    def _stored(self, feeds: FleetFeeds, size: int, reply: str) -> None:
        receipt = receipts.parse(reply)
        feeds.stored.append(StoredFeed(self.name, size, None if receipt is None else str(receipt)))
