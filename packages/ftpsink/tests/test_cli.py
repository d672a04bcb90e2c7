"""The `ftpsink` console script as a real process: options, env vars, logs, signals.

Over 250 lines on purpose: one case per option, variable and signal of one console script.
"""

from __future__ import annotations

import ftplib
import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

FTPSINK = str(Path(sys.executable).parent / "ftpsink")  # the venv's console script


class SinkProcess:
    def __init__(self, args: list[str], log: Path, env: dict[str, str]) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [FTPSINK, *args], stdout=subprocess.DEVNULL, stderr=log.open("w"), env=env
        )

    def events(self, name: str) -> list[dict]:
        lines = self.log.read_text().splitlines()
        return [event for event in map(json.loads, lines) if event["event"] == name]


def clean_env(**env: str) -> dict[str, str]:
    """This process's environment without ftpsink settings, plus `env`."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPYFLEET_FTPSINK_")}
    return {**inherited, **env}


@pytest.fixture
def launch(tmp_path: Path) -> Iterator:
    started: list[SinkProcess] = []

    def start(*args: str, **env: str) -> SinkProcess:
        process = SinkProcess(list(args), tmp_path / f"sink{len(started)}.log", clean_env(**env))
        started.append(process)
        return process

    yield start
    for sink in started:
        if sink.process.poll() is None:
            sink.process.kill()
            sink.process.wait(timeout=10)


def test_help_shows_every_option_with_default():
    out = subprocess.run([FTPSINK, "--help"], capture_output=True, text=True, check=True).stdout
    out = " ".join(out.split())  # help lines wrap anywhere
    for option in ("--host", "--port", "--root", "--passive-ports", "--accept-timeout",
                   "--port-wait", "--users-file", "--anonymous", "--no-anonymous",
                   "--max-connections", "--max-connections-per-address", "--login-delay",
                   "--max-login-failures", "--tls-cert", "--tls-key", "--require-tls",
                   "--min-free", "--max-file-size", "--idle-timeout", "hash-password",
                   "--ban-after", "--ban-time", "--login-timeout", "--stall-timeout",
                   "--min-rate", "--receipt-key-file",
                   "SCRAPYFLEET_FTPSINK_RECEIPT_KEY"):  # fmt: skip
        assert option in out
    for default in ("127.0.0.1", "2121", "items", "30000-30099", "10.0", "5.0", "256", "128",
                    "1.0", "3", "1G", "60", "10", "600", "30", "1K"):  # fmt: skip
        assert f"(default: {default})" in out
    assert "without a key, no receipt" in out


def test_bad_option_is_a_clear_error():
    run = subprocess.run([FTPSINK, "--passive-ports", "lots"], capture_output=True, text=True)
    assert run.returncode == 2
    assert "passive ports must look like 30000-30099" in run.stderr


def test_env_vars_configure_the_server(launch, tmp_path, free_port, wait_for):
    port, root = free_port(), tmp_path / "landing"
    sink = launch(
        SCRAPYFLEET_FTPSINK_PORT=str(port),
        SCRAPYFLEET_FTPSINK_ROOT=str(root),
        SCRAPYFLEET_FTPSINK_PASSIVE_PORTS="0",
        SCRAPYFLEET_FTPSINK_USERS="alice:pw1,bob:pw2",
        SCRAPYFLEET_FTPSINK_ANONYMOUS="false",
    )
    (listening,) = wait_for(lambda: sink.events("listening"), timeout=20, what="listening")
    assert (listening["host"], listening["port"], listening["root"]) == (
        "127.0.0.1", port, str(root.resolve()),
    )  # fmt: skip

    with ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", port, timeout=10)
        ftp.login("bob", "pw2")
        ftp.storbinary("STOR env.jl", io.BytesIO(b"{}\n"))
    with ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", port, timeout=10)
        with pytest.raises(ftplib.error_perm, match=r"^530"):
            ftp.login()

    assert (root / "env.jl").read_bytes() == b"{}\n"
    (landed,) = sink.events("landed")
    assert landed["name"] == "env.jl" and landed["bytes"] == 3


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_mid_upload_exits_cleanly_and_lands_nothing(
    launch, tmp_path, free_port, wait_for, signum
):
    port, root = free_port(), tmp_path / "items"
    sink = launch("--port", str(port), "--root", str(root), "--passive-ports", "0")
    wait_for(lambda: sink.events("listening"), timeout=20, what="listening")
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", port, timeout=10)
    ftp.login()
    data = ftp.transfercmd("STOR cut.jl")
    data.sendall(b"c" * 100_000)
    staging = root / ".staging"
    wait_for(
        lambda: sum(p.stat().st_size for p in staging.iterdir()) == 100_000,
        timeout=10,
        what="bytes staged",
    )

    sink.process.send_signal(signum)

    assert sink.process.wait(timeout=20) == 0
    data.close()
    ftp.close()
    (aborted,) = sink.events("aborted")
    assert (aborted["name"], aborted["reason"], aborted["bytes"]) == ("cut.jl", "shutdown", 100_000)
    assert sink.events("stopped")
    assert sorted(p.name for p in root.iterdir()) == [".staging"]
    assert list(staging.iterdir()) == []


def test_public_bind_without_accounts_exits_2_before_binding(free_port):
    port = free_port()
    run = subprocess.run(
        [FTPSINK, "--host", "0.0.0.0", "--port", str(port)],
        capture_output=True, text=True, timeout=30, env=clean_env(),
    )  # fmt: skip
    assert run.returncode == 2
    assert "anonymous upload is off on a non-loopback bind (0.0.0.0)" in run.stderr
    assert "listening" not in run.stderr


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--receipt-key", "k" * 32], {}, "--receipt-key is not accepted"),
        ([], {"SCRAPYFLEET_FTPSINK_RECEIPT_KEY": "short"}, "receipt key: a receipt key needs at"),
        (["--receipt-key-file", "/nonexistent/key"], {}, "cannot read --receipt-key-file"),
        (["--receipt-key-file", "/dev/null"], {"SCRAPYFLEET_FTPSINK_RECEIPT_KEY": "k" * 32},
         "give the receipt key once"),
        (["--anonymous"], {"SCRAPYFLEET_FTPSINK_USERS": "w:pw"}, "anonymous upload is off"),
    ],
)  # fmt: skip
def test_bad_receipt_key_or_anonymous_with_accounts_exits_2(args, env, message):
    run = subprocess.run([FTPSINK, *args], capture_output=True, text=True, env=clean_env(**env))
    assert run.returncode == 2
    assert message in run.stderr


def test_receipt_key_from_the_environment_signs_every_226(launch, tmp_path, free_port, wait_for):
    from scrapyfleet.core import receipts

    key = "0123456789abcdef0123456789abcdef"
    port, root = free_port(), tmp_path / "items"
    sink = launch("--port", str(port), "--root", str(root), "--passive-ports", "0",
                  "--log-format", "json", SCRAPYFLEET_FTPSINK_RECEIPT_KEY=key)  # fmt: skip
    (listening,) = wait_for(lambda: sink.events("listening"), timeout=20, what="listening")
    assert listening["receipts"] is True and not sink.events("receipts_off")
    with ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", port, timeout=10)
        ftp.login()
        receipt = receipts.parse(ftp.storbinary("STOR r.jl", io.BytesIO(b"{}\n{}\n")))
    assert receipt is not None and receipts.verify(key.encode(), receipt)
    assert (receipt.name, receipt.size, receipt.lines) == ("r.jl", 6, 2)
    assert key not in sink.log.read_text()


def test_receipt_key_file_readable_by_others_is_warned_about(launch, tmp_path, free_port, wait_for):
    from scrapyfleet.core import receipts

    key_file = tmp_path / "receipt.key"
    key_file.write_text("0123456789abcdef0123456789abcdef\n")
    key_file.chmod(0o644)
    port = free_port()
    sink = launch("--port", str(port), "--root", str(tmp_path / "items"), "--passive-ports", "0",
                  "--log-format", "json", "--receipt-key-file", str(key_file))  # fmt: skip
    wait_for(lambda: sink.events("listening"), timeout=20, what="listening")
    (exposed,) = sink.events("receipt_key_exposed")
    assert (exposed["mode"], exposed["hint"]) == ("0o644", f"chmod 600 {key_file}")
    with ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", port, timeout=10)
        ftp.login()
        receipt = receipts.parse(ftp.storbinary("STOR k.jl", io.BytesIO(b"{}\n")))
    assert receipt is not None and receipts.verify(receipts.read_key_file(key_file), receipt)


def test_password_on_the_command_line_is_refused():
    run = subprocess.run([FTPSINK, "--user", "worker:secret"], capture_output=True, text=True)
    assert run.returncode == 2
    assert "--user is not accepted" in run.stderr


def test_hashed_account_from_users_file_logs_in_and_no_password_is_logged(
    launch, tmp_path, free_port, wait_for
):
    hashed = subprocess.run(
        [FTPSINK, "hash-password", "worker"], input="Pa55-cli\n", capture_output=True,
        text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert hashed.startswith("worker:scrypt$")
    users = tmp_path / "users"
    users.write_text(f"# workers\n{hashed}\n")
    port, root = free_port(), tmp_path / "landing"
    sink = launch("--no-anonymous", "--port", str(port), "--root", str(root),
                  "--users-file", str(users), "--passive-ports", "0", "--login-delay", "0",
                  "--log-level", "DEBUG")  # fmt: skip
    (listening,) = wait_for(lambda: sink.events("listening"), timeout=20, what="listening")
    assert (listening["anonymous"], listening["accounts"]) == (False, 1)

    with ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", port, timeout=10)
        with pytest.raises(ftplib.error_perm, match=r"^530"):
            ftp.login("worker", "Wrong-cli")
        ftp.login("worker", "Pa55-cli")
        ftp.storbinary("STOR hashed.jl", io.BytesIO(b"{}\n"))
    assert (root / "hashed.jl").read_bytes() == b"{}\n"
    wait_for(lambda: sink.events("landed"), timeout=10, what="landed")
    log = sink.log.read_text()
    assert "Pa55-cli" not in log and "Wrong-cli" not in log
    assert sink.events("login_failed")[0]["user"] == "worker"


def test_metrics_count_uploads_and_bytes(launch, tmp_path, free_port, wait_for):
    """`--metrics`: Prometheus text that parses; counters equal what landed and was refused."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    port, metrics, root = free_port(), free_port(), tmp_path / "items"
    sink = launch("--port", str(port), "--root", str(root), "--passive-ports", "0",
                  "--metrics", f"127.0.0.1:{metrics}", "--log-format", "json")  # fmt: skip
    wait_for(lambda: sink.events("metrics_serving"), timeout=20, what="the metrics exporter")
    with ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", port, timeout=10)
        ftp.login()
        for name, body in (("a.jl", b'{"url": "a"}\n'), ("b.jl", b'{"url": "b"}\n' * 3)):
            ftp.storbinary(f"STOR {name}", io.BytesIO(body))
        with pytest.raises(ftplib.error_perm):
            ftp.storbinary("STOR _hidden.jl", io.BytesIO(b"x"))

    def samples() -> dict[tuple[str, str], float]:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=5) as answer:
            text = answer.read().decode()
        return {
            (s.name, s.labels.get("outcome", "")): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    got = wait_for(
        lambda: (m := samples())[("scrapyfleet_ftpsink_uploads_total", "landed")] == 2 and m,
        timeout=10, what="two landed uploads counted",
    )  # fmt: skip
    assert got[("scrapyfleet_ftpsink_uploads_total", "refused")] == 1
    assert got[("scrapyfleet_ftpsink_uploads_total", "aborted")] == 0
    landed = sum(path.stat().st_size for path in root.glob("*.jl"))
    assert got[("scrapyfleet_ftpsink_bytes_total", "")] == landed == 13 * 4
    sink.process.send_signal(signal.SIGTERM)
    assert sink.process.wait(timeout=15) == 0
