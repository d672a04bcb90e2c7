"""scrapyfleet.demosite."""
