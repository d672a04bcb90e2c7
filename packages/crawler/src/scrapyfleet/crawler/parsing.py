"""Field parsing shared by the spiders: prices as shown on listing pages."""

from __future__ import annotations

import re

_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def parse_price(text: str | None) -> float | None:
    """`£1,234.50pw` -> 1234.5; None when the text holds no number."""
    match = _NUMBER.search(text or "")
    return float(match.group().replace(",", "")) if match else None
