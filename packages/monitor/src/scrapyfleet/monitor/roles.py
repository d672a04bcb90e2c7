"""Who may do what on the console: `viewer` sees, `operator` controls.

Accounts come from a users file, one `NAME:ROLE:SECRET` a line (ROLE `viewer` or `operator`;
SECRET a `scrypt$N$r$p$SALT$HASH` from `monitor-hash-password NAME ROLE`, or a plain
password), blank lines and `#` comments skipped. A checked `Authorization` header is
remembered (by its SHA-256) so scrypt runs once per login, not once per request. A
state-changing request must also come from the console's own origin and carry the CSRF token
`/api/me` hands out (`writable`).
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import ipaddress
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from scrapyfleet.core.credentials import basic_auth
from scrapyfleet.core.passwords import check_secret, hash_password, verify

ROLES = ("viewer", "operator")
OPERATOR = "operator"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
REMEMBERED = 1000  # checked headers kept; past that the oldest is forgotten
DECOY = hash_password(os.urandom(16).hex())  # what unknown names are checked against


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request, and the role they hold."""

    name: str
    role: str

    @property
    def operator(self) -> bool:
        return self.role == OPERATOR


LOCAL = Principal("local", OPERATOR)  # a loopback console without accounts


def parse_user(text: str) -> tuple[str, str, str]:
    """`NAME:ROLE:SECRET` -> (name, role, secret); the secret may contain colons."""
    name, _, rest = text.strip().partition(":")
    role, _, secret = rest.partition(":")
    if not name or not secret or role not in ROLES:
        raise ValueError(f"want NAME:ROLE:SECRET with ROLE one of {', '.join(ROLES)}")
    check_secret(secret)
    return name, role, secret


class Accounts:
    """The accounts the console accepts (basic auth), each with its role."""

    def __init__(self, users: list[tuple[str, str, str]]) -> None:
        self.users = {name: (role, secret) for name, role, secret in users}
        self._known: dict[bytes, Principal] = {}

    @classmethod
    def from_file(cls, path: Path) -> Accounts:
        """ValueError naming the line of a malformed entry, or an empty file."""
        users = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip() and not line.lstrip().startswith("#"):
                try:
                    users.append(parse_user(line))
                except ValueError as e:
                    raise ValueError(f"{path}:{number}: {e}") from None
        if not users:
            raise ValueError(f"{path}: no accounts")
        return cls(users)

    def who(self, header: str | None) -> Principal | None:
        """The principal an `Authorization: Basic` header proves, or None."""
        given = basic_auth(header)
        if given is None:
            return None
        key = hashlib.sha256(given.encode().encode()).digest()
        if key in self._known:
            return self._known[key]
        name, password = given.login, given.password
        role, secret = self.users.get(name, ("", DECOY))
        if not verify(secret, password) or not role:
            return None
        if len(self._known) >= REMEMBERED:
            self._known.pop(next(iter(self._known)))
        self._known[key] = Principal(name, role)
        return self._known[key]

    def accept(self, header: str | None) -> bool:
        """Whether the header carries a valid account (the console's basic-auth gate)."""
        return self.who(header) is not None


class Csrf:
    """Per-user tokens under a secret drawn at start (a restarted monitor hands out new ones)."""

    def __init__(self) -> None:
        self._secret = os.urandom(32)

    def token(self, principal: Principal) -> str:
        return hmac.new(self._secret, principal.name.encode(), hashlib.sha256).hexdigest()

    def valid(self, principal: Principal, token: str | None) -> bool:
        return hmac.compare_digest(self.token(principal), token or "")


def loopback_host(host: str) -> bool:
    """Whether a Host header names loopback literally (a DNS name pointing there does not count:
    that is how a rebinding page would reach the console)."""
    name = host[1:].partition("]")[0] if host.startswith("[") else host.partition(":")[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def writable(request: web.Request, principal: Principal, csrf: Csrf, local: bool) -> str | None:
    """Why a state-changing request is refused (None: it may go ahead). `local`: a console
    without accounts, which answers only requests addressed to a loopback host."""
    origin = request.headers.get("Origin")
    if not principal.operator:
        return f"{principal.name} is a {principal.role}: operators only"
    if origin != f"{request.scheme}://{request.host}":
        return "cross-origin request" if origin else "no Origin header"
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return "cross-site request"
    if local and not loopback_host(request.host):
        return "a console without accounts takes control only at a loopback address"
    if not csrf.valid(principal, request.headers.get(CSRF_HEADER)):
        return f"missing or wrong {CSRF_HEADER}"
    return None


def main() -> int:
    """`monitor-hash-password NAME ROLE`: read a password (prompted on a TTY, else one line of
    stdin) and print the users-file line `NAME:ROLE:HASH`."""
    args = sys.argv[1:]
    if len(args) != 2 or args[1] not in ROLES:
        print(f"usage: monitor-hash-password NAME {{{','.join(ROLES)}}} < password")
        return 0 if args[:1] in (["-h"], ["--help"]) else 2
    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline()
    password = password.rstrip("\r\n")
    if not password:
        print("monitor-hash-password: empty password", file=sys.stderr)
        return 2
    print(f"{args[0]}:{args[1]}:{hash_password(password)}")
    return 0
