"""One structlog set-up for every scrapyfleet process.

Console rendering on a TTY, JSON lines otherwise. Every event carries `event`, `level` and an
ISO-8601 UTC `timestamp`. Call `configure_logging()` once at process start-up.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

import structlog

LogFormat = Literal["json", "console"]

# Third-party loggers kept at WARNING unless the user asks for more.
NOISY_LOGGERS = ("scrapy", "twisted", "py4j", "aioftp", "aiohttp.access", "filelock")


def default_format(stream: TextIO) -> LogFormat:
    """Console on a TTY, JSON lines otherwise."""
    return "console" if stream.isatty() else "json"


def configure_logging(
    fmt: LogFormat | None = None,
    level: str | int = "INFO",
    stream: TextIO | None = None,
    quiet: tuple[str, ...] = NOISY_LOGGERS,
) -> None:
    """Configure structlog (and the stdlib root logger) for this process."""
    out = stream if stream is not None else sys.stderr
    fmt = fmt or default_format(out)
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=out.isatty())
        if fmt == "console"
        else structlog.processors.JSONRenderer()
    )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for name in quiet:
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))
