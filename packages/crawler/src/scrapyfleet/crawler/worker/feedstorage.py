"""`fleet:` feed storage: workers export to a destination they learn from the master.

crawl-master gives workers `FEEDS = {"fleet:<name template>": ...}` on their command line, never
the real feed URI (its password would sit in `scrapyd.out`, `ps` and the job log). The worker
receives the destination (e.g. `ftp://user:password@sink:2121/`) with its batch, over HTTP, and
this storage hands the file to Scrapy's own storage for `<destination><name>` (Scrapy's
`FEED_STORAGES`, so `ftp`, `ftps`, `file`, `s3`, ... all work). Scrapy logs the `fleet:` URI, so
no password reaches a log line. What was stored (name, bytes) is kept for the worker's report.
"""

from __future__ import annotations

from dataclasses import dataclass
from tempfile import NamedTemporaryFile
from typing import IO, Any, Self
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

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


_destinations: WeakKeyDictionary[Crawler, str] = WeakKeyDictionary()
_stored: WeakKeyDictionary[Crawler, list[StoredFeed]] = WeakKeyDictionary()


def set_destination(crawler: Crawler, destination: str) -> None:
    """Where this crawler's `fleet:` feeds go: a storage URI ending in `/`."""
    _destinations[crawler] = destination if destination.endswith("/") else destination + "/"


def stored_feeds(crawler: Crawler) -> list[StoredFeed]:
    """The feeds this crawler has handed over so far."""
    return list(_stored.get(crawler, []))


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
        destination = _destinations.get(self.crawler)
        if destination is None:
            raise RuntimeError("no feed destination: the batch was never fetched from the master")
        uri = destination + self.name
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
            _stored.setdefault(self.crawler, []).append(record)
            return None
        return result.addCallback(lambda _: _stored.setdefault(self.crawler, []).append(record))
