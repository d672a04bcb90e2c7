"""Explicit FTPS: AUTH TLS, PBSZ 0, PROT P with real clients; --require-tls refuses plain text."""

from __future__ import annotations

import ftplib
import io
import os
import socket

import pytest

from scrapyfleet.crawler.ftps import FTPSFeedStorage


def test_ftps_upload_lands(sink_factory, tls_files, events):
    sink = sink_factory(tls=tls_files, users=(("worker", "s3cret"),), anonymous=False)
    payload = os.urandom(300_000)
    with sink.ftps("worker", "s3cret") as ftp:
        assert ftp.storbinary("STOR secure.jl", io.BytesIO(payload)).startswith("226")
        ftp.storbinary("STOR second.jl", io.BytesIO(b"{}\n"))  # a second data connection
    assert sink.landed() == {"secure.jl": payload, "second.jl": b"{}\n"}
    assert sink.staged() == []
    assert "s3cret" not in repr(events.entries)


def test_required_tls_refuses_plain_login_and_plain_data(sink_factory, tls_files):
    sink = sink_factory(tls=tls_files, require_tls=True)
    with pytest.raises(ftplib.error_perm, match=r"^530 .*TLS required"):
        sink.ftp()
    with sink.ftps() as ftp:
        with pytest.raises(ftplib.error_perm, match=r"^534"):
            ftp.prot_c()
        ftp.storbinary("STOR ok.jl", io.BytesIO(b"{}\n"))
    assert sink.landed() == {"ok.jl": b"{}\n"}


def test_auth_without_tls_configured_is_refused(sink):
    with sink.ftp() as ftp, pytest.raises(ftplib.error_perm, match=r"^502"):
        ftp.sendcmd("AUTH TLS")


def test_failed_handshake_is_named_and_server_keeps_serving(
    sink_factory, tls_files, events, wait_for
):
    sink = sink_factory(tls=tls_files)
    with socket.create_connection(("127.0.0.1", sink.port), timeout=10) as raw:
        reader = raw.makefile("rb")
        assert reader.readline().startswith(b"220")
        raw.sendall(b"AUTH TLS\r\n")
        assert reader.readline().startswith(b"234")
        raw.sendall(b"this is no ClientHello\r\n" * 10)
        assert reader.read() == b""  # closed by the server
    (failed,) = wait_for(lambda: events.named("tls_failed"), timeout=10, what="tls_failed")
    assert failed["channel"] == "control"
    with sink.ftps() as ftp:
        ftp.storbinary("STOR after.jl", io.BytesIO(b"{}\n"))
    assert sink.landed() == {"after.jl": b"{}\n"}


def test_scrapy_ftps_feed_storage_stores_against_the_real_server(sink_factory, tls_files):
    """The crawler's ftps:// storage: TLS verified against the sink's certificate."""
    sink = sink_factory(tls=tls_files, require_tls=True, users=(("worker", "pw"),))
    storage = FTPSFeedStorage(
        f"ftps://worker:pw@127.0.0.1:{sink.port}/7_easy_t.jl", ca_file=str(tls_files.cert)
    )
    storage._store_in_thread(io.BytesIO(b'{"a": 1}\n'))
    assert sink.landed() == {"7_easy_t.jl": b'{"a": 1}\n'}
