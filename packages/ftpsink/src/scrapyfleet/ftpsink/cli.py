"""`ftpsink`: run the upload-only FTP ingest server until SIGINT/SIGTERM;
`ftpsink hash-password [NAME]`: print a salted hash for a users file."""

from __future__ import annotations

import argparse
import asyncio
import signal
import ssl
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import structlog

from scrapyfleet.core import passwords, receipts
from scrapyfleet.core.logs import configure_logging
from scrapyfleet.core.metrics import Address, address
from scrapyfleet.core.options import EnvDefaults, at_least, port_number, seconds, truthy
from scrapyfleet.ftpsink import accounts, tls
from scrapyfleet.ftpsink.config import (
    SinkConfig,
    TlsFiles,
    format_port_range,
    format_size,
    parse_free_space,
    parse_port_range,
    parse_size,
)
from scrapyfleet.ftpsink.server import serve

env = EnvDefaults("ftpsink")
DEFAULT = SinkConfig()  # the defaults, stated once in config.py
T = TypeVar("T")

log = structlog.get_logger("scrapyfleet.ftpsink")

EPILOG = (
    " Accounts come from --users-file and SCRAPYFLEET_FTPSINK_USERS=NAME:SECRET,... (never from"
    " the command line, where every local user could read them); a SECRET is a hash from"
    " `ftpsink hash-password NAME` (or a plain password, tolerated with a warning)."
    " Anonymous upload: only without accounts, and then on a loopback --host or with --anonymous."
    " Landing receipts: with a key from --receipt-key-file or SCRAPYFLEET_FTPSINK_RECEIPT_KEY"
    " (never the command line), every 226 ends `receipt v1 name=N bytes=B lines=L hmac=HEX`"
    " (HMAC-SHA256, scrapyfleet.core.receipts) for the crawl-master to check; without a key,"
    " no receipt (logged as receipts_off)."
)


