"""How a scheduled job proves which attempt it runs, with nothing secret on its command line.

A job's command line (visible in `ps` and scrapyd's files) carries only ids: the batch (its id
begins with the run id), the attempt, and the scrapyd job id the master chose (`-a _job=`). A
node with HTTP basic auth gives its jobs its environment, `SCRAPYD_PASSWORD` included (scrapyd
1.6 reads its credentials from there): the job's proof is an HMAC of those ids under that
password, which the master knows from the node's deploy target. Its first fetch bears the proof
and gets the attempt's own credential for the rest (docs/architecture.md, "Secrets").

A node without auth has no secret that a job holds and another local user lacks (and such a user
can already run any code through that scrapyd's addversion/schedule): there the first fetch of an
attempt by its job id claims it, and every later one is refused.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

PASSWORD_ENV: Final = "SCRAPYD_PASSWORD"
_DOMAIN: Final = "scrapyfleet-job v1"


def job_proof(password: str, batch: str, attempt: int, job: str) -> str:
    """The proof of attempt `attempt` of `batch` run as scrapyd job `job` (hex HMAC-SHA256)."""
    message = "\n".join((_DOMAIN, batch, str(attempt), job)).encode()
    return hmac.new(password.encode(), message, hashlib.sha256).hexdigest()


def is_proof(password: str, batch: str, attempt: int, job: str, proof: str) -> bool:
    """Whether `proof` is that job's (constant-time)."""
    return hmac.compare_digest(job_proof(password, batch, attempt, job).encode(), proof.encode())
