"""scrapyfleet.ftpsink: the upload-only FTP(S) server Scrapy workers export their .jl feeds to.

Contract (what readers such as the Spark job may rely on):

- A file lands directly in `--root` under the client's name (Scrapy's `<batch>_<spider>_<time>.jl`),
  and only under a name every reader opens (`scrapyfleet.core.contracts.landing_name_problem`: a
  bare name of ASCII letters, digits and `._-`, <= 255 bytes, not starting with `.`/`_`, not
  ending `._COPYING_`; `x:y.jl` is refused).
  Anything else, a subdirectory included, gets 553 before any byte is taken; MKD and CWD below
  `/` get 550. A command line that is not UTF-8 gets 501; one over the limit 500 and a close.
- Only whole files ever appear: bytes go to `<root>/.staging/` and are fsynced and linked into
  place (then the directory is fsynced) only after a clean end of transfer, before the 226 reply.
  A reset, ABOR, stall, size-limit breach, full disk, vanished client or shutdown lands nothing.
  Nothing is overwritten: a STOR to an existing name gets 553.
- With a receipt key, the 226 carries a signed receipt (name, bytes, lines;
  `scrapyfleet.core.receipts`) the crawl-master verifies; without one, none (`receipts_off`).
- Uploads stop before the disk fills: below `--min-free` they are refused (452) at STOR and
  aborted (452, nothing kept) while writing.
- Upload-only: RETR, LIST, NLST, MLSD, MLST, DELE, RMD, RNFR/RNTO, APPE, REST, SITE and STOU get
  502. Every path stays inside the root; symlinks leading out of it are refused (550).

Defences: a passive port takes a data connection only from the control connection's address
(others are closed and logged as `data_connection_refused`) and is freed after `--accept-timeout`;
connections are capped in total and per address (421); failed logins get one reply for unknown
names and wrong passwords, a delay doubling with the address's failures (across connections), a
close after `--max-login-failures` and, after `--ban-after`, a doubling ban of the address (421);
a session must log in within `--login-timeout`; an upload under `--min-rate` over
`--stall-timeout` is cut; accounts (scrypt hashes) come from `--users-file` or the environment,
never argv; anonymous upload only without accounts, on a loopback bind unless `--anonymous`;
explicit FTPS (AUTH TLS, PBSZ, PROT P), `--require-tls`.
No log event carries a password or a feed URI.

API: `SinkConfig`, `make_server(config)` / `await serve(config, stop_event)`; CLI: `ftpsink`,
`ftpsink hash-password`.
"""
