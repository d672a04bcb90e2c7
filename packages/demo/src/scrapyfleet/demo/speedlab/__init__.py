"""Chapter 10's performance lab: the `speed` crawl's knobs, experiment grids, the book's cases."""

from scrapyfleet.demo.speedlab.cli import main

__all__ = ["main"]
