"""scrapyfleet.monitor."""
