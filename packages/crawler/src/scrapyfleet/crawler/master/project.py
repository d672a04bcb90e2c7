"""The Scrapy project crawl-master runs: the one it stands in, as `scrapy crawl` finds it.

`SCRAPY_SETTINGS_MODULE`, else the `[settings]` of the nearest `scrapy.cfg` (Scrapy's own rule,
`SCRAPY_PROJECT` picking the key); the built-in demo project (`scrapyfleet.crawler.settings`)
only where neither names one. The scrapyd project name: `--project` / `DISTRIBUTED_PROJECT`, else
the deploy targets' `project`, else `BOT_NAME`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from scrapy.settings import BaseSettings, Settings
from scrapy.utils.conf import closest_scrapy_cfg, get_config
from scrapy.utils.project import ENVVAR, get_project_settings

from scrapyfleet.core.targets import default_project

BUILTIN = "scrapyfleet.crawler.settings"
BUILTIN_SPIDER = "distr"


@dataclass(frozen=True, slots=True)
class Project:
    """The project's settings (project priority) and where it lives."""

    settings: Settings
    module: str  # its settings module
    root: Path | None  # the directory of its scrapy.cfg; None: the built-in project

    @property
    def builtin(self) -> bool:
        return self.module == BUILTIN


def load_project() -> Project:
    """The project of the working directory (or the built-in one)."""
    key = os.environ.get("SCRAPY_PROJECT", "default")
    if ENVVAR not in os.environ and not get_config().has_option("settings", key):
        os.environ[ENVVAR] = BUILTIN
    settings = get_project_settings()
    module = os.environ[ENVVAR]
    cfg = closest_scrapy_cfg()
    return Project(settings, module, Path(cfg).parent if cfg else None)


def project_name(settings: BaseSettings, config: Path | None) -> str:
    """The scrapyd project the spider runs in."""
    return str(
        settings.get("DISTRIBUTED_PROJECT")
        or default_project(config)
        or settings.get("BOT_NAME")
        or "default"
    )


def spider_name(given: str | None, known: list[str], project: Project) -> str:
    """The spider to run; ValueError naming the known ones when it is not one of them."""
    listed = ", ".join(sorted(known)) or "none"
    if given is None:
        if project.builtin:
            return BUILTIN_SPIDER
        if len(known) == 1:
            return known[0]
        raise ValueError(f"name the spider: --spider one of {listed}")
    if given not in known:
        raise ValueError(f"unknown spider {given!r}; the project's spiders: {listed}")
    return given
