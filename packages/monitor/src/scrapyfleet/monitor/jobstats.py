"""A scrapyd job's stats from its log, as Scrapy itself wrote them: the stats dict it dumps at
close (`Dumping Scrapy stats:`) and the periodic LogStats lines (`Crawled N pages ..., scraped
M items ...`) as a series over time. The log comes from the node's `logs/` (its last LOG_TAIL
bytes, with the node's credentials)."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from typing import Any

import aiohttp

from scrapyfleet.core.credentials import auth_header
from scrapyfleet.core.targets import Target

LOG_TAIL = 4 * 1024 * 1024  # bytes of a job's log read at most (its end)
STAMP = r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)"
DUMP = re.compile(r"Dumping Scrapy stats:\s*\n(\{.*?\})\s*(?=\n\d{4}-\d\d-\d\d |\Z)", re.S)
LOGSTATS = re.compile(STAMP + r".*?Crawled (\d+) pages \(at \d+ pages/min\), scraped (\d+) items")
DATETIME = re.compile(r"datetime\.datetime\([^)]*\)")
STATUS = "downloader/response_status_count/"


class JobStatsError(Exception):
    """The job's stats could not be read; the message says why."""


def _time(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()


def parse_log(text: str) -> dict[str, Any]:
    """The figures of a Scrapy log: closing stats (None while the job runs) and the series."""
    series = [
        {"t": _time(m[1]), "pages": int(m[2]), "items": int(m[3])} for m in LOGSTATS.finditer(text)
    ]
    dumped = DUMP.findall(text)
    stats: dict[str, Any] | None = None
    if dumped:
        try:
            found = ast.literal_eval(DATETIME.sub("None", dumped[-1]))
        except (ValueError, SyntaxError, RecursionError, MemoryError):
            found = None
        stats = found if isinstance(found, dict) else None
    summary = None
    if stats is not None:
        summary = {
            "pages": stats.get("response_received_count", 0),
            "items": stats.get("item_scraped_count", 0),
            "errors": stats.get("log_count/ERROR", 0),
            "retries": stats.get("retry/count", 0),
            "status_codes": {
                k.removeprefix(STATUS): v for k, v in stats.items() if k.startswith(STATUS)
            },
            "finish_reason": stats.get("finish_reason"),
            "elapsed_seconds": stats.get("elapsed_time_seconds"),
        }
    return {"summary": summary, "stats": stats, "series": series}


async def _tail(
    session: aiohttp.ClientSession,
    url: str,
    login: dict[str, str],
    limits: aiohttp.ClientTimeout,
    node: str,
) -> str:
    """The log's last LOG_TAIL bytes: the whole log, or the byte range of its end when longer
    (an explicit range: scrapyd's file server fails suffix ranges longer than the file)."""
    headers = login
    for _ in range(2):
        async with session.get(url, timeout=limits, headers=headers) as response:
            if response.status not in (200, 206):
                raise JobStatsError(f"{node} answered HTTP {response.status} for the log")
            size = response.content_length or 0
            if response.status == 200 and size > LOG_TAIL:
                headers = login | {"Range": f"bytes={size - LOG_TAIL}-"}
                continue
            return (await response.content.read(LOG_TAIL)).decode("utf-8", errors="replace")
    raise JobStatsError(f"{node} did not serve the end of the log")


async def job_stats(
    target: Target,
    session: aiohttp.ClientSession,
    limit: float,
    project: str,
    spider: str,
    job: str,
) -> dict[str, Any]:
    """Fetch the job's log from its node (within `limit` seconds) and parse it; JobStatsError
    says why not."""
    url = f"{target.url}/logs/{project}/{spider}/{job}.log"
    limits = aiohttp.ClientTimeout(total=limit)
    try:
        text = await _tail(session, url, auth_header(target), limits, target.name)
    except aiohttp.ClientConnectorError:
        raise JobStatsError(f"{target.name} is not answering") from None
    except TimeoutError:
        raise JobStatsError(f"{target.name} did not answer within {limit}s") from None
    except aiohttp.ClientError as e:
        raise JobStatsError(f"{target.name}: {type(e).__name__}") from None
    return parse_log(text)