def typed(parse: Callable[[str], T]) -> Callable[[str], T]:
    """Wrap a parser so argparse reports its ValueError message."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except where there is none."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        return action.help if action.default is None else super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ftpsink",
        description="Upload-only FTP(S) server: lands whole .jl feeds atomically in --root, "
        "under names the analytics reads.",
        epilog=env.epilog("passive-ports") + EPILOG,
        formatter_class=HelpFormatter,
    )
    add = parser.add_argument
    add("--host", default=env("host", DEFAULT.host), help="address to bind")
    add("--port", type=port_number, default=env("port", str(DEFAULT.port)), help="FTP port")
    add("--root", type=Path, default=Path(env("root", str(DEFAULT.root))),
        help="landing directory (files land directly in it)")  # fmt: skip
    add("--passive-ports", type=typed(parse_port_range),
        default=env("passive-ports", format_port_range(DEFAULT.passive_ports)),
        help="data ports for PASV/EPSV, LOW-HIGH (0: any free port); each is held by one "
        "transfer from PASV until its data connection arrives")  # fmt: skip
    add("--accept-timeout", type=seconds,
        default=env("accept-timeout", str(DEFAULT.accept_timeout)),
        help="seconds a passive port waits for its data connection before it is freed")  # fmt: skip
    add("--port-wait", type=seconds, default=env("port-wait", str(DEFAULT.port_wait)),
        help="seconds a PASV waits for a free passive port (then 421)")  # fmt: skip
    add("--users-file", type=Path, default=env("users-file"),
        help="accounts, one NAME:SECRET a line (# comments)")  # fmt: skip
    add("--user", metavar="NAME:PASSWORD",
        help="not accepted: a password on the command line is visible to every local user "
        "(ps); use --users-file or SCRAPYFLEET_FTPSINK_USERS")  # fmt: skip
    add("--anonymous", action=argparse.BooleanOptionalAction, default=truthy(env("anonymous")),
        help="allow login as `anonymous` without a password (default: on a loopback --host "
        "without accounts; never with accounts)")  # fmt: skip
    add("--max-connections", type=at_least(1),
        default=env("max-connections", str(DEFAULT.max_connections)),
        help="control connections in total; more get 421")  # fmt: skip
    add("--max-connections-per-address", type=at_least(1),
        default=env("max-connections-per-address", str(DEFAULT.max_connections_per_address)),
        help="control connections from one client address; more get 421")  # fmt: skip
    add("--login-delay", type=seconds, default=env("login-delay", str(DEFAULT.login_delay)),
        help="seconds before answering a failed login, doubling with each failure from the "
        "client's address (counted across connections)")  # fmt: skip
    add("--max-login-failures", type=at_least(1),
        default=env("max-login-failures", str(DEFAULT.max_login_failures)),
        help="failed logins before the connection is closed")  # fmt: skip
    add("--ban-after", type=at_least(1), default=env("ban-after", str(DEFAULT.ban_after)),
        help="failed logins from one address (across connections) before it is banned: every "
        "connection from it gets 421")  # fmt: skip
    add("--ban-time", type=seconds, default=env("ban-time", f"{DEFAULT.ban_time:g}"),
        help="seconds of an address's first ban, doubling with each further ban (at most a "
        "day); its failures are forgotten this long after the last one")  # fmt: skip
    add("--login-timeout", type=seconds,
        default=env("login-timeout", f"{DEFAULT.login_timeout:g}"),
        help="seconds a connection has to log in before it is closed (421; 0: never)")  # fmt: skip
    add("--tls-cert", type=Path, default=env("tls-cert"),
        help="PEM certificate chain: enables explicit FTPS (AUTH TLS, PBSZ 0, PROT P)")  # fmt: skip
    add("--tls-key", type=Path, default=env("tls-key"), help="PEM private key of --tls-cert")
    add("--require-tls", action=argparse.BooleanOptionalAction,
        default=truthy(env("require-tls")) or DEFAULT.require_tls,
        help="refuse logins on a plain control connection and uploads without PROT P")  # fmt: skip
    add("--min-free", type=typed(parse_free_space), default=env("min-free", str(DEFAULT.min_free)),
        help="free space to keep on the landing file system, a size (512M, 1G) or a percentage "
        "(5%%); uploads are refused (452) below it")  # fmt: skip
    add("--max-file-size", type=typed(parse_size),
        default=env("max-file-size", format_size(DEFAULT.max_file_size)),
        help="largest upload accepted, bytes or with K/M/G (0: no limit)")  # fmt: skip
    add(
        "--idle-timeout", type=seconds, default=env("idle-timeout", f"{DEFAULT.idle_timeout:g}"),
        help="seconds a control connection may stay silent, uploads aside (0: no limit)"
    )  # fmt: skip
    add("--stall-timeout", type=seconds,
        default=env("stall-timeout", f"{DEFAULT.stall_timeout:g}"),
        help="an upload must bring --min-rate bytes a second (and at least one byte) in every "
        "span of this many seconds, or it is cut (426, nothing lands; 0: never)")  # fmt: skip
    add("--min-rate", type=typed(parse_size),
        default=env("min-rate", format_size(DEFAULT.min_rate)),
        help="bytes a second (or K, M) an upload must average over --stall-timeout")  # fmt: skip
    add("--receipt-key-file", type=Path, default=env("receipt-key-file"),
        help="file holding the key shared with crawl-master (at least 16 bytes of text); 226 "
        "replies then carry a signed landing receipt")  # fmt: skip
    add("--receipt-key", metavar="KEY",
        help="not accepted: a key on the command line is visible to every local user (ps); "
        "use --receipt-key-file or SCRAPYFLEET_FTPSINK_RECEIPT_KEY")  # fmt: skip
    add("--metrics", type=address, default=env("metrics"),
        help="HOST:PORT serving Prometheus metrics (uploads, bytes, connections); none if unset; "
        "no authentication, so keep it on loopback or a trusted network")  # fmt: skip
    add("--log-format", choices=("json", "console"), default=env("log-format"),
        help="console on a TTY, JSON lines otherwise")  # fmt: skip
    add("--log-level", default=env("log-level", "INFO"), help="log level")
    return parser


def config_from(args: argparse.Namespace) -> SinkConfig:
    """The server's settings; a ValueError says what is wrong."""
    if args.user is not None:
        raise ValueError(
            "--user is not accepted: a password on the command line is visible to every local "
            "user (ps, /proc); put accounts in --users-file or SCRAPYFLEET_FTPSINK_USERS"
        )
    try:
        users = accounts.read_users_file(args.users_file) if args.users_file else []
    except OSError as exc:
        raise ValueError(f"cannot read --users-file: {exc}") from None
    users += accounts.parse_accounts(env("users", ""))
    names = [name for name, _ in users]
    if len(set(names)) != len(names):
        raise ValueError("an account name is listed twice (users file and environment)")
    if (args.tls_cert is None) != (args.tls_key is None):
        raise ValueError("--tls-cert and --tls-key go together")
    files = TlsFiles(args.tls_cert, args.tls_key) if args.tls_cert else None
    receipt_key = receipt_key_from(args)
    config = SinkConfig(
        root=args.root, host=args.host, port=args.port, passive_ports=args.passive_ports,
        accept_timeout=args.accept_timeout, port_wait=args.port_wait, users=tuple(users),
        anonymous=args.anonymous, max_connections=args.max_connections,
        max_connections_per_address=args.max_connections_per_address,
        login_delay=args.login_delay, max_login_failures=args.max_login_failures, tls=files,
        require_tls=args.require_tls, min_free=args.min_free, max_file_size=args.max_file_size,
        idle_timeout=args.idle_timeout, ban_after=args.ban_after, ban_time=args.ban_time,
        login_timeout=args.login_timeout, stall_timeout=args.stall_timeout,
        min_rate=args.min_rate, receipt_key=receipt_key,
    )  # fmt: skip
    if files is not None:
        try:
            tls.server_context(files)  # unreadable or mismatched files fail here, before binding
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(
                f"cannot load --tls-cert {files.cert} / --tls-key {files.key}: {exc}"
            ) from None
    return config


