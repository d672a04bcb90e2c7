"""Command-line options of the boostwords job (shared by the job and its `boostwords` wrapper)."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Sequence

from scrapyfleet.core.metrics import address
from scrapyfleet.core.options import EnvDefaults

_INTERVAL = re.compile(r"\s*(\d+(?:\.\d*)?)\s*(ms|milliseconds?|s|secs?|seconds?)?\s*")


def trigger_interval(text: str) -> str:
    """`1`, `1s`, `1 s`, `0.5 seconds`, `500ms` -> a Spark processing-time interval."""
    match = _INTERVAL.fullmatch(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a trigger interval: {text!r} (e.g. 1s, 500ms)")
    value, unit = float(match[1]), match[2] or "s"
    millis = round(value if unit.startswith("m") else value * 1000)
    if millis <= 0:
        raise argparse.ArgumentTypeError(f"trigger interval must be positive, got {text!r}")
    return f"{millis} milliseconds"


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


# A price cap at most this keeps every sum finite: a double overflows only past 1e293 such prices.
PRICE_CEILING = 1e15


def _price_cap(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= PRICE_CEILING):
        raise argparse.ArgumentTypeError(f"must be > 0 and <= {PRICE_CEILING:g}, got {text!r}")
    return value


_env = EnvDefaults("boostwords")
MAX_LINE_BYTES = 1 << 20


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="boostwords",
        description="Live price shift of every listing-title word (Spark Structured Streaming). "
        "Reads the item lines workers land (see scrapyfleet.core.contracts); bad records are "
        "counted, never in the table; a file Spark cannot read is skipped and named "
        "(files_unreadable in shifts.json).",
        epilog=_env.epilog("checkpoint"),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("items_dir", metavar="ITEMS_DIR", help="directory of .jl item files")
    parser.add_argument(
        "--checkpoint",
        default=_env("checkpoint", "boostwords-checkpoint"),
        help="checkpoint directory (keep it to restart where the job stopped)",
    )
    parser.add_argument(
        "--output",
        default=_env("output", "boostwords-output"),
        help="directory for shifts.json and progress.json",
    )
    parser.add_argument(
        "--trigger",
        type=trigger_interval,
        default=_env("trigger", "1s"),
        help="micro-batch interval, e.g. 1s or 500ms",
    )
    parser.add_argument(
        "--top",
        type=_count,
        default=_env("top", "5"),
        help="words shown at each end of the ranking",
    )
    parser.add_argument(
        "--min-count",
        type=_count,
        default=_env("min_count", "5"),
        help="rank only words in at least this many listings (shifts.json always has every word)",
    )
    parser.add_argument(
        "--master",
        default=_env("master", "local[*]"),
        help="Spark master: local[N], or spark://HOST:PORT of a standalone cluster (the driver "
        "runs here in client mode; executors must reach ITEMS_DIR and the checkpoint)",
    )
    parser.add_argument(
        "--shuffle-partitions",
        type=_positive,
        default=_env("shuffle_partitions", "1"),
        help="spark.sql.shuffle.partitions (fixed by the first run's checkpoint)",
    )
    parser.add_argument(
        "--max-line-bytes",
        type=_positive,
        default=_env("max_line_bytes", str(MAX_LINE_BYTES)),
        help="item lines longer than this (UTF-8 bytes) count as bad records, unparsed",
    )
    parser.add_argument(
        "--max-price",
        type=_price_cap,
        default=_env("max_price", "1e9"),
        help="a price above this (or not a finite number > 0) makes its record bad; at most "
        f"{PRICE_CEILING:g}, so no sum can overflow",
    )
    parser.add_argument(
        "--max-title-words",
        type=_positive,
        default=_env("max_title_words", "64"),
        help="a title of more words than this makes its record bad (no word of it is counted)",
    )
    parser.add_argument(
        "--max-files-per-trigger",
        type=_count,
        default=_env("max_files_per_trigger", "0"),
        help="read at most this many new files per micro-batch (0: all that have landed)",
    )
    parser.add_argument(
        "--available-now",
        action=argparse.BooleanOptionalAction,
        default=_env.flag("available_now"),
        help="process the files present at start-up, then exit",
    )
    parser.add_argument(
        "--metrics",
        type=address,
        default=_env("metrics"),
        help="HOST:PORT serving Prometheus metrics (listings, bad records, micro-batch and "
        "landed-to-updated seconds); none if unset",
    )
    parser.add_argument(
        "--log-format",
        choices=("json", "console"),
        default=_env("log_format"),
        help="log rendering (default: console on a TTY, JSON lines otherwise)",
    )
    parser.add_argument("--log-level", default=_env("log_level", "INFO"), help="log level")
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    return build_parser().parse_args(argv)
