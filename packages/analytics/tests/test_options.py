"""Command-line options, their defaults, environment equivalents and the spark-submit line."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from scrapyfleet.analytics.cli import JOB, spark_submit_command
from scrapyfleet.analytics.options import parse_args, trigger_interval


@pytest.mark.parametrize(
    ("text", "interval"),
    [
        ("1", "1000 milliseconds"),
        ("1 s", "1000 milliseconds"),
        ("0.5s", "500 milliseconds"),
        ("250ms", "250 milliseconds"),
        ("2 seconds", "2000 milliseconds"),
    ],
)
def test_trigger_interval(text: str, interval: str) -> None:
    assert trigger_interval(text) == interval


@pytest.mark.parametrize("text", ["", "fast", "0", "1 minute"])
def test_bad_trigger_interval(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        trigger_interval(text)


def test_defaults_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    args = parse_args(["items"])
    assert (args.top, args.min_count, args.master, args.trigger) == (
        5,
        5,
        "local[*]",
        "1000 milliseconds",
    )
    monkeypatch.setenv("SCRAPYFLEET_BOOSTWORDS_MIN_COUNT", "2")
    monkeypatch.setenv("SCRAPYFLEET_BOOSTWORDS_OUTPUT", "/tmp/out")
    args = parse_args(["items", "--top", "3"])
    assert (args.top, args.min_count, args.output) == (3, 2, "/tmp/out")


def test_limits_defaults_and_bounds(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse_args(["items"])
    assert (args.max_price, args.max_title_words) == (1e9, 64)
    assert parse_args(["items", "--max-price", "1e15"]).max_price == 1e15
    for bad in ("0", "-5", "inf", "nan", "1e16", "lots"):  # a cap that could overflow a sum
        with pytest.raises(SystemExit):
            parse_args(["items", "--max-price", bad])
        assert "--max-price" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["items", "--max-title-words", "0"])


def test_help_lists_every_option_with_default() -> None:
    out = subprocess.run(
        [str(Path(sys.executable).parent / "boostwords"), "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0
    for option in (
        "--checkpoint",
        "--output",
        "--trigger",
        "--top",
        "--min-count",
        "--master",
        "--available-now",
        "--max-line-bytes",
        "--max-files-per-trigger",
        "(default: local[*])",
        "(default: 1048576)",
        "(default: 5)",
        "--max-price",
        "(default: 1e9)",
        "--max-title-words",
        "(default: 64)",
    ):
        assert option in out.stdout


def test_spark_submit_command_runs_the_job_file() -> None:
    command = spark_submit_command(["items", "--master", "local[2]"])
    assert Path(command[0]).name == "spark-submit" and Path(command[0]).exists()
    assert command[command.index("--master") + 1] == "local[2]"
    assert command[command.index(str(JOB)) :] == [str(JOB), "items", "--master", "local[2]"]
