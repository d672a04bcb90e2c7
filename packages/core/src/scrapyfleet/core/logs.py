"""One structlog set-up for every scrapyfleet process.

Console rendering on a TTY, JSON lines otherwise. Every event carries `event`, `level` and an
ISO-8601 UTC `timestamp`. Call `configure_logging()` once at process start-up; `screen`
processors filter what the console shows (structlog's events and other libraries' records alike),
after `copy_to_file`'s copy has every event.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, TextIO, cast

import structlog
from structlog.typing import EventDict

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
    screen: Sequence[structlog.typing.Processor] = (),
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
        processors=[*shared, structlog.processors.format_exc_info, *screen, renderer],
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
    if screen:
        handler.addFilter(_Screen(screen))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    quiet_loggers(quiet, numeric)


class _Screen(logging.Filter):
    """The console's `screen` processors applied to a stdlib record (e.g. Scrapy's): shown
    unless one drops it."""

    def __init__(self, screen: Sequence[structlog.typing.Processor]) -> None:
        super().__init__()
        self.screen = screen

    def filter(self, record: logging.LogRecord) -> bool:
        event: EventDict = {"event": record.getMessage(), "level": record.levelname.lower(),
                            "logger": record.name}  # fmt: skip
        try:
            for processor in self.screen:
                event = cast(EventDict, processor(None, record.levelname.lower(), event))
        except structlog.DropEvent:
            return False
        return True


def copy_to_file(path: Path) -> None:
    """Write every event of this process, structlog's and stdlib's (Scrapy's), to `path` as JSON
    lines too, whatever the console's format; after `configure_logging()`."""
    stream = path.open("a", encoding="utf-8")
    processors = list(structlog.get_config()["processors"])
    # Right after the exception is formatted: before the console's filters and renderer.
    after = processors.index(structlog.processors.format_exc_info) + 1
    processors.insert(after, _JsonCopy(stream))
    structlog.configure(processors=processors)
    handler = _CopyHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.stdlib.add_logger_name,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    logging.getLogger().addHandler(handler)


class _JsonCopy:
    """A structlog processor that writes the event to a stream as a JSON line, then passes it on."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.render = structlog.processors.JSONRenderer()
        self.failed = False

    def __call__(self, logger: Any, name: str, event: EventDict) -> EventDict:
        try:
            self.stream.write(str(self.render(logger, name, dict(event))) + "\n")
            self.stream.flush()
        except OSError as exc:  # e.g. the disk is full: the console still gets every event
            if not self.failed:
                self.failed = True
                event["log_copy_failed"] = f"{getattr(self.stream, 'name', '?')}: {exc}"
        return event


class _CopyHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The stdlib side of the copy: a write that fails (disk full) is dropped, not reported
    with a traceback on the console for every line."""

    def handleError(self, record: logging.LogRecord) -> None:
        return None


def quiet_loggers(names: tuple[str, ...] = NOISY_LOGGERS, level: int = logging.INFO) -> None:
    """Keep third-party loggers at WARNING (or `level` if higher); call again after a library
    (e.g. Scrapy's `configure_logging`) has reset them."""
    for name in names:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


def route_structlog_to_stdlib() -> None:
    """In processes whose logging someone else owns (a Scrapy job under scrapyd), send structlog
    events through stdlib logging as JSON, so they land in that process's log file."""
    if structlog.is_configured():
        return
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
