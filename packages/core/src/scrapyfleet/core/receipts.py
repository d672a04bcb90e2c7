"""Landing receipts: the sink's signed word that a file landed (docs/architecture.md, "Contracts").

ftpsink, given a receipt key, ends the `226` reply of every upload it lands with a receipt; the
crawl-master, which shares the key, verifies the receipt a worker reports. One line, no secret:

    receipt v1 name=NAME bytes=BYTES lines=LINES hmac=HEX

NAME is the landing name (`scrapyfleet.core.contracts.landing_name_problem`: no space, no `=`),
BYTES the file's size, LINES its lines as a reader counts them (newlines, plus an unterminated
last line), HEX the lowercase HMAC-SHA256, under the shared key, of
`scrapyfleet-receipt v1\\nNAME\\nBYTES\\nLINES`. The key is text (its UTF-8 bytes, surrounding
whitespace dropped), at least MIN_KEY_BYTES long, e.g. from `openssl rand -hex 32`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

VERSION: Final = "v1"
MIN_KEY_BYTES: Final = 16
_DOMAIN: Final = b"scrapyfleet-receipt " + VERSION.encode()
_RECEIPT = re.compile(
    rf"(?<!\S)receipt {VERSION} name=(\S+) bytes=(\d{{1,20}}) lines=(\d{{1,20}})"
    r" hmac=([0-9a-f]{64})(?!\S)"
)


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the sink attests: `name` landed with `size` bytes and `lines` lines; `mac` signs it."""

    name: str
    size: int
    lines: int
    mac: str

    def __str__(self) -> str:
        return (
            f"receipt {VERSION} name={self.name} bytes={self.size} lines={self.lines} "
            f"hmac={self.mac}"
        )


def _mac(key: bytes, name: str, size: int, lines: int) -> str:
    message = b"\n".join((_DOMAIN, name.encode(), str(size).encode(), str(lines).encode()))
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign(key: bytes, name: str, size: int, lines: int) -> str:
    """The receipt text for a landed file (what ftpsink appends to its `226` reply)."""
    return str(Receipt(name, size, lines, _mac(key, name, size, lines)))


def parse(text: str) -> Receipt | None:
    """The receipt in `text` (a `226` reply or a receipt alone), None if it holds none."""
    found = _RECEIPT.search(text)
    if found is None:
        return None
    name, size, lines, mac = found.groups()
    return Receipt(name, int(size), int(lines), mac)


def verify(key: bytes, receipt: Receipt) -> bool:
    """Was `receipt` signed under `key`? Constant-time comparison."""
    expected = _mac(key, receipt.name, receipt.size, receipt.lines)
    return hmac.compare_digest(expected.encode(), receipt.mac.encode())


def key_from_text(text: str) -> bytes:
    """A receipt key from its text form; ValueError if it is too short to be a key."""
    key = text.strip().encode()
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"a receipt key needs at least {MIN_KEY_BYTES} bytes, got {len(key)}")
    return key


def read_key_file(path: Path) -> bytes:
    """The receipt key kept in `path` (OSError if unreadable, ValueError if too short)."""
    return key_from_text(path.read_text())
