"""`crawl-master --deploy`: build the project's egg and upload it with `addversion.json`.

The egg is what scrapyd-deploy uploads: the Python packages plus `EGG-INFO/entry_points.txt`
naming the settings module under `[scrapy]`. It holds what a node runs: `scrapyfleet.crawler` (the
Scrapy project) and `scrapyfleet.core`; Scrapy, aiohttp and structlog must already be on the node.
"""

from __future__ import annotations

import asyncio
import io
import time
import zipfile
from pathlib import Path

import aiohttp
import structlog

import scrapyfleet.core
import scrapyfleet.crawler
from scrapyfleet.core.scrapyd import ScrapydClient, ScrapydError
from scrapyfleet.core.targets import Target
from scrapyfleet.crawler import settings

log = structlog.get_logger("scrapyfleet.crawler.master.deploy")

SETTINGS_MODULE = settings.__name__
DEPLOY_TIMEOUT = 120.0  # addversion runs `scrapy list` on the node before it answers


def build_egg(version: str, settings_module: str = SETTINGS_MODULE) -> bytes:
    """A zip egg of the crawler and core packages, in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as egg:
        for package in (scrapyfleet.crawler, scrapyfleet.core):
            root = Path(next(iter(package.__path__)))
            base = root.parent.parent  # .../src
            for path in sorted(root.rglob("*.py")):
                egg.write(path, path.relative_to(base).as_posix())
        egg.writestr(
            "EGG-INFO/PKG-INFO",
            f"Metadata-Version: 2.1\nName: properties\nVersion: {version}\n",
        )
        egg.writestr("EGG-INFO/entry_points.txt", f"[scrapy]\nsettings = {settings_module}\n")
        egg.writestr("EGG-INFO/top_level.txt", "scrapyfleet\n")
        egg.writestr("EGG-INFO/not-zip-safe", "")
    return buffer.getvalue()


async def deploy(targets: list[Target], project: str, version: str | None = None) -> dict[str, str]:
    """Upload the egg to every node; node name -> "ok (N spiders)" or the reason it failed."""
    version = version or time.strftime("%Y%m%dT%H%M%S")
    egg = build_egg(version)
    results: dict[str, str] = {}
    async with aiohttp.ClientSession() as session:

        async def one(target: Target) -> None:
            client = ScrapydClient(target, session, timeout=DEPLOY_TIMEOUT)
            try:
                spiders = await client.addversion(project, version, egg)
            except ScrapydError as exc:
                results[target.name] = exc.reason
                log.error("deploy_failed", node=target.name, reason=exc.reason)
                return
            results[target.name] = f"ok ({spiders} spiders)"
            log.info("deployed", node=target.name, project=project, version=version,
                     spiders=spiders, bytes=len(egg))  # fmt: skip

        await asyncio.gather(*(one(t) for t in targets))
    return results
