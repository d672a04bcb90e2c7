"""Landing receipts in the 226 reply: real ftplib, curl and Scrapy's own FTP store code."""

from __future__ import annotations

import ftplib
import io
import os
import subprocess

import pytest
from scrapy.utils.ftp import ftp_store_file

from scrapyfleet.core import receipts

KEY = b"shared-with-the-master-0123456789"


@pytest.fixture
def signing_sink(sink_factory):
    return sink_factory(receipt_key=KEY)


def test_226_carries_a_receipt_that_verifies_only_under_the_shared_key(signing_sink, events):
    # Many lines across several 256 KiB blocks, the last one unterminated.
    payload = b"".join(b'{"n": %d}\n' % i for i in range(60_000)) + b'{"last": true}'
    with signing_sink.ftp() as ftp:
        reply = ftp.storbinary("STOR b1_easy_t.jl", io.BytesIO(payload))

    receipt = receipts.parse(reply)
    assert reply.startswith("226 landed b1_easy_t.jl; receipt v1 ")
    assert receipt is not None
    assert (receipt.name, receipt.size, receipt.lines) == ("b1_easy_t.jl", len(payload), 60_001)
    assert receipts.verify(KEY, receipt)
    assert not receipts.verify(b"another-key-of-the-same-length-xx", receipt)
    (landed,) = events.named("landed")
    assert (landed["bytes"], landed["lines"], landed["receipt"]) == (len(payload), 60_001, True)
    assert receipt.mac not in repr(events.entries)  # the log says a receipt went, not which


@pytest.mark.parametrize(
    ("payload", "lines"), [(b"", 0), (b"\n", 1), (b"a", 1), (b"a\nb\n", 2), (b"a\n\nb", 3)]
)
def test_lines_are_counted_as_a_reader_counts_them(signing_sink, payload, lines):
    with signing_sink.ftp() as ftp:
        receipt = receipts.parse(ftp.storbinary("STOR l.jl", io.BytesIO(payload)))
    assert receipt is not None and (receipt.size, receipt.lines) == (len(payload), lines)


def test_scrapy_ftp_store_code_succeeds_with_the_longer_226(signing_sink):
    """`ftp_store_file` is what Scrapy's FTPFeedStorage runs; the receipt must not upset it."""
    payload = os.urandom(70_000)
    ftp_store_file(path="/7_easy_t.jl", file=io.BytesIO(payload), host="127.0.0.1",
                   port=signing_sink.port, username="", password="")  # fmt: skip
    assert signing_sink.landed() == {"7_easy_t.jl": payload}


def test_curl_upload_succeeds_and_sees_the_receipt(signing_sink, tmp_path):
    source = tmp_path / "feed.jl"
    source.write_bytes(b'{"a": 1}\n' * 1000)
    run = subprocess.run(
        ["curl", "-sS", "-v", "-T", str(source), f"ftp://127.0.0.1:{signing_sink.port}/c.jl"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    receipt = receipts.parse(run.stderr)
    assert receipt is not None and receipts.verify(KEY, receipt)
    assert (receipt.name, receipt.lines) == ("c.jl", 1000)


def test_without_a_key_no_receipt_and_the_log_says_so(sink_factory, events):
    sink = sink_factory()
    with sink.ftp() as ftp:
        reply = ftp.storbinary("STOR plain.jl", io.BytesIO(b"{}\n"))
        with pytest.raises(ftplib.error_perm, match=r"^553") as refused:
            ftp.storbinary("STOR plain.jl", io.BytesIO(b"{}\n"))
    assert reply == "226 landed plain.jl"
    assert receipts.parse(reply) is receipts.parse(str(refused.value)) is None
    assert events.named("listening")[0]["receipts"] is False
    assert events.named("receipts_off")
