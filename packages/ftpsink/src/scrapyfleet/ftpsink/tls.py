"""Explicit FTPS (RFC 4217): the server's TLS context and the upgrade of a plain stream to TLS."""

from __future__ import annotations

import asyncio
import ssl

from scrapyfleet.ftpsink.config import TlsFiles

HANDSHAKE_TIMEOUT = 10.0  # seconds


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """TLS 1.2+ server context from a PEM certificate chain and key (OSError/SSLError if bad)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(files.cert, files.key)
    return context


async def upgrade(writer: asyncio.StreamWriter, context: ssl.SSLContext) -> None:
    """Run the server side of a TLS handshake on an accepted stream (reader and writer keep
    working, now encrypted). Raises ssl.SSLError, OSError or TimeoutError on failure."""
    await writer.start_tls(context, ssl_handshake_timeout=HANDSHAKE_TIMEOUT)


def is_secure(writer: asyncio.StreamWriter) -> bool:
    return writer.get_extra_info("ssl_object") is not None
