"""Failed logins: one reply for unknown names and wrong passwords, growing delays, disconnect."""

from __future__ import annotations

import ftplib
import io
import time

import pytest

from scrapyfleet.core.passwords import hash_password, verify

PASSWORD = "Pa55-never-logged"
FAST_HASH = hash_password(PASSWORD, n=1024)  # cheap parameters, same code path


def test_three_wrong_passwords_cost_the_delays_and_close_the_connection(sink_factory, events):
    sink = sink_factory(users=(("worker", FAST_HASH),), login_delay=0.1, max_login_failures=3)
    ftp = ftplib.FTP(timeout=10)
    ftp.connect("127.0.0.1", sink.port)
    started = time.monotonic()
    replies = []
    for _ in range(3):
        with pytest.raises(ftplib.error_perm, match=r"^530") as refused:
            ftp.login("worker", "wrong-guess")
        replies.append(str(refused.value))
    assert time.monotonic() - started >= 0.1 + 0.2 + 0.4
    assert replies[-1] == "530 login incorrect, closing"
    with pytest.raises((EOFError, OSError)):
        ftp.voidcmd("NOOP")
    failed = events.named("login_failed")
    assert [(e["user"], e["failures"], e["closing"]) for e in failed] == [
        ("worker", 1, False), ("worker", 2, False), ("worker", 3, True),
    ]  # fmt: skip
    assert failed[0]["client"].startswith("127.0.0.1:")
    assert "wrong-guess" not in repr(events.entries)


def test_unknown_user_and_wrong_password_get_the_same_replies(sink_factory, events):
    sink = sink_factory(users=(("worker", FAST_HASH),), login_delay=0, anonymous=False)
    seen = []
    for name in ("worker", "nobody", "anonymous"):
        with ftplib.FTP(timeout=10) as ftp:
            ftp.connect("127.0.0.1", sink.port)
            user_reply = ftp.sendcmd(f"USER {name}")
            with pytest.raises(ftplib.error_perm) as refused:
                ftp.sendcmd("PASS not-it")
            seen.append((user_reply, str(refused.value)))
    assert seen == [("331 password required", "530 login incorrect")] * 3
    assert len(events.named("login_failed")) == 3


def test_hashed_and_plain_accounts_log_in(sink_factory):
    sink = sink_factory(users=(("hashed", FAST_HASH), ("plain", "pw")), anonymous=False)
    with sink.ftp("hashed", PASSWORD) as ftp:
        ftp.storbinary("STOR h.jl", io.BytesIO(b"{}\n"))
    with sink.ftp("plain", "pw") as ftp:
        ftp.storbinary("STOR p.jl", io.BytesIO(b"{}\n"))
    assert sorted(sink.landed()) == ["h.jl", "p.jl"]


def test_verify():
    assert verify(FAST_HASH, PASSWORD)
    assert not verify(FAST_HASH, PASSWORD + "x")
    assert verify("plain:with:colons", "plain:with:colons")
    assert not verify("plain", "Plain")


def test_200_wrong_passwords_over_many_connections_are_slowed_then_banned(sink_factory, events):
    """Reconnecting does not reset the count: the address is banned after --ban-after failures,
    then every connection from it (even with the right password) gets 421 at once."""
    sink = sink_factory(
        users=(("worker", FAST_HASH),), login_delay=0.01, ban_after=8, ban_time=60,
        max_login_failures=3,
    )  # fmt: skip
    started = time.monotonic()
    checked = refused_at_connect = 0
    while checked + refused_at_connect < 200:
        ftp = ftplib.FTP(timeout=10)
        try:
            ftp.connect("127.0.0.1", sink.port)
        except ftplib.error_temp as refused:
            assert str(refused).startswith("421 address banned for failed logins")
            refused_at_connect += 1
            continue
        with ftp:
            for _ in range(3):
                try:
                    ftp.login("worker", f"guess-{checked}")
                except ftplib.error_perm:
                    checked += 1
                except (ftplib.error_temp, EOFError, OSError):
                    break
    elapsed = time.monotonic() - started
    assert checked == 8 and refused_at_connect == 192
    assert sum(0.01 * 2**n for n in range(8)) <= elapsed < 20
    failed = events.named("login_failed")
    assert [e["address_failures"] for e in failed] == list(range(1, 9))
    (banned,) = events.named("banned")
    assert (banned["address"], banned["seconds"], banned["failures"]) == ("127.0.0.1", 60, 8)
    refusals = [e for e in events.named("connection_refused") if "banned" in e["reason"]]
    assert len(refusals) == 192 and refusals[0]["client"].startswith("127.0.0.1:")
    with pytest.raises(ftplib.error_temp, match=r"^421"):
        sink.ftp("worker", PASSWORD)  # banned means banned


