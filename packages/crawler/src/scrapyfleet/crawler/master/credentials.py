"""Per-attempt credentials: what a worker job proves it is, without the run's secret.

Each scheduled attempt of a batch gets `attempt_credential(secret, batch, attempt)`, an HMAC of
the batch id and attempt number under the run secret. The job uses it to fetch its batch and to
report; the master recomputes it, so a credential opens exactly one attempt of one batch, and the
secret itself never leaves the master (docs/architecture.md, "Batch endpoint").
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh run secret (hex)."""
    return secrets.token_hex(SECRET_BYTES)


def attempt_credential(secret: str, batch: str, attempt: int) -> str:
    """The credential of attempt `attempt` of `batch` (hex)."""
    message = f"{batch}\n{attempt}".encode()
    return hmac.new(bytes.fromhex(secret), message, hashlib.sha256).hexdigest()


def verify(secret: str, batch: str, attempt: int, credential: str) -> bool:
    """Whether `credential` is the one of that attempt (constant-time)."""
    expected = attempt_credential(secret, batch, attempt)
    return hmac.compare_digest(expected.encode(), credential.encode())
