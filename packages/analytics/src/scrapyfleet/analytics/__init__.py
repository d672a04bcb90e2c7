"""scrapyfleet.analytics."""
