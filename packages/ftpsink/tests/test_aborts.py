"""Transfers that do not complete cleanly leave nothing in the landing directory."""

from __future__ import annotations

import ftplib
import io
import signal
import socket
import struct
import subprocess
import sys
import time

import pytest

HALF = 400_000

KILLED_CLIENT = """
import ftplib, sys
ftp = ftplib.FTP()
ftp.connect("127.0.0.1", int(sys.argv[1]))
ftp.login()
data = ftp.transfercmd("STOR killed.jl")
data.sendall(b"x" * int(sys.argv[2]))
print("sent", flush=True)
sys.stdin.read()  # hang mid-transfer until killed
"""


def staged_bytes(sink) -> int:
    return sum(path.stat().st_size for path in sink.staged())


def assert_untouched_and_still_serving(sink, ftp: ftplib.FTP | None = None) -> None:
    assert sink.landed() == {}
    assert sink.staged() == []
    with ftp or sink.ftp() as client:
        client.storbinary("STOR next.jl", io.BytesIO(b'{"ok": 1}\n'))
    assert sink.landed() == {"next.jl": b'{"ok": 1}\n'}


def test_killed_client_lands_nothing(sink, events, wait_for):
    client = subprocess.Popen(
        [sys.executable, "-c", KILLED_CLIENT, str(sink.port), str(HALF)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert client.stdout is not None
        assert client.stdout.readline().strip() == "sent"
        wait_for(lambda: staged_bytes(sink) == HALF, timeout=10, what="half the bytes staged")
    finally:
        client.send_signal(signal.SIGKILL)
        client.wait(timeout=10)

    (aborted,) = wait_for(
        lambda: events.named("aborted") + events.named("landed"), timeout=10, what="upload ended"
    )
    assert aborted["name"] == "killed.jl"
    assert aborted["reason"] in ("client_gone", "disconnected")
    assert_untouched_and_still_serving(sink)


def test_reset_data_connection_lands_nothing(sink, events, wait_for):
    ftp = sink.ftp()
    data = ftp.transfercmd("STOR reset.jl")
    data.sendall(b"y" * HALF)
    wait_for(lambda: staged_bytes(sink) == HALF, timeout=10, what="half the bytes staged")
    data.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    data.close()  # RST, not FIN

    with pytest.raises(ftplib.error_temp, match=r"^426"):
        ftp.voidresp()
    assert events.named("aborted")[-1]["reason"] == "reset"
    assert_untouched_and_still_serving(sink, ftp)  # same control connection


def test_abor_lands_nothing(sink, events, wait_for):
    ftp = sink.ftp()
    data = ftp.transfercmd("STOR abor.jl")
    data.sendall(b"z" * HALF)
    wait_for(lambda: staged_bytes(sink) == HALF, timeout=10, what="half the bytes staged")
    ftp.putcmd("ABOR")

    with pytest.raises(ftplib.error_temp, match=r"^426"):
        ftp.getresp()
    assert ftp.getresp().startswith("226")
    data.close()
    assert events.named("aborted")[-1]["reason"] == "abor"
    assert_untouched_and_still_serving(sink, ftp)


def test_upload_over_size_limit_lands_nothing(sink_factory, events):
    sink = sink_factory(max_file_size=1000)
    with sink.ftp() as ftp:
        with pytest.raises(ftplib.error_perm, match=r"^552"):
            ftp.storbinary("STOR big.jl", io.BytesIO(b"b" * 5000))
        assert events.named("aborted")[-1]["reason"] == "too_large"
        assert sink.landed() == {}
        assert sink.staged() == []
        ftp.storbinary("STOR limit.jl", io.BytesIO(b"l" * 1000))
    assert sink.landed() == {"limit.jl": b"l" * 1000}


def test_stalled_upload_times_out_and_lands_nothing(sink_factory, events, wait_for):
    sink = sink_factory(stall_timeout=0.5)
    ftp = sink.ftp()
    data = ftp.transfercmd("STOR stalled.jl")
    data.sendall(b"s" * 1000)

    wait_for(lambda: events.named("aborted"), timeout=10, what="stalled upload aborted")
    assert events.named("aborted")[0]["reason"] == "stalled"
    with pytest.raises(ftplib.error_temp, match=r"^426 transfer stalled"):
        ftp.voidresp()
    data.close()
    assert_untouched_and_still_serving(sink, ftp)


@pytest.mark.parametrize("every", [4.0, 0.5], ids=["silent-gaps", "under-min-rate"])
def test_trickling_upload_is_cut_at_the_stall_deadline(sink_factory, events, wait_for, every):
    """A byte every 4 s (silences longer than --stall-timeout) or every 0.5 s (never silent that
    long, but far under --min-rate): both cut at the 2 s deadline, nothing lands."""
    sink = sink_factory(stall_timeout=2.0, min_rate=1024)
    ftp = sink.ftp()
    data = ftp.transfercmd("STOR trickle.jl")
    started = time.monotonic()
    while not events.named("aborted") and time.monotonic() - started < 10:
        data.sendall(b"t")
        pace_until = time.monotonic() + every  # the client's pace, cut short once aborted
        while time.monotonic() < pace_until and not events.named("aborted"):
            time.sleep(0.02)
    elapsed = time.monotonic() - started
    (aborted,) = events.named("aborted")
    assert aborted["reason"] == "stalled"
    assert 2.0 <= elapsed < 6.0, elapsed
    assert aborted["bytes"] < 2048
    with pytest.raises(ftplib.error_temp, match=r"^426 transfer stalled: under 2048 bytes in 2 s"):
        ftp.voidresp()
    data.close()
    assert_untouched_and_still_serving(sink, ftp)


def test_slow_upload_outlasting_idle_timeout_still_lands(sink_factory):
    """The control connection is silent during a transfer; only data silence counts."""
    sink = sink_factory(idle_timeout=0.5)
    with sink.ftp() as ftp:
        data = ftp.transfercmd("STOR slow.jl")
        for _ in range(6):
            data.sendall(b"line\n")
            time.sleep(0.25)  # a slow client's pace (1.5 s in all), not synchronisation
        data.close()
        assert ftp.voidresp().startswith("226")
    assert sink.landed() == {"slow.jl": b"line\n" * 6}


def test_idle_control_connection_is_closed(sink_factory, events, wait_for):
    sink = sink_factory(idle_timeout=0.3)
    ftp = sink.ftp()
    wait_for(lambda: events.named("idle_closed"), timeout=10, what="idle connection closed")
    with pytest.raises((EOFError, OSError, ftplib.Error)):
        ftp.voidcmd("NOOP")
        ftp.voidcmd("NOOP")


def test_shutdown_mid_upload_lands_nothing(sink, events, wait_for):
    ftp = sink.ftp()
    data = ftp.transfercmd("STOR shutdown.jl")
    data.sendall(b"q" * HALF)
    wait_for(lambda: staged_bytes(sink) == HALF, timeout=10, what="half the bytes staged")

    sink.stop()

    data.close()
    assert events.named("aborted")[-1]["reason"] == "shutdown"
    assert sink.landed() == {}
    assert sink.staged() == []