def test_connections_opened_before_the_ban_cannot_go_on_guessing(sink_factory, events):
    sink = sink_factory(users=(("worker", FAST_HASH),), login_delay=0, ban_after=3)
    sessions = []
    for _ in range(5):
        ftp = ftplib.FTP(timeout=10)
        ftp.connect("127.0.0.1", sink.port)
        ftp.sendcmd("USER worker")
        sessions.append(ftp)
    for ftp in sessions[:3]:
        with pytest.raises(ftplib.error_perm, match=r"^530"):
            ftp.sendcmd("PASS wrong")
    with pytest.raises(ftplib.error_temp, match=r"^421 address banned"):
        sessions[3].sendcmd(f"PASS {PASSWORD}")
    with pytest.raises(ftplib.error_temp, match=r"^421 address banned"):
        sessions[4].sendcmd("PASS wrong")
    for ftp in sessions:
        ftp.close()
    assert len(events.named("login_failed")) == 3
    assert [e["reason"] for e in events.named("login_refused")] == ["banned", "banned"]


def test_idle_sessions_that_never_log_in_are_closed_at_the_login_deadline(
    sink_factory, events, wait_for
):
    """Idle unauthenticated sessions filled every slot for good; now they go at --login-timeout
    (well before --idle-timeout), and a logged-in session is not touched by it."""
    sink = sink_factory(login_timeout=1.0, max_connections=3, idle_timeout=60)
    worker = sink.ftp()
    idle = []
    for _ in range(2):
        ftp = ftplib.FTP(timeout=10)
        ftp.connect("127.0.0.1", sink.port)
        idle.append(ftp)
    with pytest.raises(ftplib.error_temp, match=r"^421 server full"):
        ftplib.FTP(timeout=10).connect("127.0.0.1", sink.port)
    started = time.monotonic()
    closed = wait_for(lambda: len(events.named("login_timeout")) == 2, timeout=10,
                      what="both idle sessions closed")  # fmt: skip
    assert closed and time.monotonic() - started < 5
    for ftp in idle:
        assert ftp.getline().startswith("421 login timeout")
    assert events.named("login_timeout")[0]["client"].startswith("127.0.0.1:")
    worker.storbinary("STOR still.jl", io.BytesIO(b"{}\n"))  # past the deadline, logged in
    with sink.ftp() as again:  # the slots are free again
        again.storbinary("STOR again.jl", io.BytesIO(b"{}\n"))
    worker.close()
    assert sorted(sink.landed()) == ["again.jl", "still.jl"]


def test_a_login_dragged_out_past_the_deadline_is_closed(sink_factory, events, wait_for):
    sink = sink_factory(users=(("worker", FAST_HASH),), login_timeout=0.5, login_delay=0)
    with ftplib.FTP(timeout=10) as ftp:
        ftp.connect("127.0.0.1", sink.port)
        ftp.sendcmd("USER worker")
        wait_for(lambda: events.named("login_timeout"), timeout=10, what="the login deadline")
        with pytest.raises((ftplib.error_temp, EOFError, OSError)):
            ftp.sendcmd(f"PASS {PASSWORD}")
    assert not events.named("logged_in")


def test_anonymous_is_refused_whenever_accounts_exist_even_on_loopback(sink_factory, events):
    sink = sink_factory(users=(("worker", FAST_HASH),), login_delay=0)
    assert sink.config.host == "127.0.0.1"
    with pytest.raises(ftplib.error_perm, match=r"^530"):
        sink.ftp("anonymous", "guest@")
    with sink.ftp("worker", PASSWORD) as ftp:
        ftp.storbinary("STOR w.jl", io.BytesIO(b"{}\n"))
    assert sink.landed() == {"w.jl": b"{}\n"}
    assert events.named("listening")[0]["anonymous"] is False
