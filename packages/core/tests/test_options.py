"""The environment fallback of every command's options, and NAME=VALUE pairs."""

from __future__ import annotations

import argparse

import pytest

from scrapyfleet.core.options import EnvDefaults, Repeated, env_name, parse_pairs


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


def test_a_flag_a_multi_value_and_a_repeatable_option_read_their_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = EnvDefaults("speedlab-grid")
    assert env.flag("keep") is False and env.values("concurrency", int, [8]) == [8]
    monkeypatch.setenv("SCRAPYFLEET_SPEEDLAB_GRID_KEEP", " Yes ")
    monkeypatch.setenv("SCRAPYFLEET_SPEEDLAB_GRID_CONCURRENCY", "16  32")
    assert env.flag("keep") is True and env.values("concurrency", int, [8]) == [16, 32]
    monkeypatch.setenv("SCRAPYFLEET_SPEEDLAB_GRID_KEEP", "no")
    assert env.flag("keep") is False
    monkeypatch.setenv("SCRAPYFLEET_SPEEDLAB_GRID_CONCURRENCY", "16 many")
    with pytest.raises(SystemExit) as exited:
        env.values("concurrency", int, [8])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "SCRAPYFLEET_SPEEDLAB_GRID_CONCURRENCY='16 many': invalid int value: 'many'" in err

    p = argparse.ArgumentParser()
    p.add_argument("--hook", action=Repeated, default=["http://from-env"])
    assert p.parse_args([]).hook == ["http://from-env"]
    assert p.parse_args(["--hook", "a", "--hook", "b"]).hook == ["a", "b"], "replaced, not extended"
    assert p.get_default("hook") == ["http://from-env"], "the default list is left alone"
