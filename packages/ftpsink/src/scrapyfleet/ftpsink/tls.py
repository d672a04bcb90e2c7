"""Explicit FTPS (RFC 4217): the server's TLS context and the upgrade of a plain stream to TLS."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from pathlib import Path

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


def self_signed(directory: Path, host: str = "127.0.0.1", days: int = 30) -> TlsFiles:
    """Write a self-signed certificate for `host` (an IP address or a DNS name) and its key to
    `directory` (`cert.pem`, `key.pem`), for tests and local demos; the certificate is its own CA
    (clients pass it as their CA file). Needs `cryptography` (extra `selfsigned`)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    try:
        alt_name: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt_name = x509.DNSName(host)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([alt_name]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    files = TlsFiles(directory / "cert.pem", directory / "key.pem")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    files.key.chmod(0o600)
    return files
