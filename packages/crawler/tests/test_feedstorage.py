"""`fleet:` feeds go where the master says, through Scrapy's own storages; attempt credentials."""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO, Any, ClassVar

import pytest
from scrapy.utils.test import get_crawler

from scrapyfleet.core.credentials import scrubbed
from scrapyfleet.crawler.contract import split_feed_uri
from scrapyfleet.crawler.master.credentials import attempt_credential, new_secret, verify
from scrapyfleet.crawler.worker.feedstorage import FeedHolder, FleetFeeds, FleetFeedStorage


def test_split_and_mask() -> None:
    uri = "ftp://worker:s3cret@127.0.0.1:2121/feeds/%(batch)s_%(name)s.jl"
    assert split_feed_uri(uri) == (
        "ftp://worker:s3cret@127.0.0.1:2121/feeds/",
        "%(batch)s_%(name)s.jl",
    )
    assert scrubbed(uri) == "ftp://worker:***@127.0.0.1:2121/feeds/%(batch)s_%(name)s.jl"
    assert scrubbed("ftp://127.0.0.1/x.jl") == "ftp://127.0.0.1/x.jl"
    with pytest.raises(ValueError, match="SCHEME"):
        split_feed_uri("ftp://worker:s3cret@host/")


class MemoStorage:
    """A synchronous storage that keeps what it is given (real FTP is covered end to end)."""

    kept: ClassVar[dict[str, bytes]] = {}

    def __init__(self, uri: str, *, feed_options: dict[str, Any] | None = None) -> None:
        self.uri = uri

    def open(self, spider: Any) -> IO[bytes]:
        return io.BytesIO()

    def store(self, file: IO[bytes]) -> None:
        MemoStorage.kept[self.uri] = file.getvalue()  # type: ignore[attr-defined]


class Holder(FeedHolder):
    """The worker side's part the storage uses."""

    def __init__(self) -> None:
        self.feeds = FleetFeeds()


def test_store_delegates_to_the_destination_storage() -> None:
    crawler = get_crawler(settings_dict={"FEED_STORAGES": {"memo": MemoStorage}})
    holder = Holder()
    # The spider middleware lookup, without an engine (the storage's logic is under test).
    crawler.get_spider_middleware = lambda cls: holder if issubclass(Holder, cls) else None  # type: ignore[method-assign]
    storage = FleetFeedStorage.from_crawler(crawler, "fleet:b-00001_distr.jl")
    with pytest.raises(RuntimeError, match="never fetched"):
        storage.store(io.BytesIO(b"x"))
    assert storage.store(io.BytesIO()) is None, "an unfetched batch's empty feed is no error"
    assert not holder.feeds.stored
    holder.feeds.go_to("memo://worker:pw@sink/feeds")
    file = storage.open(None)  # type: ignore[arg-type]  # the spider is not used
    file.write(b'{"url": "u"}\n')
    storage.store(file)
    assert MemoStorage.kept == {"memo://worker:pw@sink/feeds/b-00001_distr.jl": b'{"url": "u"}\n'}
    assert [(f.name, f.bytes) for f in holder.feeds.stored] == [("b-00001_distr.jl", 13)]
    # Scrapy's %(time)s holds a `+`, which ftpsink refuses: the name is made a landing name.
    timed = FleetFeedStorage.from_crawler(
        crawler, "fleet:b-00001_distr_2026-12-01T19-33-33+00-00.jl"
    )
    assert timed.name == "b-00001_distr_2026-12-01T19-33-33-00-00.jl"
    holder.feeds.go_to("nope://sink/")
    with pytest.raises(RuntimeError, match="no feed storage"):
        storage.store(io.BytesIO(b"x"))


def test_attempt_credentials_open_one_attempt_of_one_batch() -> None:
    secret = new_secret()
    credential = attempt_credential(secret, "r1-00001", 2)
    assert verify(secret, "r1-00001", 2, credential)
    assert not verify(secret, "r1-00001", 1, credential)
    assert not verify(secret, "r1-00002", 2, credential)
    assert not verify(new_secret(), "r1-00001", 2, credential)
    assert secret not in credential


def test_a_file_destination_gets_the_feed(tmp_path: Path) -> None:
    """Scrapy's own `file:` storage writes what its open() gave: the feed lands, not nothing."""
    crawler = get_crawler()
    holder = Holder()
    crawler.get_spider_middleware = lambda cls: holder if issubclass(Holder, cls) else None  # type: ignore[method-assign]
    holder.feeds.go_to((tmp_path / "feeds").as_uri())
    storage = FleetFeedStorage.from_crawler(crawler, "fleet:b-00001_distr.jl")
    file = storage.open(None)  # type: ignore[arg-type]
    file.write(b'{"url": "u"}\n')
    storage.store(file)
    assert (tmp_path / "feeds" / "b-00001_distr.jl").read_bytes() == b'{"url": "u"}\n'
    assert [(f.name, f.bytes) for f in holder.feeds.stored] == [("b-00001_distr.jl", 13)]
