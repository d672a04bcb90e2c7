"""`ftps://` feed storage (explicit FTPS: AUTH TLS, PROT P, verified against a CA file), and the
FTP(S) upload that keeps the server's final reply.

Scrapy's own FTP storage verifies an `ftps://` server against the system's CAs only; an ingest
server usually has a private or self-signed certificate. This storage trusts the PEM file in the
setting `FEED_STORAGE_FTPS_CA_FILE` (default: the system's CAs) and otherwise behaves like
Scrapy's: passive mode unless `FEED_STORAGE_FTP_ACTIVE`, CWD to the URI's directory (made as
needed), then STOR. The project registers it for `ftps` in `FEED_STORAGES` (settings.py).

Scrapy's `ftp_store_file` drops `storbinary`'s answer; `upload` keeps it: ftpsink's `226` carries
the landing receipt the worker reports (worker/feedstorage.py).
"""

from __future__ import annotations

import posixpath
import ssl
from contextlib import closing
from ftplib import FTP, FTP_TLS
from typing import IO, Any, Self

from scrapy.crawler import Crawler
from scrapy.extensions.feedexport import FTPFeedStorage
from scrapy.utils.ftp import ftp_makedirs_cwd

TIMEOUT = 60.0  # seconds per socket operation


class FTPSFeedStorage(FTPFeedStorage):
    """Scrapy's FTP feed storage over explicit FTPS, trusting `ca_file` (None: system CAs)."""

    def __init__(
        self,
        uri: str,
        use_active_mode: bool = False,
        *,
        feed_options: dict[str, Any] | None = None,
        ca_file: str | None = None,
    ) -> None:
        super().__init__(uri, use_active_mode, feed_options=feed_options)
        self.ca_file = ca_file

    @classmethod
    def from_crawler(
        cls, crawler: Crawler, uri: str, *, feed_options: dict[str, Any] | None = None
    ) -> Self:
        return cls(
            uri,
            use_active_mode=crawler.settings.getbool("FEED_STORAGE_FTP_ACTIVE"),
            feed_options=feed_options,
            ca_file=crawler.settings.get("FEED_STORAGE_FTPS_CA_FILE") or None,
        )

    def _store_in_thread(self, file: IO[bytes]) -> None:
        upload(self, file)


def upload(storage: FTPFeedStorage, file: IO[bytes]) -> str:
    """Store `file` where `storage` (Scrapy's FTP storage, or FTPSFeedStorage) would, as it
    would; the server's final reply to the STOR (or APPE). Blocking: run it in a thread."""
    ca_file = storage.ca_file if isinstance(storage, FTPSFeedStorage) else None
    ftp = (
        FTP_TLS(context=ssl.create_default_context(cafile=ca_file), timeout=TIMEOUT)
        if storage.tls
        else FTP(timeout=TIMEOUT)
    )
    with ftp, closing(file):
        ftp.connect(storage.host, storage.port)
        ftp.login(storage.username, storage.password)  # FTP_TLS: AUTH TLS first, no clear password
        if isinstance(ftp, FTP_TLS):
            ftp.prot_p()
        if storage.use_active_mode:
            ftp.set_pasv(False)
        file.seek(0)
        dirname, filename = posixpath.split(storage.path)
        ftp_makedirs_cwd(ftp, dirname)
        return ftp.storbinary(f"{'STOR' if storage.overwrite else 'APPE'} {filename}", file)
