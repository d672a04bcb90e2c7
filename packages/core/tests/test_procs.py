"""Process and port helpers against real sockets, processes and HTTP."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from scrapyfleet.core.procs import (
    cmdline,
    free_port,
    free_port_block,
    is_local_address,
    is_loopback,
    pid_alive,
    port_open,
    stop_group,
    url_ok,
)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True), ("::1", True),
     ("[::1]", True), ("0.0.0.0", False), ("::", False), ("10.1.2.3", False),
     ("example.org", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("host", "local"),
    [("127.0.0.1", True), ("localhost", True), ("192.0.2.10", False),  # TEST-NET-1: nobody's
     ("no-such-host.invalid", True)],  # unresolvable: nothing to say about it
)  # fmt: skip
def test_is_local_address_binds_to_tell(host: str, local: bool) -> None:
    assert is_local_address(host) is local


def test_free_ports_are_bindable_and_blocks_consecutive() -> None:
    base = free_port_block(3)
    for port in (free_port(), base, base + 1, base + 2):
        assert not port_open("127.0.0.1", port)


@pytest.fixture
def server() -> Iterator[str]:
    """An HTTP server answering 200 with the right Authorization header, 401 without."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = self.headers.get("Authorization") == "Basic dTpw"
            self.send_response(200 if ok else 401)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_url_ok_sends_headers(server: str) -> None:
    assert not url_ok(server)
    assert url_ok(server, headers={"Authorization": "Basic dTpw"})
    assert not url_ok(f"http://127.0.0.1:{free_port()}")


def test_stop_group_terminates_a_group_and_its_children() -> None:
    # A shell that ignores nothing, with a child of its own, in a new session.
    proc = subprocess.Popen(
        [sys.executable, "-c", "import subprocess,sys,time;"
         "subprocess.Popen([sys.executable,'-c','import time; time.sleep(60)']);time.sleep(60)"],
        start_new_session=True,
    )  # fmt: skip
    assert pid_alive(proc.pid)
    assert stop_group(proc.pid, grace=5.0)
    assert not pid_alive(proc.pid)


def test_stop_group_kills_what_ignores_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", "import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
         "print('ready', flush=True); time.sleep(60)"],
        start_new_session=True, stdout=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    assert stop_group(proc.pid, grace=0.2)  # reaps it: SIGTERM was ignored, SIGKILL was not
    assert not pid_alive(proc.pid)


def test_a_zombie_is_not_alive_and_a_command_line_is_read_until_the_process_is_gone() -> None:
    code = "import sys; print('ready', flush=True); sys.stdin.read()"
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    assert cmdline(proc.pid) == f"{sys.executable}\0-c\0{code}".encode()
    assert proc.stdin is not None
    proc.stdin.close()
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: a zombie
    assert not pid_alive(proc.pid)
    assert cmdline(proc.pid) == b""
    proc.wait()
    proc.stdout.close()
