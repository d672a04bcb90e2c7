"""Settings of one ftpsink server and parsers for their command-line forms."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SIZE_SUFFIXES = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


@dataclass(frozen=True)
class SinkConfig:
    """Where and how the sink listens, who may log in, and the limits of one upload."""

    root: Path = Path("items")
    host: str = "127.0.0.1"
    port: int = 2121
    # None: each PASV/EPSV takes any free port. A range caps concurrent connections at its size.
    passive_ports: range | None = range(30000, 30010)
    users: tuple[tuple[str, str], ...] = ()
    anonymous: bool = True
    max_file_size: int = 1 << 30  # bytes per upload; 0 disables the limit
    idle_timeout: float = 60.0  # seconds of silence on a connection; 0 disables it
    block_size: int = 256 * 1024

    def __post_init__(self) -> None:
        if not self.users and not self.anonymous:
            raise ValueError("nobody could log in: enable anonymous or add a user")


def parse_port_range(text: str) -> range | None:
    """`30000-30009` or `30000` -> ports; `0` or empty -> None (any free port)."""
    text = text.strip()
    if text in ("", "0"):
        return None
    first, sep, last = text.partition("-")
    try:
        low, high = int(first), int(last if sep else first)
    except ValueError:
        raise ValueError(f"passive ports must look like 30000-30009, got {text!r}") from None
    if not 0 < low <= high <= 65535:
        raise ValueError(f"passive port range {text!r} is empty or outside 1-65535")
    return range(low, high + 1)


def parse_user(text: str) -> tuple[str, str]:
    """`NAME:PASSWORD` -> (name, password); the password may contain colons."""
    name, sep, password = text.partition(":")
    if not name or not sep or not password:
        raise ValueError(f"user must look like NAME:PASSWORD, got {name or text!r}")
    return name, password


def parse_size(text: str) -> int:
    """`1048576`, `512K`, `200M` or `1G` -> bytes (binary multiples)."""
    text = text.strip().upper().removesuffix("B")
    suffix = text[-1:] if text[-1:] in SIZE_SUFFIXES else ""
    number = text[: len(text) - len(suffix)]
    if not number.isdigit():
        raise ValueError(f"size must look like 1048576, 512K, 200M or 1G, got {text!r}")
    return int(number) * SIZE_SUFFIXES[suffix]
