"""scrapyd targets: the `[deploy:NAME]` sections of `scrapy.cfg`, names, globs and explicit URLs.

Follows scrapyd-client: the nearest `scrapy.cfg` from the working directory upward; a bare
`[deploy]` section gives defaults to every `[deploy:NAME]` and is itself the target "default"
when it has a `url`.
"""

from __future__ import annotations

import configparser
import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

CONFIG_NAME = "scrapy.cfg"
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Target:
    """One scrapyd node."""

    name: str  # deploy name, e.g. "scrapyd1"; for explicit URLs "host:port"
    url: str  # base URL without trailing slash
    username: str | None = None
    password: str | None = None
    project: str | None = None  # `project` key of the deploy section
    slots: int | None = None  # `slots` key: the node's capacity (scrapyd max_proc); None = unknown


class UnknownTargetError(LookupError):
    """A target spec matched no deploy section."""

    def __init__(self, spec: str, known: Sequence[str]) -> None:
        self.spec = spec
        self.known = sorted(known)
        listed = ", ".join(self.known) if self.known else "none (no [deploy:NAME] in scrapy.cfg)"
        super().__init__(f"unknown target {spec!r}; known targets: {listed}")


class TargetConfigError(ValueError):
    """A deploy section of scrapy.cfg is unusable (no url, bad slots)."""


def find_config(start: Path | None = None) -> Path | None:
    """The nearest `scrapy.cfg` from `start` (default: the working directory) upward."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def _read(config: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    with config.open(encoding="utf-8") as f:
        parser.read_file(f)
    return parser


def _deploy_sections(parser: configparser.ConfigParser) -> dict[str, dict[str, str]]:
    """Deploy name -> options, with the bare `[deploy]` options as defaults."""
    base = dict(parser.items("deploy")) if parser.has_section("deploy") else {}
    sections: dict[str, dict[str, str]] = {}
    if "url" in base:
        sections["default"] = base
    for section in parser.sections():
        if section.startswith("deploy:"):
            sections[section.removeprefix("deploy:")] = {**base, **dict(parser.items(section))}
    return sections


def _target(name: str, options: dict[str, str], config: Path) -> Target:
    url = options.get("url", "").strip()
    if not url:
        raise TargetConfigError(f"{config}: [deploy:{name}] has no url")
    slots = options.get("slots")
    try:
        capacity = int(slots) if slots else None
    except ValueError:
        raise TargetConfigError(f"{config}: [deploy:{name}] slots is not an integer") from None
    if capacity is not None and capacity < 1:
        raise TargetConfigError(f"{config}: [deploy:{name}] slots must be at least 1")
    return Target(
        name=name,
        url=url.rstrip("/"),
        username=options.get("username") or None,
        password=options.get("password") or None,
        project=options.get("project") or None,
        slots=capacity,
    )


def load_targets(config: Path) -> dict[str, Target]:
    """Every deploy target of `config`, in file order."""
    sections = _deploy_sections(_read(config))
    return {name: _target(name, options, config) for name, options in sections.items()}


def default_project(config: Path | None) -> str | None:
    """The `project` key of `[deploy]`, else of the first `[deploy:NAME]` that has one."""
    if config is None:
        return None
    parser = _read(config)
    if parser.has_option("deploy", "project"):
        return parser.get("deploy", "project") or None
    for options in _deploy_sections(parser).values():
        if options.get("project"):
            return options["project"]
    return None


def target_from_url(spec: str) -> Target:
    """A target for an explicit `http(s)://[user:pass@]host[:port][/path]` URL."""
    parts = urlsplit(spec)
    if not parts.hostname:
        raise TargetConfigError(f"no host in target URL {spec!r}")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError as e:
        raise TargetConfigError(f"bad port in target URL {spec!r}") from e
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = f"{host}:{parts.port}" if parts.port else host
    url = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    return Target(
        name=f"{host}:{port}",
        url=url,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def _is_url(spec: str) -> bool:
    return spec.startswith(("http://", "https://"))


def _is_host_port(spec: str) -> bool:
    """The book's `DISTRIBUTED_TARGET_HOSTS` entries: `scrapyd1:6800`."""
    host, sep, port = spec.rpartition(":")
    return bool(sep and host and port.isdigit() and "/" not in host)


def _is_glob(spec: str) -> bool:
    return any(c in spec for c in "*?[")


def resolve_targets(specs: Sequence[str], config: Path | None) -> list[Target]:
    """Targets for names, fnmatch globs over deploy names, explicit URLs and `host:port`
    (`http://host:port` unless a deploy target has that name).

    Order is kept and duplicates (same URL) dropped; a spec that matches nothing raises
    UnknownTargetError.
    """
    known = load_targets(config) if config is not None else {}
    found: dict[str, Target] = {}
    for spec in specs:
        if _is_url(spec):
            matches = [target_from_url(spec)]
        elif _is_glob(spec):
            matches = [known[name] for name in fnmatch.filter(known, spec)]
        elif spec in known:
            matches = [known[spec]]
        else:
            matches = [target_from_url(f"http://{spec}")] if _is_host_port(spec) else []
        if not matches:
            raise UnknownTargetError(spec, list(known))
        for target in matches:
            found.setdefault(target.url, target)
    return list(found.values())
