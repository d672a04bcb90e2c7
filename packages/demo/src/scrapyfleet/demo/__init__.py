"""scrapyfleet.demo: the one-command local demo, the local scrapyd `cluster` and the speed lab.

It starts every other package's command, so it depends on all of them; nothing depends on it.
"""
