"""`crawl-master --deploy`: build the project's egg and upload it with `addversion.json`.

The egg is what scrapyd-deploy uploads: the project's Python packages (every package beside its
`scrapy.cfg`, as scrapyd-deploy's `find_packages()`) plus `EGG-INFO/entry_points.txt` naming the
settings module under `[scrapy]`. The nodes need scrapyfleet (and the project's other
dependencies) installed, as scrapy-redis users install scrapy-redis. The built-in demo project's
egg holds `scrapyfleet.crawler` and `scrapyfleet.core`.
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
from scrapyfleet.crawler.master.project import BUILTIN, Project

log = structlog.get_logger("scrapyfleet.crawler.master.deploy")

DEPLOY_TIMEOUT = 120.0  # addversion runs `scrapy list` on the node before it answers
Package = tuple[Path, Path]  # a package's directory, and the directory its names start from


def builtin_packages() -> list[Package]:
    """The built-in project's packages: the crawler and core (`.../src/scrapyfleet/X`)."""
    roots = [Path(next(iter(p.__path__))) for p in (scrapyfleet.crawler, scrapyfleet.core)]
    return [(root, root.parent.parent) for root in roots]


def project_packages(project: Project) -> list[Package]:
    """Every package beside the project's scrapy.cfg."""
    if project.builtin or project.root is None:
        return builtin_packages()
    found = sorted(d for d in project.root.iterdir() if (d / "__init__.py").is_file())
    return [(d, project.root) for d in found]


def build_egg(
    version: str,
    name: str = "scrapyfleet",
    settings_module: str = BUILTIN,
    packages: list[Package] | None = None,
) -> bytes:
    """A zip egg of `packages` (default: the built-in project's), in memory."""
    packages = packages if packages is not None else builtin_packages()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as egg:
        for root, base in packages:
            for path in sorted(root.rglob("*.py")):
                egg.write(path, path.relative_to(base).as_posix())
        top = sorted({root.relative_to(base).parts[0] for root, base in packages})
        egg.writestr(
            "EGG-INFO/PKG-INFO", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        )
        egg.writestr("EGG-INFO/entry_points.txt", f"[scrapy]\nsettings = {settings_module}\n")
        egg.writestr("EGG-INFO/top_level.txt", "".join(f"{t}\n" for t in top))
        egg.writestr("EGG-INFO/not-zip-safe", "")
    return buffer.getvalue()


async def deploy(
    targets: list[Target], project: str, source: Project, version: str | None = None
) -> dict[str, str]:
    """Upload `source`'s egg to every node as `project`; node name -> "ok (N spiders)" or the
    reason it failed."""
    version = version or time.strftime("%Y%m%dT%H%M%S")
    egg = build_egg(version, project, source.module, project_packages(source))
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
