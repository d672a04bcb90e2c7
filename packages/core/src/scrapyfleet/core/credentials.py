"""Credentials: a password from the environment or a file (never the command line), the refusal
to serve off loopback without one, HTTP basic auth (aiohttp's `encode_basic_auth` and
`BasicAuth.decode`; aiohttp 3.14 deprecates building a `BasicAuth` and `auth=`) and URLs with
their passwords scrubbed for logs and stored options."""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from aiohttp import BasicAuth, encode_basic_auth

from scrapyfleet.core.procs import is_loopback
from scrapyfleet.core.targets import Target

MASK = "***"  # what a scrubbed password reads as in logs and summaries


@dataclass(frozen=True, slots=True)
class Credentials:
    """One user name and password: what a client sends, or the one login a server accepts."""

    user: str
    password: str

    @classmethod
    def of(cls, target: Target) -> Credentials | None:
        """A scrapyd target's basic-auth login, if it has one."""
        return cls(target.username, target.password or "") if target.username else None

    def header(self) -> dict[str, str]:
        """The `Authorization` header that carries these credentials."""
        return {"Authorization": encode_basic_auth(self.user, self.password)}

    def accept(self, header: str | None) -> bool:
        """Whether an `Authorization` header carries these credentials (constant-time)."""
        given = basic_auth(header)
        user, password = (given.login, given.password) if given else ("", "")
        same_user = hmac.compare_digest(user.encode(), self.user.encode())
        same_password = hmac.compare_digest(password.encode(), self.password.encode())
        return given is not None and same_user and same_password


def basic_auth(header: str | None) -> BasicAuth | None:
    """The login an `Authorization: Basic` header (UTF-8) carries; None for anything else."""
    try:
        return BasicAuth.decode((header or "").strip(), encoding="utf-8")
    except ValueError:
        return None


def auth_header(target: Target) -> dict[str, str]:
    """The headers that log in to a scrapyd target (none without a user)."""
    login = Credentials.of(target)
    return login.header() if login else {}


def read_password(variable: str, file: Path | None) -> str:
    """The first line of `file` if given, else environment variable `variable` ('' if unset);
    ValueError naming the file when it cannot be read or is empty."""
    if file is None:
        return os.environ.get(variable, "")
    try:
        return file.read_text(encoding="utf-8").splitlines()[0]
    except (OSError, UnicodeDecodeError, IndexError) as e:
        raise ValueError(f"{file}: cannot read a password ({e or 'empty file'})") from None


def refuse_open(host: str, protected: bool, refusal: str) -> None:
    """ValueError(`refusal`) when a server would listen off loopback (`host`) unprotected."""
    if not protected and not is_loopback(host):
        raise ValueError(refusal)


def scrubbed(url: str, mask: str | None = MASK) -> str:
    """`url` with its password replaced by `mask`, or dropped (user kept) when `mask` is None."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    kept = f":{mask}@" if mask is not None else "@"
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", kept, 1)).geturl()


def redacted(url: str) -> str:
    """A URL fit for a log when any part may be a secret: user info and query left out."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
