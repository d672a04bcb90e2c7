"""Passwords on the command line: every local user reads a process's arguments (`ps`, /proc).

URL options take `user:pass@` (basic auth, an FTP login), and a password there is exposed; each
such option gets one warning naming the environment variable that keeps it off the command line
(a process's environment is readable by its own user only). The monitor and crawl-master use it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

import structlog

from scrapyfleet.core.options import env_name

TARGETS_ALTERNATIVE = (
    " (URLs separated by spaces), or username/password in a scrapy.cfg only you can read"
)


def _password(text: str) -> bool:
    try:
        return bool(urlsplit(text).password)
    except ValueError:  # not a URL argparse would have kept; nothing to warn about
        return False


def _option(token: str, options: Sequence[str]) -> str | None:
    """The URL option a `--name` token stands for (argparse takes unique prefixes), if any."""
    name = token[2:]
    return next((o for o in options if name and o.startswith(name)), None)


def inline_passwords(argv: Sequence[str], options: Sequence[str]) -> list[str]:
    """The URL `options` whose values in `argv` carry a password, in order."""
    found: dict[str, None] = {}
    option = None
    for token in argv:
        if token.startswith("-"):
            name, inline, value = token.partition("=")
            option = _option(name, options) if name.startswith("--") else None
            if not inline:
                continue
            token = value
        if option and _password(token):
            found[option] = None
    return list(found)


def warn_inline_passwords(
    argv: Sequence[str],
    command: str,
    options: Sequence[str],
    instead: Mapping[str, str] | None = None,
) -> None:
    """Log `password_on_command_line` for each URL option of `argv` that carries a password;
    `instead` names a variable other than the option's own `SCRAPYFLEET_<COMMAND>_<OPTION>`."""
    log = structlog.get_logger(f"scrapyfleet.{command}")
    for option in inline_passwords(argv, options):
        variable = (instead or {}).get(option) or env_name(command, option)
        log.warning(
            "password_on_command_line",
            option=f"--{option}",
            use=variable,
            why=f"every local user can read --{option} in ps; set {variable} instead"
            + (TARGETS_ALTERNATIVE if option == "targets" else ""),
        )
