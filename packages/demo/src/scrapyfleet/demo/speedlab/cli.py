"""`speedlab`: one speed crawl, the book's experiment grid, its six cases or its figure 12."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import structlog

from scrapyfleet.core.logs import configure_logging
from scrapyfleet.core.options import EnvDefaults, env_name, parse_pairs

log = structlog.get_logger(__name__)

SCENARIO_NAMES = ("cpu", "blocking", "api", "large", "items", "starved")
DEFAULT_OUT = Path("bench/out/speedlab")


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    env = EnvDefaults("speedlab")
    parser = argparse.ArgumentParser(
        prog="speedlab",
        description=__doc__,
        formatter_class=fmt,
        epilog=env.epilog("log-level") + " A subcommand's options read "
        f"{env_name('speedlab', '<COMMAND>_<OPTION>')} (e.g. "
        f"{env_name('speedlab-grid', 'items')}); not `crawl --set` (a value may hold spaces).",
    )
    parser.add_argument(
        "--log-format",
        choices=("json", "console"),
        default=env("log-format"),
        help="log rendering; none given: console on a TTY, JSON lines otherwise",
    )
    parser.add_argument("--log-level", default=env("log-level", "INFO"), help="log level")
    commands = parser.add_subparsers(dest="command", required=True)

    crawl = commands.add_parser(
        "crawl",
        formatter_class=fmt,
        help="run the speed spider here, printing the core-metrics table",
    )
    crawl.add_argument(
        "-s",
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Scrapy/SPEED_* setting (repeatable)",
    )

    for name, helptext in (
        ("grid", "T_RESPONSE x CONCURRENT_REQUESTS grid, fit and plots"),
        ("scenario", "the book's six cases with its settings, beside its figures and the model"),
        ("figure12", "the book's figure 12: UseIndex throughput against pointahead and shards"),
    ):
        sub = commands.add_parser(name, formatter_class=fmt, help=helptext)
        sub_env = EnvDefaults(f"speedlab-{name}")
        sub.add_argument(
            "--site",
            default=sub_env("site"),
            help="demo site base URL; none given: start one on a free port",
        )
        sub.add_argument(
            "--out",
            type=Path,
            default=sub_env("out", str(DEFAULT_OUT)),
            help="directory for CSV, JSON and PNG results",
        )
        if name == "grid":
            sub.add_argument("--items", type=int, default=sub_env("items", "2000"),
                             help="SPEED_TOTAL_ITEMS per run")  # fmt: skip
            values(sub, sub_env, "--t-response", float, [0.125, 0.25, 0.5],
                   "SPEED_T_RESPONSE values (s)")  # fmt: skip
            values(sub, sub_env, "--concurrency", int, [8, 16, 32, 64],
                   "CONCURRENT_REQUESTS values")  # fmt: skip
        elif name == "figure12":
            sub.add_argument("--items", type=int, default=sub_env("items", "500"),
                             help="SPEED_TOTAL_ITEMS per run")  # fmt: skip
            sub.add_argument("--t-response", type=float, default=sub_env("t-response", "0.25"),
                             help="SPEED_T_RESPONSE (s)")  # fmt: skip
            sub.add_argument("--concurrency", type=int, default=sub_env("concurrency", "64"),
                             help="CONCURRENT_REQUESTS")  # fmt: skip
            values(sub, sub_env, "--details", int, [10, 20, 30, 40],
                   "SPEED_DETAILS_PER_INDEX_PAGE values")  # fmt: skip
            values(sub, sub_env, "--values", int, [1, 2, 3, 4],
                   "SPEED_INDEX_POINTAHEAD and SPEED_INDEX_SHARDS values")  # fmt: skip
        else:
            sub.add_argument(
                "names",
                nargs="*",
                metavar="NAME",
                help=f"cases to run, of {', '.join(SCENARIO_NAMES)} ; none given: all",
            )
            sub.add_argument(
                "--fit",
                type=Path,
                default=sub_env("fit", str(DEFAULT_OUT / "fit.json")),
                help="the model's constants, as `speedlab grid` writes them; "
                "missing: the idle grid's in docs/speedlab.md",
            )
    return parser


def values(
    sub: argparse.ArgumentParser,
    env: EnvDefaults,
    flag: str,
    kind: Callable[[str], Any],
    default: list[Any],
    helptext: str,
) -> None:
    """An option taking one or more values (its variable: values separated by spaces)."""
    option = flag.removeprefix("--")
    sub.add_argument(flag, type=kind, nargs="+", default=env.values(option, kind, default),
                     help=helptext)  # fmt: skip


@contextlib.contextmanager
def site_for(url: str | None) -> Iterator[str]:
    """The given site, or a demo site started for the duration."""
    if url:
        yield url.rstrip("/")
        return
    from scrapyfleet.demo.speedlab.site import demosite

    with demosite() as started:
        yield started


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "scenario":
        unknown = sorted(set(args.names) - set(SCENARIO_NAMES))
        if unknown:
            parser.error(f"unknown scenario(s) {unknown}; choose from {list(SCENARIO_NAMES)}")
        args.names = args.names or list(SCENARIO_NAMES)
    configure_logging(args.log_format, args.log_level)
    # Experiment modules pull in matplotlib; crawl processes import only what a crawl needs.
    if args.command == "crawl":
        from scrapyfleet.demo.speedlab.crawl import crawl

        try:
            overrides = parse_pairs(args.settings, "--set")
        except ValueError as exc:
            print(f"speedlab crawl: {exc}", file=sys.stderr)
            return 2
        return crawl(overrides)
    if args.command == "scenario":
        from scrapyfleet.demo.speedlab.fit import load_fit

        try:
            fit, source = load_fit(args.fit)
        except ValueError as exc:
            print(f"speedlab scenario: {exc}", file=sys.stderr)
            return 2
        print(
            f"model: t_overhead {fit.t_overhead * 1000:.1f} ms, "
            f"t_start/stop {fit.t_start_stop:.2f} s, from {source}"
        )
    with site_for(args.site) as site:
        if args.command == "grid":
            from scrapyfleet.demo.speedlab.grid import run_grid

            rows, fit = run_grid(site, args.items, args.t_response, args.concurrency, args.out)
            print(f"{'t_resp':>7} {'CR':>4} {'N/CR':>7} {'t_job':>7} {'items/s':>8}")
            for r in rows:
                print(
                    f"{r['t_response']:>7} {r['concurrency']:>4} {r['n_over_cr']:>7} "
                    f"{r['wall']:>7.2f} {r['throughput']:>8.1f}"
                )
            print(
                f"t_overhead = {fit.t_overhead * 1000:.1f} ms (book: 6 ms), "
                f"t_start/stop = {fit.t_start_stop:.2f} s (book: 3.1 s), "
                f"rms residual {fit.rms_residual:.2f} s"
            )
        elif args.command == "figure12":
            from scrapyfleet.demo.speedlab.figure12 import run_figure12

            cells = run_figure12(
                site,
                args.items,
                args.t_response,
                args.concurrency,
                args.details,
                args.values,
                args.out,
            )
            header = ("axis", "details", "value", "t_job", "items/s", "d/load")
            print("".join(f"{h:>10}" for h in header))
            for c in cells:
                print(
                    f"{c['axis']:>10}{c['details']:>10}{c['value']:>10}{c['wall']:>10.2f}"
                    f"{c['items_per_s']:>10.1f}{c['mean_dload']:>10.1f}"
                )
        else:
            from scrapyfleet.demo.speedlab.cases import CASES
            from scrapyfleet.demo.speedlab.scenarios import run_case, start_stop_now

            start_stop = start_stop_now(site)
            print(f"t_start/stop now (a one-item crawl): {start_stop:.2f} s")
            for name in args.names:
                run_case(name, CASES[name], site, args.out, fit, start_stop)
    return 0
