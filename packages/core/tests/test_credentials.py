"""The one credentials module: password sources, the off-loopback refusal, basic auth both
ways, URL scrubbing."""

from __future__ import annotations

from pathlib import Path

import pytest

from scrapyfleet.core.credentials import (
    Credentials,
    auth_header,
    basic_auth,
    read_password,
    redacted,
    refuse_open,
    scrubbed,
)
from scrapyfleet.core.options import truthy
from scrapyfleet.core.targets import Target


def test_a_header_made_is_a_header_accepted() -> None:
    login = Credentials("ops", "pa:ss wörd")
    assert login.accept(login.header()["Authorization"])
    assert not Credentials("ops", "other").accept(login.header()["Authorization"])
    decoded = basic_auth(login.header()["Authorization"])
    assert decoded is not None and (decoded.login, decoded.password) == ("ops", "pa:ss wörd")
    assert basic_auth("Bearer abc") is None and basic_auth(None) is None


def test_a_target_logs_in_only_with_a_user() -> None:
    bare = Target("n", "http://127.0.0.1:6800")
    assert auth_header(bare) == {}
    login = Target("n", "http://127.0.0.1:6800", username="ops", password="pw")
    assert Credentials("ops", "pw").accept(auth_header(login)["Authorization"])


def test_password_from_file_beats_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("X_PASSWORD", "from-env")
    assert read_password("X_PASSWORD", None) == "from-env"
    file = tmp_path / "pw"
    file.write_text("from-file\nignored\n")
    assert read_password("X_PASSWORD", file) == "from-file"
    file.write_text("")
    with pytest.raises(ValueError, match="cannot read a password"):
        read_password("X_PASSWORD", file)
    with pytest.raises(ValueError, match="cannot read a password"):
        read_password("X_PASSWORD", tmp_path / "missing")
    monkeypatch.delenv("X_PASSWORD")
    assert read_password("X_PASSWORD", None) == ""


def test_off_loopback_needs_protection() -> None:
    refuse_open("127.0.0.1", False, "open")
    refuse_open("0.0.0.0", True, "open")
    with pytest.raises(ValueError, match="open"):
        refuse_open("0.0.0.0", False, "open")


def test_urls_are_scrubbed() -> None:
    uri = "ftp://worker:s3cret@127.0.0.1:2121/feeds/x.jl"
    assert scrubbed(uri) == "ftp://worker:***@127.0.0.1:2121/feeds/x.jl"
    assert scrubbed(uri, mask=None) == "ftp://worker@127.0.0.1:2121/feeds/x.jl"
    assert scrubbed("ftp://127.0.0.1/x.jl") == "ftp://127.0.0.1/x.jl"
    assert redacted("https://u:p@hooks.example/a?token=t") == "https://hooks.example/a"


@pytest.mark.parametrize(
    ("text", "value"), [("1", True), ("YES", True), ("on", True), ("0", False), ("", False)]
)
def test_truthy(text: str, value: bool) -> None:
    assert truthy(text) is value
    assert truthy(None) is None
