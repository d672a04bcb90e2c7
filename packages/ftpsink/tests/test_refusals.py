"""Upload-only: read/modify commands, escapes from the root and bad logins are refused."""

from __future__ import annotations

import ftplib
import io
import os
from pathlib import Path

import pytest


def snapshot(top: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every entry under `top`: mode, mtime and content, to prove nothing changed."""
    return {
        str(path.relative_to(top)): (
            path.lstat().st_mode,
            path.lstat().st_mtime_ns,
            path.read_bytes() if path.is_file() and not path.is_symlink() else b"",
        )
        for path in sorted(top.rglob("*"))
    }


@pytest.fixture
def stocked(sink):
    """A sink holding `a.jl` and an empty directory `sub` (made by hand: MKD is refused)."""
    with sink.ftp() as ftp:
        ftp.storbinary("STOR a.jl", io.BytesIO(b'{"a": 1}\n'))
    (sink.root / "sub").mkdir()
    return sink


@pytest.mark.parametrize(
    "command",
    [
        "RETR a.jl",
        "LIST",
        "NLST",
        "MLSD",
        "MLST a.jl",
        "DELE a.jl",
        "RMD sub",
        "RNFR a.jl",
        "RNTO b.jl",
        "APPE a.jl",
        "REST 10",
        "SITE CHMOD 777 a.jl",
        "STOU",
    ],
)
def test_refused_command_replies_error_and_changes_nothing(stocked, events, command):
    before = snapshot(stocked.root)
    with stocked.ftp() as ftp, pytest.raises(ftplib.error_perm, match=r"^502"):
        ftp.sendcmd(command)
    assert snapshot(stocked.root) == before
    assert events.named("refused")[-1]["command"] == command.split()[0]


def test_real_client_reads_fail(stocked):
    with stocked.ftp() as ftp:
        with pytest.raises(ftplib.error_perm):
            ftp.retrbinary("RETR a.jl", lambda block: None)
        with pytest.raises(ftplib.error_perm):
            ftp.nlst()
        with pytest.raises(ftplib.error_perm):
            ftp.delete("a.jl")
        with pytest.raises(ftplib.error_perm):
            ftp.rename("a.jl", "b.jl")
    assert stocked.landed() == {"a.jl": b'{"a": 1}\n'}


def test_dot_dot_and_absolute_paths_stay_inside_root(sink, tmp_path):
    """`..` is clamped at `/`; a name with a slash is refused (files land in / only)."""
    outside_before = sorted(p.name for p in tmp_path.iterdir())
    with sink.ftp() as ftp:
        ftp.cwd("../../..")
        assert ftp.pwd() == "/"
        for attempt in ("STOR ../../escape.jl", "STOR /etc/passwd"):
            with pytest.raises(ftplib.error_perm, match=r"^553"):
                ftp.storbinary(attempt, io.BytesIO(b"e\n"))
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            ftp.mkd("../../made")
        ftp.storbinary("STOR /rooted.jl", io.BytesIO(b"r\n"))
    assert sorted(p.name for p in tmp_path.iterdir()) == outside_before
    assert sink.landed() == {"rooted.jl": b"r\n"}


def test_symlinks_out_of_root_are_refused(sink, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jl").write_bytes(b"s\n")
    os.symlink(outside, sink.root / "link")
    os.symlink(outside / "secret.jl", sink.root / "secret.jl")

    with sink.ftp() as ftp:
        for attempt in (
            lambda: ftp.cwd("link"),
            lambda: ftp.mkd("link/new"),
            lambda: ftp.storbinary("STOR secret.jl", io.BytesIO(b"x\n")),
        ):
            with pytest.raises(ftplib.error_perm, match=r"^550"):
                attempt()
        with pytest.raises(ftplib.error_perm, match=r"^553"):
            ftp.storbinary("STOR link/x.jl", io.BytesIO(b"x\n"))

    assert sorted(p.name for p in outside.iterdir()) == ["secret.jl"]
    assert (outside / "secret.jl").read_bytes() == b"s\n"


@pytest.mark.parametrize(
    "attempt",
    ["STOR .hidden.jl", "STOR _SUCCESS", "CWD .staging", "MKD .staging/x", "STOR .staging/x.jl"],
)
def test_hidden_names_are_refused(sink, attempt):
    with sink.ftp() as ftp, pytest.raises(ftplib.error_perm, match=r"^553"):
        if attempt.startswith("STOR"):
            ftp.storbinary(attempt, io.BytesIO(b"h\n"))
        else:
            ftp.sendcmd(attempt)
    assert sink.landed() == {}
    assert sink.staged() == []


def test_subdirectories_are_not_landing_places(sink):
    """The analytics reads the root only: no MKD, no CWD below /, no STOR into a directory."""
    (sink.root / "items").mkdir()
    with sink.ftp() as ftp:
        for attempt in (lambda: ftp.mkd("items"), lambda: ftp.mkd("new"), lambda: ftp.cwd("items")):
            with pytest.raises(ftplib.error_perm, match=r"^550"):
                attempt()
        for name in ("items/x.jl", "nowhere/x.jl"):
            with pytest.raises(ftplib.error_perm, match=r"^553"):
                ftp.storbinary(f"STOR {name}", io.BytesIO(b"x\n"))
        ftp.cwd("/")
    assert sink.landed() == {}
    assert sorted(p.name for p in sink.root.iterdir()) == [".staging", "items"]


def test_wrong_password_is_refused(sink_factory):
    sink = sink_factory(users=(("worker", "right"),))
    with pytest.raises(ftplib.error_perm, match=r"^530"):
        sink.ftp("worker", "wrong")
    with pytest.raises(ftplib.error_perm, match=r"^530"):
        sink.ftp("nobody", "whatever")
    with sink.ftp("worker", "right") as ftp:
        ftp.storbinary("STOR ok.jl", io.BytesIO(b"k\n"))
    assert sink.landed() == {"ok.jl": b"k\n"}


def test_anonymous_refused_with_no_anonymous(sink_factory):
    sink = sink_factory(users=(("worker", "pw"),), anonymous=False)
    with pytest.raises(ftplib.error_perm, match=r"^530"):
        sink.ftp()
    with pytest.raises(ftplib.error_perm, match=r"^530"):
        sink.ftp("anonymous", "guest@")


def test_stor_before_login_is_refused(sink):
    ftp = ftplib.FTP(timeout=10)
    ftp.connect("127.0.0.1", sink.port)
    with pytest.raises(ftplib.error_perm, match=r"^503"):
        ftp.sendcmd("STOR x.jl")
    ftp.close()
    assert sink.landed() == {}
