"""The crawler's sides stay apart (docs/architecture.md, "Crawler layout"): what a node's job runs
(`worker/`) never imports what only crawl-master runs (`master/`), and the other way round; both
share only the top-level modules (the contract, outcomes, defaults)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CRAWLER = Path(__file__).resolve().parents[1] / "src" / "scrapyfleet" / "crawler"
SIDES = {"master": "worker", "worker": "master"}


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("side", sorted(SIDES))
def test_a_side_never_imports_the_other(side: str) -> None:
    other = f"scrapyfleet.crawler.{SIDES[side]}"
    files = sorted((CRAWLER / side).rglob("*.py"))
    assert files, f"no {side}/ package"
    crossing = {
        f"{path.name}: {module}"
        for path in files
        for module in imports(path)
        if module == other or module.startswith(other + ".")
    }
    assert not crossing, f"{side}/ imports {SIDES[side]}/: {sorted(crossing)}"


def test_shared_modules_import_neither_side() -> None:
    wiring = {"__init__.py", "addon.py", "middleware.py"}  # they pick the side
    for path in sorted(CRAWLER.glob("*.py")):
        if path.name in wiring:
            continue
        sides = {
            m for m in imports(path) for s in SIDES if m.startswith(f"scrapyfleet.crawler.{s}")
        }
        assert not sides, f"{path.name} imports {sorted(sides)}"
