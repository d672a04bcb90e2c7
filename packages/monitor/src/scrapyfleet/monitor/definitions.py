"""Crawl definitions: what a crawl is (the directory crawl-master runs in, with its scrapy.cfg;
the spider; the scrapyd targets; crawl-master options), saved by name in the state database,
and the crawl-master command line each one makes.

Options are crawl-master's own (`{"site": URL, "index-pages": 10, "setting": ["A=B"],
"deploy": true}`) written `--NAME=VALUE`, so no value is ever read as an option. The console
owns the options that say where a run lives and how it reports (`OWNED`).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scrapyfleet.monitor.store import Store

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
OPTION = re.compile(r"[a-z][a-z0-9-]{0,40}")
OWNED = frozenset({"run-dir", "resume", "metrics", "metrics-linger", "format", "progress",
                   "targets", "spider", "help"})  # fmt: skip
SPIDER = "distr"  # crawl-master's own default spider
Value = str | int | float | bool | list[str]


class DefinitionError(ValueError):
    """A definition that cannot be saved; the message says which field and why."""


@dataclass(frozen=True, slots=True)
class Definition:
    name: str
    project_dir: str
    targets: list[str]
    spider: str = SPIDER
    options: dict[str, Value] = field(default_factory=dict)

    def arguments(self) -> list[str]:
        """crawl-master's arguments for this crawl (the console adds the ones it owns)."""
        args = ["--spider", self.spider, "--targets", *self.targets]
        for name, value in sorted(self.options.items()):
            values = value if isinstance(value, list) else [value]
            for one in values:
                if one is True:
                    args.append(f"--{name}")
                elif one is not False:
                    args.append(f"--{name}={one}")
        return args


def _text(doc: dict[str, Any], key: str, default: str | None = None) -> str:
    value = doc.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise DefinitionError(f"{key}: a non-empty string is required")
    return value.strip()


def parse(doc: Any) -> Definition:
    """A definition from its JSON document; DefinitionError says what is wrong."""
    if not isinstance(doc, dict):
        raise DefinitionError("a definition is a JSON object")
    name = _text(doc, "name")
    if not NAME.fullmatch(name):
        raise DefinitionError("name: letters, digits, '_', '.', '-' (64 at most)")
    project_dir = Path(_text(doc, "project_dir"))
    if not project_dir.is_absolute() or not project_dir.is_dir():
        raise DefinitionError(f"project_dir: {project_dir} is not an absolute path to a directory")
    targets = doc.get("targets")
    if (
        not isinstance(targets, list)
        or not targets
        or not all(isinstance(t, str) and t and not t.startswith("-") for t in targets)
    ):
        raise DefinitionError("targets: a non-empty list of deploy names, globs or URLs")
    spider = _text(doc, "spider", SPIDER)
    if not NAME.fullmatch(spider):
        raise DefinitionError("spider: a plain spider name")
    options = doc.get("options", {})
    if not isinstance(options, dict):
        raise DefinitionError("options: an object of crawl-master options")
    for key, value in options.items():
        if not OPTION.fullmatch(key) or key in OWNED:
            raise DefinitionError(f"options: {key!r} is not an option a definition may set")
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str | int | float | bool) and "\n" not in str(v) for v in values):
            raise DefinitionError(f"options: {key!r} takes a string, number, boolean or list")
    return Definition(name, str(project_dir), list(targets), spider, dict(options))


class Definitions:
    """Saved definitions, by name."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def save(self, definition: Definition) -> None:
        self.store.write(
            "INSERT INTO definitions (name, doc, updated) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET doc = excluded.doc, updated = excluded.updated",
            (definition.name, json.dumps(asdict(definition)), time.time()),
        )

    def get(self, name: str) -> Definition | None:
        row = self.store.row("SELECT doc FROM definitions WHERE name = ?", (name,))
        return Definition(**json.loads(row["doc"])) if row else None

    def all(self) -> list[Definition]:
        rows = self.store.rows("SELECT doc FROM definitions ORDER BY name")
        return [Definition(**json.loads(r["doc"])) for r in rows]

    def delete(self, name: str) -> bool:
        return bool(
            self.store.db.execute("DELETE FROM definitions WHERE name = ?", (name,)).rowcount
        )
