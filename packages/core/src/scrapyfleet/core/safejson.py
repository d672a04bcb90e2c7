"""JSON across a trust boundary: a peer's document is read within bounds, ours is written strict.

Python's `json` raises RecursionError (not ValueError) on deep nesting, and reads and writes
`NaN`/`Infinity` (and reads `1e999` as infinity) unless told otherwise. `loads` turns every such
document into a `JSONRefused` with the reason; `dumps` never writes a non-finite number, and
`finite` replaces them with None (JSON null) before writing data that may hold one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, Final

MAX_DEPTH: Final = 32  # arrays and objects one inside another that a peer's document may nest


class JSONRefused(ValueError):
    """A document was refused; `reason` says why in a few words."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in `value` (iteratively: no recursion limit)."""
    if not isinstance(value, dict | list):
        return 0
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


def loads(
    data: bytes | str,
    *,
    max_depth: int = MAX_DEPTH,
    non_finite: Callable[[str], None] | None = None,
) -> Any:
    """The document in `data`; JSONRefused if it is not JSON or nests deeper than `max_depth`.

    A non-finite number (`NaN`, `Infinity`, `1e999`) is refused, or, with `non_finite`, read as
    None after `non_finite` is told its spelling (to count or name it).
    """

    def constant(text: str) -> None:
        if non_finite is None:
            raise JSONRefused(f"non-finite number {text} in JSON")
        non_finite(text)
        return None

    def number(text: str) -> float | None:
        value = float(text)
        if math.isfinite(value):
            return value
        constant(text)
        return None

    try:
        document = json.loads(data, parse_constant=constant, parse_float=number)
    except RecursionError:
        raise JSONRefused(f"JSON nested deeper than {max_depth} levels") from None
    except JSONRefused:
        raise
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        raise JSONRefused("not JSON") from None
    if _depth(document) > max_depth:
        raise JSONRefused(f"JSON nested deeper than {max_depth} levels")
    return document


def finite(value: Any) -> Any:
    """`value` with every non-finite float inside it (dicts, lists, tuples) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


def dumps(value: Any, **options: Any) -> str:
    """Strict JSON (`allow_nan=False`): ValueError on a non-finite number; `finite` first if
    `value` may hold one."""
    return json.dumps(value, allow_nan=False, **options)
