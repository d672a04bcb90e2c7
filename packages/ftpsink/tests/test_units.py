"""Pure pieces: option parsers, path resolution and staging files (real files in tmp_path)."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import pytest

from scrapyfleet.ftpsink import admission
from scrapyfleet.ftpsink.accounts import parse_account
from scrapyfleet.ftpsink.admission import Failure, LoginGuard
from scrapyfleet.ftpsink.config import SinkConfig, parse_port_range, parse_size
from scrapyfleet.ftpsink.paths import PathRefused, landing_target, resolve_inside
from scrapyfleet.ftpsink.staging import StagedFile, clear_staging


def test_parse_port_range():
    assert parse_port_range("30000-30009") == range(30000, 30010)
    assert parse_port_range("30000") == range(30000, 30001)
    assert parse_port_range("0") is None
    for bad in ("abc", "9-1", "0-5", "1-70000"):
        with pytest.raises(ValueError):
            parse_port_range(bad)


def test_parse_account_keeps_colons_in_password():
    assert parse_account("worker:pa:ss") == ("worker", "pa:ss")
    for bad in ("worker", ":pw", "worker:", "worker:scrypt$1$x"):
        with pytest.raises(ValueError):
            parse_account(bad)


def test_parse_size():
    assert parse_size("1048576") == 1 << 20
    assert parse_size("512K") == 512 << 10
    assert parse_size("200M") == 200 << 20
    assert parse_size("1g") == 1 << 30
    assert parse_size("0") == 0
    with pytest.raises(ValueError):
        parse_size("lots")


def test_config_without_any_login_is_an_error():
    with pytest.raises(ValueError, match="nobody could log in"):
        SinkConfig(anonymous=False)
    with pytest.raises(ValueError, match="non-loopback bind"):
        SinkConfig(host="0.0.0.0")
    assert SinkConfig(host="0.0.0.0", anonymous=True).anonymous_allowed
    assert SinkConfig(host="::1").anonymous_allowed
    assert not SinkConfig(host="10.1.2.3", users=(("w", "pw"),)).anonymous_allowed


def test_accounts_turn_anonymous_off_even_on_loopback():
    assert not SinkConfig(users=(("w", "pw"),)).anonymous_allowed
    with pytest.raises(ValueError, match="anonymous upload is off whenever accounts"):
        SinkConfig(users=(("w", "pw"),), anonymous=True)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_login_guard_delays_grow_bans_double_and_failures_are_forgotten():
    clock = Clock()
    guard = LoginGuard(delay=1.0, ban_after=3, ban_time=100.0, clock=clock)
    assert [guard.failed("a") for _ in range(2)] == [Failure(1, 1.0, 0.0), Failure(2, 2.0, 0.0)]
    assert guard.banned("b") == 0.0 and guard.failed("b").failures == 1  # per address
    assert guard.failed("a") == Failure(3, 4.0, 100.0)
    clock.now += 40
    assert guard.banned("a") == 60.0
    clock.now += 60
    assert guard.banned("a") == 0.0
    assert [guard.failed("a").ban for _ in range(3)] == [0.0, 0.0, 200.0]  # the second ban
    clock.now += 200
    guard.failed("a")
    clock.now += 101  # failures older than ban_time are forgotten
    assert guard.failed("a") == Failure(1, 1.0, 0.0)


def test_login_guard_remembers_a_bounded_number_of_addresses(monkeypatch):
    monkeypatch.setattr(admission, "MAX_TRACKED", 10)
    guard = LoginGuard(delay=0.0, ban_after=100, ban_time=100.0, clock=Clock())
    for n in range(50):
        guard.failed(f"10.0.0.{n}")
    assert len(guard.records) <= 10
    assert "10.0.0.49" in guard.records and "10.0.0.0" not in guard.records


def test_resolve_inside(tmp_path: Path):
    root = tmp_path.resolve()
    (root / "d").mkdir()
    assert resolve_inside(root, PurePosixPath("/d/x.jl")) == root / "d" / "x.jl"
    os.symlink(tmp_path.parent, root / "up")
    with pytest.raises(PathRefused) as refused:
        resolve_inside(root, PurePosixPath("/up/x.jl"))
    assert refused.value.code == "550"
    with pytest.raises(PathRefused) as refused:
        resolve_inside(root, PurePosixPath("/d/_tmp/x.jl"))
    assert refused.value.code == "553"


def test_landing_target_takes_only_free_bare_names_in_the_root(tmp_path: Path):
    root, top = tmp_path.resolve(), PurePosixPath("/")
    (root / "x.jl").write_bytes(b"")
    with pytest.raises(PathRefused, match="exists"):
        landing_target(root, top, "x.jl")
    for name in ("a/b.jl", "../b.jl", "_tmp.jl", ".h.jl", "b.jl._COPYING_", "a\x00b", "n" * 256):
        with pytest.raises(PathRefused) as refused:
            landing_target(root, top, name)
        assert refused.value.code == "553", name
    with pytest.raises(PathRefused, match="no subdirectories"):
        landing_target(root, PurePosixPath("/d"), "y.jl")
    assert landing_target(root, top, "y.jl") == landing_target(root, top, "/y.jl") == root / "y.jl"


def test_staged_file_lands_whole_and_leaves_no_staging(tmp_path: Path):
    staged = StagedFile(tmp_path)
    staged.write(b"one\n")
    staged.write(b"two\n")
    staged.sync()
    staged.land(tmp_path / "out.jl")
    assert (tmp_path / "out.jl").read_bytes() == b"one\ntwo\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jl"]


def test_staged_file_never_replaces_an_existing_file(tmp_path: Path):
    (tmp_path / "out.jl").write_bytes(b"old\n")
    staged = StagedFile(tmp_path)
    staged.write(b"new\n")
    with pytest.raises(FileExistsError):
        staged.land(tmp_path / "out.jl")
    assert (tmp_path / "out.jl").read_bytes() == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jl"]


def test_clear_staging_removes_leftovers(tmp_path: Path):
    staging = tmp_path / ".staging"
    assert clear_staging(staging) == 0
    StagedFile(staging).write(b"partial")
    assert clear_staging(staging) == 1
    assert list(staging.iterdir()) == []
