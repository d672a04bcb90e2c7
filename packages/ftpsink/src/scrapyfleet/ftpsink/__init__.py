"""scrapyfleet.ftpsink: the upload-only FTP(S) server Scrapy workers export their .jl feeds to.

Its contract (what it accepts, where a file lands, its replies, accounts, passive ports) is
described in docs/architecture.md, "ftpsink: the ingest contract"; its replies are held in
`replies`. API: `SinkConfig`, `server.make_server(config)` / `await server.serve(config, stop)`;
CLI: `ftpsink`, `ftpsink hash-password`.
"""
