"""Every name ftpsink lands is one the analytics reads; bad names and bad lines get a 5xx."""

from __future__ import annotations

import ftplib
import io

import pytest

REFUSED_NAMES = [
    "nul\x00byte.jl",
    "n" * 253 + ".jl",  # 256 bytes
    "é" * 127 + ".jl",  # 257 bytes in UTF-8
    "sub/x.jl",
    "_SUCCESS",
    ".hidden.jl",
    "part.jl._COPYING_",
    "tab\there.jl",
    "x:y.jl",  # Hadoop paths reject ':' (Spark would crash-loop on it)
    "b1_easy_2026-12-01T19-33-33+00-00.jl",  # Scrapy's raw %(time)s
    "space here.jl",
    "é.jl",
]


@pytest.mark.parametrize("name", REFUSED_NAMES)
def test_name_the_analytics_would_not_read_is_refused_before_any_byte(sink, events, name):
    with sink.ftp() as ftp:
        with pytest.raises(ftplib.error_perm, match=r"^55[03] STOR refused"):
            ftp.storbinary(f"STOR {name}", io.BytesIO(b"x\n" * 1000))
        assert events.named("refused")[-1]["command"] == "STOR"
        assert sink.staged() == []
        ftp.storbinary("STOR fine.jl", io.BytesIO(b"{}\n"))  # same session keeps serving
    assert sink.landed() == {"fine.jl": b"{}\n"}


def test_colon_is_refused_with_the_reason(sink):
    with sink.ftp() as ftp, pytest.raises(ftplib.error_perm) as refused:
        ftp.storbinary("STOR x:y.jl", io.BytesIO(b"{}\n"))
    assert str(refused.value) == (
        "553 STOR refused: character ':' not allowed: names hold only letters, digits and . _ -"
    )
    assert sink.landed() == {}


def test_longest_name_lands(sink):
    name = "n" * 252 + ".jl"  # 255 bytes
    with sink.ftp() as ftp:
        ftp.storbinary(f"STOR {name}", io.BytesIO(b"{}\n"))
    assert sink.landed() == {name: b"{}\n"}


def test_invalid_utf8_gets_a_reply_and_the_session_goes_on(sink, events):
    with sink.ftp() as ftp:
        ftp.sock.sendall(b"STOR bad\xff\xfe.jl\r\n")
        with pytest.raises(ftplib.error_perm, match=r"^501"):
            ftp.getresp()
        ftp.storbinary("STOR fine.jl", io.BytesIO(b"{}\n"))
    assert sink.landed() == {"fine.jl": b"{}\n"}
    assert events.named("refused")[0]["reason"] == "command line is not valid UTF-8"


def test_over_long_command_line_is_answered_and_closed(sink, events, wait_for):
    ftp = sink.ftp()
    ftp.sock.sendall(b"STOR " + b"a" * (sink.config.block_size + 10) + b".jl\r\n")
    try:
        assert ftp.getresp().startswith("500")
    except ftplib.error_perm as reply:
        assert str(reply).startswith("500 ? refused: command line too long")
    except (EOFError, OSError):
        pass  # the close may overtake the reply while the client is still sending
    wait_for(lambda: events.named("refused"), timeout=10, what="the refusal")
    assert events.named("refused")[0]["reason"] == "command line too long, closing"
    ftp.close()
    with sink.ftp() as again:
        again.storbinary("STOR fine.jl", io.BytesIO(b"{}\n"))
    assert sink.landed() == {"fine.jl": b"{}\n"}
