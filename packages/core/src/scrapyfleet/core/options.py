"""Command-line options with an environment fallback: `SCRAPYFLEET_<COMMAND>_<OPTION>`.

One prefix style for every command (e.g. `SCRAPYFLEET_CRAWL_MASTER_BATCH_SIZE`,
`SCRAPYFLEET_FTPSINK_PASSIVE_PORTS`; a subcommand's options `SCRAPYFLEET_SPEEDLAB_GRID_ITEMS`);
an option given on the command line wins. A flag's variable is on when it is one of `TRUE`, a
multi-value option's holds its values separated by spaces.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar, overload

T = TypeVar("T")
TRUE = frozenset({"1", "true", "yes", "on"})  # a flag's variable, any case; anything else: off


def env_name(command: str, option: str) -> str:
    """`("crawl-master", "batch-size")` -> `SCRAPYFLEET_CRAWL_MASTER_BATCH_SIZE`."""
    return f"SCRAPYFLEET_{command}_{option}".upper().replace("-", "_")


class EnvDefaults:
    """Option defaults of one command, each overridable by its environment variable."""

    def __init__(self, command: str) -> None:
        self.command = command

    @overload
    def __call__(self, option: str, default: str) -> str: ...
    @overload
    def __call__(self, option: str, default: None = None) -> str | None: ...
    def __call__(self, option: str, default: str | None = None) -> str | None:
        """The environment's value for `option`, else `default` (as given: text or None)."""
        return os.environ.get(env_name(self.command, option), default)

    def flag(self, option: str) -> bool:
        """A flag's default: on when its variable is one of `TRUE`."""
        return bool(truthy(self(option)))

    def values(self, option: str, kind: Callable[[str], T], default: list[T]) -> list[T]:
        """A multi-value option's default: its variable's values (separated by spaces), each
        read by `kind`; a value `kind` refuses exits 2 naming the variable, as argparse would."""
        text = self(option)
        if text is None:
            return default
        found = []
        for word in text.split():
            try:
                found.append(kind(word))
            except (ValueError, argparse.ArgumentTypeError) as exc:
                why = exc if isinstance(exc, argparse.ArgumentTypeError) else (
                    f"invalid {getattr(kind, '__name__', 'value')} value: {word!r}")  # fmt: skip
                print(f"{env_name(self.command, option)}={text!r}: {why}", file=sys.stderr)
                raise SystemExit(2) from None
        return found

    def epilog(self, example: str) -> str:
        """One sentence for `--help` saying how the environment fallback works."""
        prefix = env_name(self.command, "")
        return (
            f"Every option also reads {prefix}<OPTION> (e.g. {env_name(self.command, example)}); "
            "the command line wins."
        )


class Repeated(argparse.Action):
    """A repeatable option (`action=Repeated`) whose default, from its variable, the command
    line replaces rather than extends."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        given = getattr(namespace, self.dest, None)
        items = [] if given is None or given is self.default else list(given)
        setattr(namespace, self.dest, [*items, values])


def truthy(text: str | None) -> bool | None:
    """A boolean option's environment value: yes for `TRUE` (any case), None when unset."""
    return None if text is None else text.strip().lower() in TRUE


def parse_pairs(pairs: Iterable[str], flag: str = "--setting") -> dict[str, str]:
    """`["NAME=VALUE", ...]` -> `{NAME: VALUE}`; ValueError names a malformed pair."""
    parsed = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"{flag} wants NAME=VALUE, got {pair!r}")
        parsed[name.strip()] = value
    return parsed


# -- argparse types: a ValueError reads "invalid NAME value", an ArgumentTypeError its message ----
def at_least(low: int) -> Callable[[str], int]:
    """An integer option that must be >= `low`."""

    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {text}")
        return value

    parse.__name__ = "int"
    return parse


def seconds(text: str) -> float:
    """A duration option: a finite number >= 0."""
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def port_number(text: str) -> int:
    """A TCP port option, 0 meaning any free port."""
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be within 0..65535, got {text}")
    return value
