"""What the console shows besides the nodes: the crawl, the ingest and the analysis.

Each source is read only from where an option points (never guessed), once per poll, and every
read ends in a `Reading`: a value, or why there is none ("not configured" or a reason).

crawl-master's metrics (`--crawl-metrics URL`, Prometheus text) the console reads:

| name | type | labels | meaning |
|---|---|---|---|
| `scrapyfleet_crawl_batches` | gauge | `state` = queued, running, done, failed | batches |
| `scrapyfleet_crawl_urls` | gauge | `outcome` = landed, gone, no_item, failed, pending | URLs |
| `scrapyfleet_crawl_pages_total` | counter | | pages the workers fetched |
| `scrapyfleet_crawl_items_total` | counter | | items the workers exported |
| `scrapyfleet_crawl_attempts_total` | counter | | batch attempts scheduled |
| `scrapyfleet_crawl_retries_total` | counter | | attempts after a first one |
| `scrapyfleet_crawl_nodes` | gauge | `state` = usable, set_aside | nodes |
| `scrapyfleet_crawl_started_timestamp_seconds` | gauge | | the run's start (Unix time) |
| `scrapyfleet_crawl_finished` | gauge | `outcome` = ok, failed | 1 on the outcome at the end |
| `scrapyfleet_crawl_sites_down` | gauge | | sites held fleet-wide (site_down / site_up) |

ftpsink's (`--ftpsink-metrics URL`): `scrapyfleet_ftpsink_uploads_total{outcome=landed|refused|
aborted}` and `scrapyfleet_ftpsink_bytes_total` (bytes landed). `--items DIR` counts the landed
`.jl` files there instead (or as well). `--analytics-output DIR` holds the Spark job's
`shifts.json` and `progress.json` (`scrapyfleet.core.contracts`).

Nothing read is trusted: a metrics page is read up to MAX_METRICS bytes and parsed off the event
loop; a file up to `httpread.MAX_ANSWER` bytes, as JSON nested at most `safejson.MAX_DEPTH` deep,
its non-finite numbers (`NaN`, `Infinity`) read as missing and counted (`Analysis.non_finite`).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from scrapyfleet.core import safejson
from scrapyfleet.core.contracts import (
    PROGRESS_FILE,
    SHIFTS_FILE,
    ProgressEntry,
    ShiftsDocument,
    landing_name_problem,
)
from scrapyfleet.core.httpread import MAX_ANSWER, AnswerTooLarge, read_capped, size

T = TypeVar("T")
NOT_CONFIGURED = "not configured"
LANDED_SUFFIX = ".jl"
MAX_METRICS = 2**20  # bytes of a metrics page (crawl-master's and ftpsink's are a few KiB)
Labels = dict[str, str]
Samples = dict[str, list[tuple[Labels, float]]]  # sample name -> (labels, value) of each sample


class SourceError(Exception):
    """A source could not be read; the message says why in a few words."""


@dataclass(frozen=True, slots=True)
class Reading(Generic[T]):
    """One read of one source: `value`, or `problem` saying why there is none."""

    value: T | None = None
    problem: str | None = None

    @property
    def state(self) -> str:
        """ "ok", "off" (not configured) or "failed"."""
        if self.value is not None:
            return "ok"
        return "off" if self.problem == NOT_CONFIGURED else "failed"


@dataclass(frozen=True, slots=True)
class Crawl:
    """crawl-master's figures, as its metrics said them."""

    batches: dict[str, float]
    urls: dict[str, float]
    pages: float | None
    items: float | None
    attempts: float | None
    retries: float | None
    nodes: dict[str, float]
    started: float | None  # Unix time
    outcome: str | None  # None while the run goes on; "ok", "failed" (or "unknown") once ended
    sites_down: float | None = None  # sites whose circuit is open (crawl-master's site health)


@dataclass(frozen=True, slots=True)
class Uploads:
    """ftpsink's upload counts by outcome and the bytes it landed."""

    uploads: dict[str, float]
    bytes: float | None


@dataclass(frozen=True, slots=True)
class Landed:
    """The landed `.jl` files of an items directory."""

    files: int
    bytes: int


@dataclass(frozen=True, slots=True)
class Analysis:
    """The Spark job's latest output; `non_finite`: how many numbers in it were not finite."""

    shifts: ShiftsDocument
    progress: list[ProgressEntry]
    non_finite: int = 0


@dataclass(frozen=True, slots=True)
class Readings:
    """Every source, read once."""

    crawl: Reading[Crawl] = field(default_factory=lambda: Reading(problem=NOT_CONFIGURED))
    ftpsink: Reading[Uploads] = field(default_factory=lambda: Reading(problem=NOT_CONFIGURED))
    items: Reading[Landed] = field(default_factory=lambda: Reading(problem=NOT_CONFIGURED))
    analysis: Reading[Analysis] = field(default_factory=lambda: Reading(problem=NOT_CONFIGURED))


def parse_samples(text: str) -> Samples:
    """Prometheus text -> samples by name; SourceError if it does not parse."""
    samples: Samples = {}
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    except ValueError as e:
        raise SourceError(f"not Prometheus text: {e}") from None
    return samples


def _one(samples: Samples, name: str) -> float | None:
    values = samples.get(name)
    return values[0][1] if values else None


def _by(samples: Samples, name: str, label: str) -> dict[str, float]:
    return {labels[label]: value for labels, value in samples.get(name, []) if label in labels}


