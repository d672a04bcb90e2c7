"""`python -m scrapyfleet.demo.speedlab` (how experiments start their crawl processes)."""

from scrapyfleet.demo.speedlab.cli import main

raise SystemExit(main())
