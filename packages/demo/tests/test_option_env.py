"""Every option of every console script reads SCRAPYFLEET_<COMMAND>_<OPTION> (a subcommand's:
SCRAPYFLEET_<COMMAND>_<SUBCOMMAND>_<OPTION>), or is one of the README's stated exceptions.

Pure: each parser is built twice, without any such variable and with every one set, and each
option's default must follow its variable.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from scrapyfleet.analytics import options as boostwords
from scrapyfleet.analytics import standalone
from scrapyfleet.core.options import env_name
from scrapyfleet.crawler.master import options as crawl_master
from scrapyfleet.demo import cli as demo
from scrapyfleet.demo import cluster
from scrapyfleet.demo.speedlab import cli as speedlab
from scrapyfleet.demosite import cli as demosite
from scrapyfleet.ftpsink import cli as ftpsink
from scrapyfleet.monitor import cli as monitor

README = Path(__file__).parents[3] / "README.md"
PARSERS: dict[str, Callable[[], argparse.ArgumentParser] | None] = {
    "crawl-master": crawl_master.parser,
    "boostwords": boostwords.build_parser,
    "boostwords-cluster": standalone.build_parser,
    "demo": demo.build_parser,
    "cluster": cluster.parser,
    "speedlab": speedlab.build_parser,
    "demosite": demosite.build_parser,
    "ftpsink": ftpsink.build_parser,
    "monitor": monitor.build_parser,
    "monitor-hash-password": None,  # NAME ROLE, no options
}
# (command, option) without a variable; README.md names each, with its reason.
EXCEPTIONS = {
    ("crawl-master", "--setting"),  # repeatable NAME=VALUE; a value may hold spaces
    ("crawl-master", "--resume"),  # names one run: every later start would resume it
    ("speedlab-crawl", "--set"),  # as --setting
    ("ftpsink", "--user"),  # only refuses a password on the command line
    ("ftpsink", "--receipt-key"),  # only refuses the key on the command line
}


def options(command: str, parser: argparse.ArgumentParser) -> Iterator[tuple[str, Any]]:
    """(command, action) of every option, subcommands' included (as `command-sub`)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from options(f"{command}-{name}", sub)
        elif action.option_strings and not isinstance(action, argparse._HelpAction):
            yield command, action


def flag_of(action: argparse.Action) -> str:
    """`--name` (not `-n`, nor a BooleanOptionalAction's `--no-name`)."""
    return next(o for o in action.option_strings if o.startswith("--"))


def probe(action: argparse.Action) -> str:
    """A value of the option's variable that its default must show."""
    if action.nargs == 0:
        return "1"
    if action.choices:
        return next(str(c) for c in action.choices if c != action.default)
    return "7"


def defaults() -> dict[tuple[str, str], Any]:
    return {
        (command, flag_of(action)): action.default
        for script, build in PARSERS.items()
        if build is not None
        for command, action in options(script, build())
    }


def test_every_console_script_is_walked() -> None:
    ours = {ep.name for ep in entry_points(group="console_scripts")
            if ep.value.startswith("scrapyfleet.")}  # fmt: skip
    assert ours == set(PARSERS)


def test_every_option_reads_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("SCRAPYFLEET_")]:
        monkeypatch.delenv(name)
    actions = {
        (command, flag_of(action)): action
        for script, build in PARSERS.items()
        if build is not None
        for command, action in options(script, build())
    }
    before = {key: action.default for key, action in actions.items()}
    for (command, flag), action in actions.items():
        monkeypatch.setenv(env_name(command, flag.removeprefix("--")), probe(action))
    after = defaults()
    deaf = sorted(key for key in actions if before[key] == after[key] and key not in EXCEPTIONS)
    assert not deaf, f"options that ignore their environment variable: {deaf}"
    hearing = sorted(key for key in EXCEPTIONS if before[key] != after[key])
    assert not hearing, f"listed as exceptions but reading their variable: {hearing}"


def test_the_readme_names_every_exception() -> None:
    text = " ".join(README.read_text(encoding="utf-8").split())
    for command, flag in EXCEPTIONS:
        shown = command.replace("-crawl", " crawl") if command.startswith("speedlab") else command
        assert f"`{shown} {flag}`" in text, f"README: {shown} {flag}"
