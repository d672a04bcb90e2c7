"""`ftpsink`: run the upload-only FTP ingest server until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import structlog

from scrapyfleet.core.logs import configure_logging
from scrapyfleet.core.options import EnvDefaults
from scrapyfleet.ftpsink.config import SinkConfig, parse_port_range, parse_size, parse_user
from scrapyfleet.ftpsink.server import serve

env = EnvDefaults("ftpsink")
T = TypeVar("T")

log = structlog.get_logger("scrapyfleet.ftpsink")


def typed(parse: Callable[[str], T]) -> Callable[[str], T]:
    """Wrap a parser so argparse reports its ValueError message."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


def env_users() -> list[tuple[str, str]]:
    listed = env("users", "")
    return [parse_user(item) for item in listed.split(",") if item.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ftpsink",
        description="Upload-only FTP server: lands whole .jl feeds atomically in --root.",
        epilog=env.epilog("passive-ports") + " --user: SCRAPYFLEET_FTPSINK_USERS=NAME:PASSWORD,...",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--host", default=env("host", "127.0.0.1"), help="address to bind")
    parser.add_argument("--port", type=int, default=env("port", "2121"), help="FTP port")
    parser.add_argument(
        "--root", type=Path, default=Path(env("root", "items")), help="landing directory"
    )
    parser.add_argument(
        "--passive-ports",
        type=typed(parse_port_range),
        default=env("passive-ports", "30000-30009"),
        help="data ports for PASV/EPSV, LOW-HIGH (0: any free port); caps concurrent clients",
    )
    parser.add_argument(
        "--user",
        dest="users",
        action="append",
        type=typed(parse_user),
        default=None,
        metavar="NAME:PASSWORD",
        help="an account (repeatable); default: from SCRAPYFLEET_FTPSINK_USERS, else none",
    )
    parser.add_argument(
        "--anonymous",
        action=argparse.BooleanOptionalAction,
        default=env("anonymous", "true").lower() in ("1", "true", "yes", "on"),
        help="allow login as `anonymous` without a password",
    )
    parser.add_argument(
        "--max-file-size",
        type=typed(parse_size),
        default=env("max-file-size", "1G"),
        help="largest upload accepted, bytes or with K/M/G (0: no limit)",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=env("idle-timeout", "60"),
        help="seconds a connection may stay silent (0: forever)",
    )
    parser.add_argument(
        "--log-format", choices=("json", "console"), help="console on a TTY, JSON lines otherwise"
    )
    parser.add_argument("--log-level", default=env("log-level", "INFO"), help="log level")
    return parser


async def run(config: SinkConfig) -> None:
    """Serve until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await serve(config, stop)
    log.info("stopped")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        users = args.users if args.users is not None else env_users()
        config = SinkConfig(
            root=args.root,
            host=args.host,
            port=args.port,
            passive_ports=args.passive_ports,
            users=tuple(users),
            anonymous=args.anonymous,
            max_file_size=args.max_file_size,
            idle_timeout=args.idle_timeout,
        )
    except ValueError as exc:
        parser.error(str(exc))
    configure_logging(args.log_format, args.log_level)
    try:
        asyncio.run(run(config))
    except OSError as exc:
        log.error("failed", error=str(exc))
        return 1
    return 0
