"""`fleet:` feed storage: workers export to a destination they learn from the master.

crawl-master gives workers `FEEDS = {"fleet:<name template>": ...}` on their command line, never
the real feed URI (its password would sit in `scrapyd.out`, `ps` and the job log). The worker
receives the destination (e.g. `ftp://user:password@sink:2121/`) with its batch, over HTTP, and
this storage hands the file to Scrapy's own storage for `<destination><name>` (Scrapy's
`FEED_STORAGES`, so `ftp`, `ftps`, `file`, `s3`, ... all work). Scrapy logs the `fleet:` URI, so
no password reaches a log line. What was stored (name, bytes) is kept for the worker's report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from tempfile import NamedTemporaryFile
from typing import IO, Any, Self
from urllib.parse import urlsplit

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.utils.misc import build_from_crawler, load_object
from twisted.internet.defer import Deferred

from scrapyfleet.crawler.contract import SCHEME


@dataclass(frozen=True, slots=True)
class StoredFeed:
    """One feed file handed to the real storage."""

    name: str
    bytes: int


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
        self.name = uri.removeprefix(f"{SCHEME}:").lstrip("/")
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
        if feeds.destination is None:
            raise RuntimeError("no feed destination: the batch was never fetched from the master")
        uri = feeds.destination + self.name
        storages = self.crawler.settings.getwithbase("FEED_STORAGES")
        scheme = urlsplit(uri).scheme
        if scheme not in storages or scheme == SCHEME:
            raise RuntimeError(f"no feed storage for {scheme!r} destinations")
        storage = build_from_crawler(
            load_object(storages[scheme]), self.crawler, uri, feed_options=self.feed_options
        )
        size = file.seek(0, 2)
        file.seek(0)
        result: Deferred[None] | None = storage.store(file)
        record = StoredFeed(self.name, size)
        if result is None:
            feeds.stored.append(record)
            return None
        return result.addCallback(lambda _: feeds.stored.append(record))
