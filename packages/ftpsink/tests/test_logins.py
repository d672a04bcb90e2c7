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