def crawl_from(samples: Samples) -> Crawl:
    """crawl-master's figures from its samples (module docstring); absent ones are None/empty."""
    ended = [
        (labels.get("outcome"), v) for labels, v in samples.get("scrapyfleet_crawl_finished", [])
    ]
    outcome = next((o or "unknown" for o, v in ended if v >= 1), None)
    return Crawl(
        batches=_by(samples, "scrapyfleet_crawl_batches", "state"),
        urls=_by(samples, "scrapyfleet_crawl_urls", "outcome"),
        pages=_one(samples, "scrapyfleet_crawl_pages_total"),
        items=_one(samples, "scrapyfleet_crawl_items_total"),
        attempts=_one(samples, "scrapyfleet_crawl_attempts_total"),
        retries=_one(samples, "scrapyfleet_crawl_retries_total"),
        nodes=_by(samples, "scrapyfleet_crawl_nodes", "state"),
        started=_one(samples, "scrapyfleet_crawl_started_timestamp_seconds"),
        outcome=outcome,
        sites_down=_one(samples, "scrapyfleet_crawl_sites_down"),
    )


def uploads_from(samples: Samples) -> Uploads:
    """ftpsink's figures from its samples."""
    return Uploads(
        uploads=_by(samples, "scrapyfleet_ftpsink_uploads_total", "outcome"),
        bytes=_one(samples, "scrapyfleet_ftpsink_bytes_total"),
    )


def scan_landed(folder: Path) -> Landed:
    """Count the landed `.jl` files directly in `folder` (names Spark reads) and their bytes."""
    files = size = 0
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if not entry.name.endswith(LANDED_SUFFIX) or landing_name_problem(entry.name):
                    continue
                try:
                    if entry.is_file(follow_symlinks=False):
                        size += entry.stat(follow_symlinks=False).st_size
                        files += 1
                except FileNotFoundError:
                    continue
    except OSError as e:
        raise SourceError(f"{folder}: {e.strerror or e}") from None
    return Landed(files, size)


def _load_json(path: Path, non_finite: list[str]) -> Any:
    try:
        with path.open("rb") as f:  # a file too large is not read at all
            fits = os.fstat(f.fileno()).st_size <= MAX_ANSWER
            data = f.read(MAX_ANSWER + 1) if fits else b""
    except FileNotFoundError:
        raise SourceError(f"no {path.name} yet") from None
    except OSError as e:
        raise SourceError(f"{path.name}: {e.strerror or e}") from None
    if not fits or len(data) > MAX_ANSWER:
        raise SourceError(f"{path.name} is over {size(MAX_ANSWER)}")
    try:
        return safejson.loads(data, non_finite=non_finite.append)
    except safejson.JSONRefused as e:
        raise SourceError(f"{path.name}: {e.reason}") from None


def read_analysis(folder: Path) -> Analysis:
    """`shifts.json` and `progress.json` of the analytics output (both written atomically)."""
    non_finite: list[str] = []
    shifts = _load_json(folder / SHIFTS_FILE, non_finite)
    words = shifts.get("words") if isinstance(shifts, dict) else None
    if not isinstance(words, list) or not all(
        isinstance(w, dict) and isinstance(w.get("word"), str) for w in words
    ):
        raise SourceError(f"{SHIFTS_FILE} has no list of words")
    try:
        progress = _load_json(folder / PROGRESS_FILE, non_finite)
    except SourceError:
        progress = []  # the chart waits for it; the words do not
    entries = (
        [p for p in progress if isinstance(p, dict) and isinstance(p.get("listings"), int)]
        if isinstance(progress, list)
        else []
    )
    return Analysis(shifts, entries, len(non_finite))  # type: ignore[arg-type]


async def _guard(read: Any) -> Reading[Any]:
    try:
        return Reading(await read)
    except SourceError as e:
        return Reading(problem=str(e))


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """Where each source is: URLs of metrics endpoints, directories; None = not configured."""

    crawl_metrics: str | None = None
    ftpsink_metrics: str | None = None
    items: Path | None = None
    analytics_output: Path | None = None


class Sources:
    """Reads every configured source concurrently, each bounded by `timeout` seconds."""

    def __init__(
        self, options: SourceOptions, session: aiohttp.ClientSession, timeout: float
    ) -> None:
        self.options = options
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._timeout_s = timeout

    async def scrape(self, url: str) -> Samples:
        """GET a Prometheus endpoint and parse it; SourceError says why it failed."""
        try:
            async with self._session.get(url, timeout=self._timeout) as response:
                if response.status != 200:
                    raise SourceError(f"HTTP {response.status}")
                body = await read_capped(response, MAX_METRICS)
        except AnswerTooLarge as e:
            raise SourceError(str(e)) from None
        except aiohttp.ClientConnectorError:
            raise SourceError("not answering: cannot connect") from None
        except TimeoutError:
            raise SourceError(f"not answering: timeout after {self._timeout_s}s") from None
        except aiohttp.ClientError as e:
            raise SourceError(f"{type(e).__name__}: {e}") from None
        return await asyncio.to_thread(parse_samples, body.decode("utf-8", errors="replace"))

    async def _crawl(self, url: str) -> Crawl:
        return crawl_from(await self.scrape(url))

    async def _uploads(self, url: str) -> Uploads:
        return uploads_from(await self.scrape(url))

    async def read(self) -> Readings:
        """One reading of every source; the unconfigured ones say so."""
        o = self.options
        off: Reading[Any] = Reading(problem=NOT_CONFIGURED)

        async def nothing() -> Reading[Any]:
            return off

        crawl, ftpsink, items, analysis = await asyncio.gather(
            _guard(self._crawl(o.crawl_metrics)) if o.crawl_metrics else nothing(),
            _guard(self._uploads(o.ftpsink_metrics)) if o.ftpsink_metrics else nothing(),
            _guard(asyncio.to_thread(scan_landed, o.items)) if o.items else nothing(),
            _guard(asyncio.to_thread(read_analysis, o.analytics_output))
            if o.analytics_output
            else nothing(),
        )
        return Readings(crawl, ftpsink, items, analysis)
