"""Password hashes shared by the servers that keep accounts: salted scrypt, `scrypt$N$r$p$SALT$HASH`
(base64), the format of ftpsink's users file. A plain password is tolerated; every comparison is
constant-time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

SCHEME = "scrypt"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 14, 8, 1  # ~16 MiB and some 50 ms per check


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _maxmem(n: int, r: int) -> int:
    return 256 * n * r  # twice what scrypt needs


def hash_password(password: str, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """A salted scrypt hash of `password`."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_maxmem(n, r))
    return f"{SCHEME}${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def is_hash(secret: str) -> bool:
    return secret.startswith(SCHEME + "$")


def check_secret(secret: str) -> None:
    """ValueError if `secret` looks like a hash but is not a well-formed one."""
    if not is_hash(secret):
        return
    try:
        _, n, r, p, salt, digest = secret.split("$")
        if int(n) < 2 or int(r) < 1 or int(p) < 1:
            raise ValueError
        base64.b64decode(salt, validate=True), base64.b64decode(digest, validate=True)
    except ValueError:
        raise ValueError("malformed scrypt hash (want scrypt$N$r$p$SALT$HASH)") from None


def verify(secret: str, password: str) -> bool:
    """Does `password` match `secret` (a hash or a plain password)?"""
    if not is_hash(secret):
        return hmac.compare_digest(secret.encode(), password.encode())
    _, n, r, p, salt, digest = secret.split("$")
    expected = base64.b64decode(digest)
    actual = hashlib.scrypt(
        password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
        maxmem=_maxmem(int(n), int(r)), dklen=len(expected),
    )  # fmt: skip
    return hmac.compare_digest(expected, actual)
