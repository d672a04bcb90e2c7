"""scrapyfleet.crawler."""
