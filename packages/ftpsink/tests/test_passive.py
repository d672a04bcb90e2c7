"""Passive data ports and connection caps: no hijacking, no lock-out, 421 over the caps."""

from __future__ import annotations

import ftplib
import io
import os
import socket
import time

import pytest


def attacker_socket() -> socket.socket:
    """A TCP socket from 127.0.0.2: another host, as far as the sink can tell."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.bind(("127.0.0.2", 0))
    return sock


def test_data_connection_from_another_address_is_refused(sink, events, wait_for):
    payload = os.urandom(200_000)
    with sink.ftp() as ftp:
        host, port = ftp.makepasv()
        with attacker_socket() as attacker:
            attacker.connect((host, port))  # first to the port, before the client
            (refused,) = wait_for(
                lambda: events.named("data_connection_refused"), timeout=10, what="refusal"
            )
            assert attacker.recv(1) == b""  # closed unused
        assert refused["peer"].startswith("127.0.0.2:")
        assert refused["client"].startswith("127.0.0.1:")

        with socket.create_connection((host, port), timeout=10) as data:
            assert ftp.sendcmd("STOR mine.jl").startswith("150")
            data.sendall(payload)
        assert ftp.voidresp().startswith("226")
    assert sink.landed() == {"mine.jl": payload}


def test_pasv_holders_do_not_lock_out_the_next_client(sink_factory, free_port, events):
    """Both ports held by clients that never connect: the next PASV waits for the first port
    freed by the accept timeout, then uploads."""
    port = free_port()
    sink = sink_factory(passive_ports=range(port, port + 1), accept_timeout=0.5, port_wait=10)
    holder = sink.ftp()
    holder.makepasv()
    started = time.monotonic()
    with sink.ftp() as ftp:
        ftp.storbinary("STOR next.jl", io.BytesIO(b"{}\n"))
    assert time.monotonic() - started < 5
    assert sink.landed() == {"next.jl": b"{}\n"}
    assert events.named("passive_expired")[0]["port"] == port
    holder.close()


def test_exhausted_ports_answer_421_after_the_wait(sink_factory, free_port, events):
    port = free_port()
    sink = sink_factory(passive_ports=range(port, port + 1), accept_timeout=30, port_wait=0.3)
    with sink.ftp() as holder, sink.ftp() as ftp:
        holder.makepasv()
        started = time.monotonic()
        with pytest.raises(ftplib.error_temp, match=r"^421"):
            ftp.makepasv()
        assert time.monotonic() - started >= 0.3
    assert events.named("passive_ports_exhausted")[0]["ports"] == 1


def admitted(sink, wait_for) -> ftplib.FTP:
    """A session, once a slot is free (closed connections are counted until the sink sees EOF;
    the fixture's own start-up probe is one of them)."""

    def attempt() -> ftplib.FTP | None:
        try:
            return sink.ftp()
        except ftplib.error_temp:
            return None

    return wait_for(attempt, timeout=10, what="a free connection slot")


def test_connection_cap_per_address_answers_421_at_once(sink_factory, events, wait_for):
    sink = sink_factory(max_connections_per_address=2)
    first, second = admitted(sink, wait_for), admitted(sink, wait_for)
    with pytest.raises(ftplib.error_temp, match=r"^421 too many connections from your address"):
        sink.ftp()
    assert events.named("connection_refused")[-1]["client"].startswith("127.0.0.1:")
    first.quit()
    admitted(sink, wait_for).quit()
    second.quit()


def test_total_cap_answers_421(sink_factory, wait_for):
    sink = sink_factory(max_connections=1)
    with admitted(sink, wait_for), pytest.raises(ftplib.error_temp, match=r"^421 server full"):
        sink.ftp()
