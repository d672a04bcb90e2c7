"""The workspace's layout holds: each package imports only what it declares, and the light
packages stay light (docs/architecture.md, "Packages")."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

PACKAGES = Path(__file__).resolve().parents[2]
NAMES = sorted(p.name for p in PACKAGES.iterdir() if (p / "pyproject.toml").is_file())


def declared(package: str) -> set[str]:
    """Distribution names a package depends on (extras stripped), lower-case."""
    project = tomllib.loads((PACKAGES / package / "pyproject.toml").read_text())["project"]
    return {re.split(r"[\[<>=!~ ;]", dep, maxsplit=1)[0].lower() for dep in project["dependencies"]}


def imported(package: str, part: str = "src") -> set[str]:
    """Top-level modules (and `scrapyfleet.X` packages) the package's source (or `tests`)
    imports."""
    names: set[str] = set()
    for path in (PACKAGES / package / part).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                parts = module.split(".")
                names.add(".".join(parts[:2]) if parts[0] == "scrapyfleet" else parts[0])
    return names


def test_every_package_is_found() -> None:
    assert NAMES == ["analytics", "core", "crawler", "demo", "demosite", "ftpsink", "monitor"]


@pytest.mark.parametrize("package", NAMES)
def test_imports_only_declared_workspace_packages(package: str) -> None:
    used = {m.split(".")[1] for m in imported(package) if m.startswith("scrapyfleet.")}
    allowed = {package} | {d.removeprefix("scrapyfleet-") for d in declared(package)}
    assert used <= allowed, f"{package} imports undeclared {sorted(used - allowed)}"


@pytest.mark.parametrize("package", ["analytics", "crawler", "demo", "demosite", "ftpsink"])
def test_nothing_but_the_monitor_imports_the_monitor(package: str) -> None:
    assert "scrapyfleet.monitor" not in imported(package)


@pytest.mark.parametrize("package", [name for name in NAMES if name != "demo"])
def test_only_the_demos_tests_import_the_demo(package: str) -> None:
    """A package's tests start what they need themselves (`core.scrapydnodes` for scrapyd
    nodes, the `demosite` command for sites), not through the demo."""
    assert "scrapyfleet.demo" not in imported(package, "tests")


@pytest.mark.parametrize("package", ["analytics", "ftpsink"])
def test_spark_job_and_ingest_do_without_aiohttp(package: str) -> None:
    assert "aiohttp" not in declared(package)
    assert "aiohttp" not in imported(package)


def test_core_is_light() -> None:
    assert declared("core") == {"structlog", "psutil"}  # psutil: process work (`procs`)
    assert not imported("core") & {"scrapy", "pyspark", "twisted", "aioftp", "matplotlib"}
