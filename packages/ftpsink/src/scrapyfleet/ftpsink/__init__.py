"""scrapyfleet.ftpsink."""
