"""scrapyfleet.core: the code and contracts every scrapyfleet package shares (docs/architecture.md).

Light on purpose: structlog only; the scrapyd client needs the `scrapyd` extra (aiohttp).
"""
