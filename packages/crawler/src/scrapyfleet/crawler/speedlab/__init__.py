"""The `speed` spider's side of chapter 10's performance lab: its knobs and its API pipeline.

The lab itself (grids, fits, plots, the book's cases; `uv run speedlab`) is in
`scrapyfleet.demo.speedlab`.
"""
