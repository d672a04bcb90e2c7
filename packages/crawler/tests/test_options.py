"""crawl-master's options: declared from the settings table, and set only when given, so that a
project's own settings win over the add-on's defaults (docs/architecture.md, "Configuration")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scrapyfleet.crawler.defaults import DEFAULTS, TABLE
from scrapyfleet.crawler.master.options import given_settings, parser


def test_help_names_every_setting_and_the_built_in_spiders_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["--help"])
    text = capsys.readouterr().out
    for setting in TABLE:
        if setting.option is not None:
            assert setting.option in text and setting.name in text
    built_in = text[text.index("built-in demo spiders") :]
    assert all(option in built_in for option in ("--site", "--index-pages", "--shards"))


def test_only_what_is_given_becomes_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCRAPYFLEET_CRAWL_MASTER_BATCH_SIZE", raising=False)
    assert given_settings(parser().parse_args([])) == {}
    given = given_settings(parser().parse_args(["--batch-size", "150", "--no-keep-workers"]))
    assert given == {"DISTRIBUTED_BATCH_SIZE": 150, "DISTRIBUTED_KEEP_WORKERS": False}
    monkeypatch.setenv("SCRAPYFLEET_CRAWL_MASTER_BATCH_SIZE", "70")
    assert given_settings(parser().parse_args([])) == {"DISTRIBUTED_BATCH_SIZE": 70}
    assert DEFAULTS["DISTRIBUTED_BATCH_SIZE"] == 1000, "the default lives in the table alone"


def test_a_password_on_the_command_line_is_warned(tmp_path: Path) -> None:
    """A real crawl-master (refused at once: no such spider) names the variable to use instead."""
    command = [str(Path(sys.executable).with_name("crawl-master")), "--spider", "nosuch",
               "--feed-uri", "ftp://worker:s3cret@127.0.0.1:1/%(batch)s.jl",
               "--targets", "http://127.0.0.1:1"]  # fmt: skip
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "unknown spider 'nosuch'" in done.stderr
    lines = (done.stdout + done.stderr).splitlines()
    warned = [json.loads(line) for line in lines if "password_on_command_line" in line]
    assert [(w["option"], w["use"]) for w in warned] == [
        ("--feed-uri", "SCRAPYFLEET_CRAWL_MASTER_FEED_PASSWORD")
    ]
