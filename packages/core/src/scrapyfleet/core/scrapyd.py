"""Async client for scrapyd's JSON API: every call bounded, every failure a ScrapydError.

Bounded in time (`timeout`), in size (`httpread.MAX_ANSWER`) and in depth (`safejson.MAX_DEPTH`):
a node answering 200 MB or deeply nested JSON fails the call with the reason, like any other
broken answer, and the caller's memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp

from scrapyfleet.core import safejson
from scrapyfleet.core.credentials import auth_header
from scrapyfleet.core.httpread import MAX_ANSWER, AnswerTooLarge, read_capped
from scrapyfleet.core.targets import Target

T = TypeVar("T")
JobState = str  # "pending" | "running" | "finished"
STATES: tuple[JobState, ...] = ("pending", "running", "finished")
# schedule.json parameters that are not spider arguments.
RESERVED_PARAMS = frozenset({"project", "spider", "jobid", "setting", "_version", "priority"})


class ScrapydError(Exception):
    """A scrapyd call failed; `reason` says why in a few words."""

    def __init__(self, reason: str, endpoint: str | None = None, rejected: bool = False) -> None:
        self.reason = reason
        self.endpoint = endpoint
        self.rejected = rejected  # the node answered and refused (status "error"): it is up
        super().__init__(f"{endpoint}: {reason}" if endpoint else reason)


@dataclass(frozen=True, slots=True)
class DaemonStatus:
    node_name: str
    pending: int
    running: int
    finished: int


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    spider: str
    state: JobState
    project: str | None = None
    pid: int | None = None
    start_time: str | None = None
    end_time: str | None = None
    log_url: str | None = None
    items_url: str | None = None


@dataclass(frozen=True, slots=True)
class JobList:
    pending: list[Job]
    running: list[Job]
    finished: list[Job]

    def by_id(self) -> dict[str, Job]:
        """Every job by id; a later state wins if scrapyd lists an id twice."""
        return {job.id: job for job in (*self.pending, *self.running, *self.finished)}


def _field(data: Mapping[str, Any], key: str, kind: type[T], endpoint: str) -> T:
    value = data.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ScrapydError(f"unexpected response: no {kind.__name__} {key!r}", endpoint)
    return value


def _optional(data: Mapping[str, Any], key: str, kind: type[T]) -> T | None:
    value = data.get(key)
    return value if isinstance(value, kind) else None


def _job(data: Any, state: JobState, endpoint: str) -> Job:
    if not isinstance(data, dict):
        raise ScrapydError("unexpected response: job is not an object", endpoint)
    return Job(
        id=_field(data, "id", str, endpoint),
        spider=_field(data, "spider", str, endpoint),
        state=state,
        project=_optional(data, "project", str),
        pid=_optional(data, "pid", int),
        start_time=_optional(data, "start_time", str),
        end_time=_optional(data, "end_time", str),
        log_url=_optional(data, "log_url", str),
        items_url=_optional(data, "items_url", str),
    )


def _connect_reason(error: aiohttp.ClientConnectorError) -> str:
    if isinstance(error.os_error, ConnectionRefusedError):
        return "connection refused"
    return f"cannot connect: {error.os_error.strerror or error.os_error}"


class ScrapydClient:
    """One scrapyd node's API. The caller owns the aiohttp session."""

    def __init__(
        self,
        target: Target,
        session: aiohttp.ClientSession,
        timeout: float = 5.0,
        max_answer: int = MAX_ANSWER,
    ) -> None:
        self.target = target
        self._max_answer = max_answer
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._timeout_s = timeout
        self._headers = auth_header(target)

    async def _call(
        self,
        method: str,
        endpoint: str,
        *,
        params: Mapping[str, str] | None = None,
        data: Any = None,
    ) -> dict[str, Any]:
        """One request; the decoded JSON object of a `status: ok` answer."""
        url = f"{self.target.url}/{endpoint}"
        try:
            async with self._session.request(
                method, url, params=params, data=data, headers=self._headers, timeout=self._timeout
            ) as response:
                status = response.status
                body = await read_capped(response, self._max_answer) if status == 200 else b""
        except AnswerTooLarge as e:
            raise ScrapydError(str(e), endpoint) from e
        except aiohttp.ClientConnectorError as e:
            raise ScrapydError(_connect_reason(e), endpoint) from e
        except TimeoutError as e:  # aiohttp's timeouts subclass it
            raise ScrapydError(f"timeout after {self._timeout_s}s", endpoint) from e
        except aiohttp.ClientError as e:
            raise ScrapydError(f"{type(e).__name__}: {e}", endpoint) from e
        if status != 200:
            raise ScrapydError(f"HTTP {status}", endpoint)
        try:
            answer = safejson.loads(body)
        except safejson.JSONRefused as e:
            raise ScrapydError(e.reason, endpoint) from e
        if not isinstance(answer, dict):
            raise ScrapydError("not a JSON object", endpoint)
        if answer.get("status") == "error":
            message = str(answer.get("message") or "error without message")
            raise ScrapydError(message, endpoint, rejected=True)
        if answer.get("status") != "ok":
            raise ScrapydError("unexpected response: no status ok", endpoint)
        return answer

    async def daemonstatus(self) -> DaemonStatus:
        endpoint = "daemonstatus.json"
        data = await self._call("GET", endpoint)
        return DaemonStatus(
            node_name=_optional(data, "node_name", str) or self.target.name,
            pending=_field(data, "pending", int, endpoint),
            running=_field(data, "running", int, endpoint),
            finished=_field(data, "finished", int, endpoint),
        )

    async def listjobs(self, project: str) -> JobList:
        endpoint = "listjobs.json"
        data = await self._call("GET", endpoint, params={"project": project})
        lists = {state: _field(data, state, list, endpoint) for state in STATES}
        return JobList(
            **{state: [_job(job, state, endpoint) for job in lists[state]] for state in STATES}
        )

    async def schedule(
        self,
        project: str,
        spider: str,
        *,
        settings: Mapping[str, str] | None = None,
        args: Mapping[str, str] | None = None,
        jobid: str | None = None,
    ) -> str:
        """Schedule a run; returns its job id. `args` become spider arguments."""
        clash = RESERVED_PARAMS.intersection(args or {})
        if clash:
            raise ValueError(
                f"spider arguments clash with schedule.json parameters: {sorted(clash)}"
            )
        form: list[tuple[str, str]] = [("project", project), ("spider", spider)]
        if jobid is not None:
            form.append(("jobid", jobid))
        form += [("setting", f"{key}={value}") for key, value in (settings or {}).items()]
        form += list((args or {}).items())
        endpoint = "schedule.json"
        data = await self._call("POST", endpoint, data=form)
        return str(_field(data, "jobid", str, endpoint))

    async def cancel(self, project: str, job: str) -> str | None:
        """Cancel a job; its previous state, "pending" or "running", or None if not found."""
        data = await self._call("POST", "cancel.json", data={"project": project, "job": job})
        return _optional(data, "prevstate", str)

    async def addversion(self, project: str, version: str, egg: bytes) -> int:
        """Upload an egg; returns the number of spiders it holds."""
        form = aiohttp.FormData()
        form.add_field("project", project)
        form.add_field("version", version)
        form.add_field("egg", egg, filename=f"{project}-{version}.egg")
        endpoint = "addversion.json"
        data = await self._call("POST", endpoint, data=form)
        return int(_field(data, "spiders", int, endpoint))

    async def listprojects(self) -> list[str]:
        endpoint = "listprojects.json"
        data = await self._call("GET", endpoint)
        return [str(p) for p in _field(data, "projects", list, endpoint)]

    async def listspiders(self, project: str) -> list[str]:
        endpoint = "listspiders.json"
        data = await self._call("GET", endpoint, params={"project": project})
        return [str(s) for s in _field(data, "spiders", list, endpoint)]
