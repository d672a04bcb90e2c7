"""The free-space floor: uploads are refused (452) before the disk fills, nothing left behind."""

from __future__ import annotations

import ftplib
import io

import pytest

from scrapyfleet.ftpsink import uploads
from scrapyfleet.ftpsink.config import FreeSpaceFloor, parse_free_space


def test_reserve_above_free_space_refuses_before_any_byte(sink_factory, events):
    sink = sink_factory(min_free=FreeSpaceFloor(1 << 60))  # more than any disk here
    with sink.ftp() as ftp, pytest.raises(ftplib.error_temp, match=r"^452 STOR refused"):
        ftp.storbinary("STOR full.jl", io.BytesIO(b"x\n" * 1000))
    assert sink.landed() == {}
    assert sink.staged() == []
    assert events.named("refused")[-1]["reason"].startswith("insufficient storage")


def test_disk_filling_mid_upload_aborts_and_leaves_nothing(sink_factory, events, monkeypatch):
    """The floor is checked before every block: here the disk 'fills' once bytes flow."""
    real = uploads.free_space_problem

    def fills_up(root, floor, pending=0):
        return "insufficient storage: test" if pending else real(root, floor, pending)

    monkeypatch.setattr(uploads, "free_space_problem", fills_up)
    sink = sink_factory(min_free=FreeSpaceFloor(0))
    with sink.ftp() as ftp:
        data = ftp.transfercmd("STOR filling.jl")
        data.sendall(b"y" * 1000)
        data.close()
        with pytest.raises(ftplib.error_temp, match=r"^452"):
            ftp.voidresp()
    assert events.named("aborted")[-1]["reason"] == "disk_full"
    assert sink.landed() == {}
    assert sink.staged() == []


def test_parse_free_space():
    assert parse_free_space("1G") == FreeSpaceFloor(1 << 30)
    assert parse_free_space("5%") == FreeSpaceFloor(5, percent=True)
    assert FreeSpaceFloor(5, percent=True).bytes_of(1000) == 50
    for bad in ("100%", "x%", "lots"):
        with pytest.raises(ValueError):
            parse_free_space(bad)
