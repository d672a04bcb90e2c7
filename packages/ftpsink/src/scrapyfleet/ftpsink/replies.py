"""The sink's side of the contract on the wire: every refusal, abort, login and landing reply it
sends, held here once (described in docs/architecture.md, "ftpsink: the ingest contract").

A `Refusal` is a command refused before it does anything (logged `refused`, sent as `CODE
COMMAND refused: REASON`); a `Reply` is sent as it stands (`connection.response(*reply)`).
Protocol acknowledgements (FEAT, NOOP, OPTS, PBSZ, PROT, CWD) stay with their commands.
"""

from __future__ import annotations

from typing import NamedTuple


class Reply(NamedTuple):
    """One reply line: its code and its text."""

    code: str
    text: str

    def line(self) -> bytes:
        """The reply as written to a socket aioftp does not manage (yet)."""
        return f"{self.code} {self.text}\r\n".encode()


class Refusal(NamedTuple):
    """Why a command is refused, and the code it gets."""

    code: str
    reason: str

    def reply(self, command: str) -> Reply:
        return Reply(self.code, f"{command.upper()} refused: {self.reason}")


# -- sessions and logins ---------------------------------------------------------------------------
WELCOME = "scrapyfleet ftpsink, upload-only"  # 220, aioftp's greeting
PASSWORD_REQUIRED = "password required"  # 331 to USER, for every name but anonymous
ANONYMOUS_IN = "anonymous login, upload only"  # 230 to USER anonymous
LOGGED_IN = Reply("230", "logged in, upload only")
ALREADY_LOGGED_IN = Reply("503", "already logged in")
LOGIN_TIMEOUT = Reply("421", "login timeout, closing")
BANNED = Reply("421", "address banned for failed logins, closing")


def not_admitted(reason: str) -> Reply:
    """At connect, before the greeting: a banned address, or a connection cap reached."""
    return Reply("421", reason)


def login_incorrect(closing: bool) -> Reply:
    """A failed PASS, unknown name or wrong password alike."""
    return Reply("530", "login incorrect" + (", closing" if closing else ""))


# -- refusals --------------------------------------------------------------------------------------
NOT_UTF8 = Refusal("501", "command line is not valid UTF-8")
LINE_TOO_LONG = Refusal("500", "command line too long, closing")
UPLOAD_ONLY = Refusal("502", "upload-only server")
LOGIN_NEEDS_TLS = Refusal("530", "TLS required: AUTH TLS first")
TLS_OFF = Refusal("502", "TLS is not configured")
ONLY_AUTH_TLS = Refusal("504", "only AUTH TLS is supported")
ALREADY_TLS = Refusal("503", "already on TLS")
AUTH_FIRST = Refusal("503", "AUTH TLS first")
PROT_C_REFUSED = Refusal("534", "TLS required on data connections")
ONLY_PROT_P_OR_C = Refusal("504", "only PROT P or PROT C")
DATA_NEEDS_TLS = Refusal("521", "TLS required on data connections: PROT P first")
NO_SUBDIRECTORY = "files land in / only: no subdirectories"
NO_DIRECTORY = Refusal("550", NO_SUBDIRECTORY)  # CWD below /, MKD
NOT_IN_ROOT = Refusal("553", NO_SUBDIRECTORY)  # STOR from a directory below /
OUTSIDE_ROOT = Refusal("550", "path leads outside the root")
EXISTS = Refusal("553", "file exists and is never overwritten")


def bad_name(problem: str) -> Refusal:
    """A name that is no landing name (`core.contracts.landing_name_problem`), or a hidden one."""
    return Refusal("553", problem)


def no_space(problem: str) -> Refusal:
    """Below the free-space floor (`space.free_space_problem`)."""
    return Refusal("452", problem)


# -- an upload -------------------------------------------------------------------------------------
STARTED = Reply("150", "data transfer started")
NOTHING_TO_ABORT = Reply("226", "nothing to abort")
NO_DATA_CONNECTION = Reply("425", "can't open data connection")
# Ends before landing (`transfer.Aborted`: each with the reason it is logged under).
CLIENT_GONE = Reply("426", "control connection closed")
ABORTED = Reply("426", "transfer aborted")  # cancelled: aioftp's @worker sends it, then 226
STALLED = Reply("426", "data connection stalled")
RESET = Reply("426", "data connection reset")
DISK_FULL = Reply("452", "insufficient storage, nothing stored")
LOCAL_ERROR = Reply("451", "local error, nothing stored")
NAME_TAKEN = Reply(EXISTS.code, EXISTS.reason)  # the name was taken while the upload ran


def too_slow(quota: int, seconds: float) -> Reply:
    return Reply("426", f"transfer stalled: under {quota} bytes in {seconds:g} s")


def too_large(limit: int) -> Reply:
    return Reply("552", f"upload exceeds the {limit}-byte limit")


def filled_up(problem: str) -> Reply:
    """The free-space floor reached while writing: the upload is dropped."""
    return Reply("452", f"{problem}, nothing stored")


def landed(name: str, receipt: str | None) -> Reply:
    """The upload is in place under `name`; with a key, its signed receipt (`core.receipts`)."""
    return Reply("226", f"landed {name}" + (f"; {receipt}" if receipt else ""))
