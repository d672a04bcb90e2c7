"""Settings of one ftpsink server, every default stated once, and parsers for their text forms."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from scrapyfleet.core.procs import is_loopback

SIZE_SUFFIXES = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


@dataclass(frozen=True)
class FreeSpaceFloor:
    """Free space an upload must leave on the landing file system: bytes, or a percentage."""

    amount: float = 1 << 30
    percent: bool = False

    def bytes_of(self, total: int) -> int:
        """The floor in bytes on a file system of `total` bytes."""
        return int(total * self.amount / 100) if self.percent else int(self.amount)

    def __str__(self) -> str:
        return f"{self.amount:g}%" if self.percent else format_size(int(self.amount))


@dataclass(frozen=True)
class TlsFiles:
    """The server's certificate chain and private key (PEM) for FTPS."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class SinkConfig:
    """Where and how the sink listens, who may log in, and the limits it enforces."""

    root: Path = Path("items")
    host: str = "127.0.0.1"
    port: int = 2121
    # Data ports for PASV/EPSV, each held only from PASV until the data connection arrives (or
    # `accept_timeout`); None: any free port.
    passive_ports: range | None = range(30000, 30100)
    accept_timeout: float = 10.0  # seconds a passive port waits for its data connection
    port_wait: float = 5.0  # seconds a PASV waits for a free port when all are taken
    # (name, secret): secret is a password or a hash from `ftpsink hash-password`.
    users: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    # None: anonymous upload allowed only on a loopback bind without accounts.
    anonymous: bool | None = None
    max_connections: int = 256  # control connections in total
    max_connections_per_address: int = 128  # control connections from one client address
    # Failed logins are counted per client address, across connections (`admission.LoginGuard`).
    login_delay: float = 1.0  # seconds before the reply to an address's first failure; doubles
    max_login_failures: int = 3  # failed logins before a connection is closed
    ban_after: int = 10  # failed logins from one address before it is banned
    ban_time: float = 600.0  # first ban of an address; doubles with each further ban
    login_timeout: float = 30.0  # seconds a session has to log in; 0 disables it
    tls: TlsFiles | None = None  # explicit FTPS (AUTH TLS) when set
    require_tls: bool = False  # refuse logins and uploads on a plain connection
    min_free: FreeSpaceFloor = FreeSpaceFloor()
    max_file_size: int = 1 << 30  # bytes per upload; 0 disables the limit
    idle_timeout: float = 60.0  # seconds of silence on a control connection; 0 disables it
    # A transfer must bring `min_rate` bytes a second (at least one byte) over every
    # `stall_timeout` seconds, or it is cut (`transfer.paced`); 0 disables it.
    stall_timeout: float = 30.0
    min_rate: int = 1024
    receipt_key: bytes | None = field(default=None, repr=False)  # `core.receipts`; None: none
    block_size: int = 256 * 1024

    def __post_init__(self) -> None:
        if not self.users and not self.anonymous_allowed:
            raise ValueError(
                f"nobody could log in: anonymous upload is off on a non-loopback bind "
                f"({self.host}) unless --anonymous is given; add accounts with --users-file "
                f"or SCRAPYFLEET_FTPSINK_USERS"
                if self.anonymous is None
                else "nobody could log in: enable anonymous or add an account"
            )
        if self.users and self.anonymous:
            raise ValueError(
                "anonymous upload is off whenever accounts are configured: drop --anonymous, "
                "or the accounts"
            )
        if self.require_tls and self.tls is None:
            raise ValueError("--require-tls needs --tls-cert and --tls-key")

    @property
    def anonymous_allowed(self) -> bool:
        if self.users:
            return False
        return is_loopback(self.host) if self.anonymous is None else self.anonymous


def parse_port_range(text: str) -> range | None:
    """`30000-30099` or `30000` -> ports; `0` or empty -> None (any free port)."""
    text = text.strip()
    if text in ("", "0"):
        return None
    first, sep, last = text.partition("-")
    try:
        low, high = int(first), int(last if sep else first)
    except ValueError:
        raise ValueError(f"passive ports must look like 30000-30099, got {text!r}") from None
    if not 0 < low <= high <= 65535:
        raise ValueError(f"passive port range {text!r} is empty or outside 1-65535")
    return range(low, high + 1)


def format_port_range(ports: range | None) -> str:
    """The text `parse_port_range` reads back."""
    return "0" if ports is None else f"{ports.start}-{ports.stop - 1}"


def format_size(size: int) -> str:
    """Bytes in the largest binary unit that divides them (`1073741824` -> `1G`)."""
    for suffix, unit in reversed(SIZE_SUFFIXES.items()):
        if size and size % unit == 0:
            return f"{size // unit}{suffix}"
    return str(size)


def parse_size(text: str) -> int:
    """`1048576`, `512K`, `200M`, `1G` or `1T` -> bytes (binary multiples)."""
    text = text.strip().upper().removesuffix("B")
    suffix = text[-1:] if text[-1:] in SIZE_SUFFIXES else ""
    number = text[: len(text) - len(suffix)]
    if not number.isdigit():
        raise ValueError(f"size must look like 1048576, 512K, 200M or 1G, got {text!r}")
    return int(number) * SIZE_SUFFIXES[suffix]


def parse_free_space(text: str) -> FreeSpaceFloor:
    """`1G` (a size, see `parse_size`) or `5%` (of the file system) -> a free-space floor."""
    text = text.strip()
    if not text.endswith("%"):
        return FreeSpaceFloor(parse_size(text))
    try:
        percent = float(text[:-1])
    except ValueError:
        percent = -1.0
    if not 0 <= percent < 100:
        raise ValueError(f"free-space percentage must be within 0-100, got {text!r}")
    return FreeSpaceFloor(percent, percent=True)