def receipt_key_from(args: argparse.Namespace) -> bytes | None:
    """The landing-receipt key from --receipt-key-file or the environment, None if neither."""
    if args.receipt_key is not None:
        raise ValueError(
            "--receipt-key is not accepted: a key on the command line is visible to every local "
            "user (ps, /proc); use --receipt-key-file or SCRAPYFLEET_FTPSINK_RECEIPT_KEY"
        )
    text = env("receipt-key")
    if text is not None and args.receipt_key_file is not None:
        raise ValueError("give the receipt key once: --receipt-key-file or the environment")
    try:
        if args.receipt_key_file is not None:
            return receipts.read_key_file(args.receipt_key_file)
        return None if text is None else receipts.key_from_text(text)
    except OSError as exc:
        raise ValueError(f"cannot read --receipt-key-file: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"receipt key: {exc}") from None


async def run(config: SinkConfig, metrics: Address | None) -> None:
    """Serve until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await serve(config, stop, metrics)
    log.info("stopped")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["hash-password"]:
        return accounts.main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from(args)
    except ValueError as exc:
        parser.error(str(exc))
    configure_logging(args.log_format, args.log_level)
    plain = [name for name, secret in config.users if not passwords.is_hash(secret)]
    if plain:
        log.warning("plain_passwords", accounts=plain, hint="ftpsink hash-password NAME")
    key_file = args.receipt_key_file
    if key_file is not None and (mode := key_file.stat().st_mode & 0o777) & 0o077:
        log.warning("receipt_key_exposed", path=str(key_file), mode=oct(mode),
                    hint=f"chmod 600 {key_file}")  # fmt: skip
    try:
        asyncio.run(run(config, args.metrics))
    except OSError as exc:
        log.error("failed", error=str(exc))
        return 1
    return 0
