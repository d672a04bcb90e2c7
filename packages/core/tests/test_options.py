"""The environment fallback of every command's options, and NAME=VALUE pairs."""

from __future__ import annotations

import pytest

from scrapyfleet.core.options import EnvDefaults, env_name, parse_pairs


def test_env_name_has_one_prefix_style() -> None:
    assert env_name("crawl-master", "batch-size") == "SCRAPYFLEET_CRAWL_MASTER_BATCH_SIZE"
    assert env_name("ftpsink", "passive_ports") == "SCRAPYFLEET_FTPSINK_PASSIVE_PORTS"


def test_environment_wins_over_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    env = EnvDefaults("demo")
    assert env("batch-size", "5000") == "5000"
    assert env("run-dir") is None
    monkeypatch.setenv("SCRAPYFLEET_DEMO_BATCH_SIZE", "7")
    assert env("batch-size", "5000") == "7"
    assert "SCRAPYFLEET_DEMO_TOTAL" in env.epilog("total")


def test_pairs_parse_and_reject_malformed_ones() -> None:
    assert parse_pairs(["A=1", "B=x=y", " C =z"]) == {"A": "1", "B": "x=y", "C": "z"}
    with pytest.raises(ValueError, match="--set wants NAME=VALUE"):
        parse_pairs(["NOVALUE"], "--set")
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_pairs(["=1"])
