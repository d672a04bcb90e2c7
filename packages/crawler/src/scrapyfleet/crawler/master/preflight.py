"""Refuse up front, before any page is fetched: what would otherwise fail only after the crawl,
or only in the nodes' job logs (crawl-master exits 2 with the one line of a `Refusal`).

The spider's effective settings (project, spider, add-ons, options), its target (`diversion.py`),
the middleware, the feed destination (the master logs in to an FTP destination once itself),
and every node: reachable, serving the project and the spider.
"""

from __future__ import annotations

import asyncio
import ftplib
import ssl
from urllib.parse import unquote, urlsplit

import aiohttp
from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings, Settings
from scrapy.utils.misc import load_object

from scrapyfleet.core.scrapyd import ScrapydClient, ScrapydError
from scrapyfleet.core.targets import Target
from scrapyfleet.crawler.diversion import Diversion, DiversionError
from scrapyfleet.crawler.middleware import DistributedMiddleware

CHECK_TIMEOUT = 10.0  # seconds per node or FTP call
LIST_TIMEOUT = 120.0  # listspiders.json runs `scrapy list` on the node before it answers


class Refusal(ValueError):
    """Why crawl-master will not start the run."""


def effective_settings(spidercls: type[Spider], settings: Settings) -> BaseSettings:
    """The settings a crawl of `spidercls` would run with: the spider's own and its add-ons'
    applied (a throwaway crawler; the run builds its own)."""
    probe = Crawler(spidercls, settings)
    probe.addons.load_settings(probe.settings)
    return probe.settings


def check_spider(spidercls: type[Spider], settings: BaseSettings) -> Diversion:
    """The spider's target; Refusal when there is none, several, or one that cannot match, or
    when the middleware is not enabled."""
    try:
        diversion = Diversion.from_settings(settings)
        if diversion is None:
            raise DiversionError(
                "no target: set one of DISTRIBUTED_TARGET_RULE (a CrawlSpider rule index), "
                "DISTRIBUTED_TARGET_CALLBACK (a callback's name) or DISTRIBUTED_TARGET_URLS (a "
                "URL regex) in the project's settings or the spider's custom_settings"
            )
        diversion.check(spidercls)
    except DiversionError as exc:
        raise Refusal(str(exc)) from None
    middlewares = settings.getwithbase("SPIDER_MIDDLEWARES")
    enabled = [load_object(m) for m, order in middlewares.items() if order is not None]
    if not any(isinstance(m, type) and issubclass(m, DistributedMiddleware) for m in enabled):
        raise Refusal(
            "the fleet is not enabled in this project: add ADDONS = "
            '{"scrapyfleet.crawler.Fleet": 500} to its settings (docs/own-project.md)'
        )
    return diversion


def check_feed(uri: str, ca_file: str | None) -> None:
    """Log in to an ftp:// or ftps:// feed destination once; Refusal when it cannot be reached
    or refuses the login (other schemes are the workers' to reach)."""
    parts = urlsplit(uri)
    if parts.scheme not in ("ftp", "ftps"):
        return
    host, port = parts.hostname or "", parts.port or 21
    user = unquote(parts.username or "anonymous")
    ftp: ftplib.FTP
    if parts.scheme == "ftps":
        ftp = ftplib.FTP_TLS(context=ssl.create_default_context(cafile=ca_file or None))
    else:
        ftp = ftplib.FTP()
    where = f"{parts.scheme}://{host}:{port}"
    try:
        ftp.connect(host, port, timeout=CHECK_TIMEOUT)
        ftp.login(user, unquote(parts.password or ""))
        ftp.quit()
    except ftplib.error_perm as exc:
        raise Refusal(
            f"the feed destination {where} refused the login of {user!r}: {exc}"
        ) from None
    except (OSError, EOFError, ftplib.Error) as exc:
        raise Refusal(
            f"the feed destination {where} is unreachable: {exc or type(exc).__name__}"
        ) from None
    finally:
        ftp.close()


async def _node_problem(client: ScrapydClient, project: str, spider: str) -> tuple[bool, str]:
    """(reachable, what is missing there: "" when nothing)."""
    try:
        projects = await asyncio.wait_for(client.listprojects(), CHECK_TIMEOUT)
    except TimeoutError:
        return False, f"no answer within {CHECK_TIMEOUT:g}s"
    except ScrapydError as exc:
        return False, exc.reason
    if project not in projects:
        return True, (
            f"has no project {project!r} (it has: {', '.join(projects) or 'none'}); "
            "crawl-master --deploy uploads it"
        )
    try:
        spiders = await client.listspiders(project)
    except ScrapydError as exc:
        return True, f"cannot list the spiders of {project!r}: {exc.reason}"
    if spider not in spiders:
        return True, (
            f"has no spider {spider!r} in {project!r} (it has: {', '.join(spiders) or 'none'}); "
            "crawl-master --deploy uploads the current project"
        )
    return True, ""


async def check_nodes(targets: list[Target], project: str, spider: str) -> list[str]:
    """Refusal when no node answers, or one that answers lacks the project or the spider; the
    unreachable nodes otherwise (the dispatcher copes with them)."""
    async with aiohttp.ClientSession() as session:
        clients = [ScrapydClient(t, session, timeout=LIST_TIMEOUT) for t in targets]
        answers = await asyncio.gather(*(_node_problem(c, project, spider) for c in clients))
    missing = [
        f"node {t.name} {why}" for t, (up, why) in zip(targets, answers, strict=True) if up and why
    ]
    if missing:
        raise Refusal(missing[0])
    down = [f"{t.name} ({why})" for t, (up, why) in zip(targets, answers, strict=True) if not up]
    if len(down) == len(targets):
        raise Refusal(f"no reachable scrapyd node: {', '.join(down)}")
    return down
