"""`demosite`: serve the properties site and the benchmark site until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Callable, Sequence
from pathlib import Path

import structlog
from aiohttp import web

from scrapyfleet.core.logs import configure_logging
from scrapyfleet.core.options import EnvDefaults, at_least, env_name, port_number, seconds
from scrapyfleet.demosite.catalog import Catalog
from scrapyfleet.demosite.site import make_app

log = structlog.get_logger("scrapyfleet.demosite")
ENV = EnvDefaults("demosite")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="demosite",
        description="Serve the offline property site (/properties/...) and the book's benchmark "
        "site (/benchmark/...).",
        epilog=ENV.epilog("latency"),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )

    def option(name: str, default: str, kind: Callable[[str], object], text: str) -> None:
        parser.add_argument(
            f"--{name}",
            default=ENV(name, default),
            type=kind,
            help=f"{text} (env {env_name(ENV.command, name)})",
        )

    option("host", "127.0.0.1", str, "address to listen on")
    option("port", "9312", port_number, "TCP port to listen on (0: any free port)")
    option("total", "50000", at_least(1), "number of property listings")
    option("latency", "0.25", seconds, "seconds to wait before each properties page")
    option("seed", "0", int, "seed of the generated listings")
    parser.add_argument(
        "--faults",
        type=Path,
        default=ENV("faults"),
        help="JSON fault plan: paths that answer 5xx/4xx, drop the connection or hang, for a "
        "count of requests or a time (read again when it changes; see scrapyfleet.demosite."
        f"faults) (env {env_name(ENV.command, 'faults')})",
    )
    return parser


async def serve(
    host: str, port: int, catalog: Catalog, latency: float, faults: Path | None = None
) -> int:
    """Serve until SIGINT or SIGTERM; 0 on a clean stop, 1 if the port cannot be bound."""
    runner = web.AppRunner(make_app(catalog, latency, faults), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as e:
        log.error("bind_failed", host=host, port=port, reason=str(e))
        await runner.cleanup()
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    bound_port = runner.addresses[0][1]
    log.info(
        "listening",
        host=host,
        port=bound_port,
        total=catalog.total,
        latency=latency,
        seed=catalog.seed,
    )
    await stop.wait()
    log.info("stopping", host=host, port=bound_port)
    await runner.cleanup()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging()
    catalog = Catalog(args.total, args.seed)
    return asyncio.run(serve(args.host, args.port, catalog, args.latency, args.faults))
