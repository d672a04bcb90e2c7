"""scrapyfleet.ftpsink: the upload-only FTP server Scrapy workers export their .jl feeds to.

Contract (what readers such as the Spark job may rely on):

- A file lands in the directory the client STORed it to, inside `--root`, under the client's
  name (Scrapy's `<batch>_<spider>_<time>.jl`). Subdirectories are allowed: point Spark at the
  directory the workers upload to (e.g. `<root>/items`).
- Only whole files ever appear: bytes go to `<root>/.staging/` and are fsynced and linked into
  place (then the directory is fsynced) only after a clean end of transfer, before the 226 reply.
  A reset, ABOR, idle timeout, size-limit breach, vanished client or shutdown lands nothing.
- Nothing is overwritten: a STOR to an existing name gets 553 (checked again atomically at
  landing time). Names starting with `.` or `_` are refused (553): readers would ignore them.
- Upload-only: RETR, LIST, NLST, MLSD, MLST, DELE, RMD, RNFR/RNTO, APPE, REST, SITE and STOU get
  502. CWD/MKD work without read rights; MKD of an existing directory succeeds (Scrapy's MKD race).
- Every path stays inside the root: `..` is clamped at `/`, absolute paths are relative to the
  root, symlinks leading out of it are refused (550).
- With a passive port range, concurrent connections are capped at its size (one port each).

API: `SinkConfig`, `make_server(config)` / `await serve(config, stop_event)`; CLI: `ftpsink`.
"""
