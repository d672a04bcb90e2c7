"""`python -m scrapyfleet.crawler.speedlab` (how experiments start their crawl processes)."""

from scrapyfleet.crawler.speedlab.cli import main

raise SystemExit(main())
