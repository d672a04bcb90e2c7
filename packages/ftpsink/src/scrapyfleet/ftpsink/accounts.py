"""Accounts: who may log in, with secrets kept as salted scrypt hashes (or, tolerated, plain text).

A secret is a `scrapyfleet.core.passwords` hash (`scrypt$N$r$p$SALT$HASH`, from `ftpsink
hash-password`) or a plain password. Comparisons are constant-time; an unknown name is checked
against a decoy hash, so it costs what a wrong password costs and gets the same replies (331 to
USER, 530 to PASS).
"""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import aioftp

from scrapyfleet.core.passwords import check_secret, hash_password, verify
from scrapyfleet.ftpsink.replies import ANONYMOUS_IN, PASSWORD_REQUIRED

ANONYMOUS = "anonymous"

Response = aioftp.AbstractUserManager.GetUserResponse

DECOY = hash_password(os.urandom(16).hex())  # what unknown names are checked against


def parse_account(text: str) -> tuple[str, str]:
    """`NAME:SECRET` -> (name, secret); the secret may contain colons."""
    name, sep, secret = text.strip().partition(":")
    if not name or not sep or not secret:
        raise ValueError(f"account must look like NAME:HASH or NAME:PASSWORD, got {name or text!r}")
    check_secret(secret)
    return name, secret


def read_users_file(path: Path) -> list[tuple[str, str]]:
    """Accounts from a file: one `NAME:SECRET` a line; blank lines and `#` comments skipped."""
    accounts = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            try:
                accounts.append(parse_account(line))
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: {exc}") from None
    return accounts


def parse_accounts(listed: str) -> list[tuple[str, str]]:
    """`NAME:SECRET,NAME:SECRET` (SCRAPYFLEET_FTPSINK_USERS) -> accounts."""
    return [parse_account(item) for item in listed.split(",") if item.strip()]


class Accounts(aioftp.AbstractUserManager):
    """aioftp user manager: every name but anonymous gets "password required"; unknown names fail
    at PASS exactly like wrong passwords."""

    def __init__(
        self, accounts: Iterable[tuple[str, str]], anonymous: bool, base_path: Path
    ) -> None:
        super().__init__()
        # Nothing here ever reads; aioftp's own read checks stay closed all the same.
        upload_only = [aioftp.Permission("/", readable=False, writable=True)]

        def user(name: str | None) -> aioftp.User:
            return aioftp.User(name, None, base_path=base_path, permissions=upload_only)

        self.secrets = {user(name): secret for name, secret in accounts}
        self.by_name = {found.login: found for found in self.secrets}
        self.anonymous = user(ANONYMOUS) if anonymous else None
        self.nobody = aioftp.User(None, None, base_path=base_path, permissions=[])

    async def get_user(self, login: str) -> tuple[Response, aioftp.User | None, str]:
        if self.anonymous is not None and login == ANONYMOUS:
            return Response.OK, self.anonymous, ANONYMOUS_IN
        return Response.PASSWORD_REQUIRED, self.by_name.get(login, self.nobody), PASSWORD_REQUIRED

    async def authenticate(self, user: aioftp.User, password: str) -> bool:
        known = user in self.secrets
        secret = self.secrets[user] if known else DECOY
        return await asyncio.to_thread(verify, secret, password) and known


def main(argv: Sequence[str] | None = None) -> int:
    """`ftpsink hash-password [NAME]`: read a password (prompted on a TTY, else one line of stdin)
    and print `NAME:HASH` (or just the hash) for a users file."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["-h"], ["--help"]) or len(args) > 1:
        print("usage: ftpsink hash-password [NAME] < password  (prints NAME:HASH for --users-file)")
        return 0 if args[:1] in (["-h"], ["--help"]) else 2
    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("ftpsink hash-password: empty password", file=sys.stderr)
        return 2
    hashed = hash_password(password)
    print(f"{args[0]}:{hashed}" if args else hashed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
