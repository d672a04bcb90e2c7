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
