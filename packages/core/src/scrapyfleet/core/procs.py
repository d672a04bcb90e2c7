"""Processes and ports: free ports, loopback binds, is a PID alive and its command line, stop a
process group (psutil for the process side), does a URL answer."""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import sys
import urllib.request
from collections.abc import Mapping
from pathlib import Path

import psutil

from scrapyfleet.core.waits import wait_until


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def free_port_block(count: int, host: str = "127.0.0.1", tries: int = 50) -> int:
    """The first of `count` consecutive free TCP ports; OSError if none is found."""
    for _ in range(tries):
        base = free_port(host)
        if base + count <= 65536 and all(_bindable(host, base + k) for k in range(1, count)):
            return base
    raise OSError(f"found no {count} consecutive free ports on {host}")


def _bindable(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def is_loopback(host: str) -> bool:
    """Whether a bind address is reachable from this machine only (`localhost`, 127.0.0.0/8,
    ::1). `0.0.0.0`, `::`, names and other addresses are not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_local_address(host: str) -> bool:
    """Whether `host` names an address of this machine (one it can bind); a name that does not
    resolve counts as local (nothing to say about it)."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return True
    for family, _, _, _, address in infos:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((address[0], 0))
            except OSError:
                continue
            return True
    return False


def url_ok(url: str, timeout: float = 1.0, headers: Mapping[str, str] | None = None) -> bool:
    """Whether GET `url` (with `headers`) answers 200."""
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    """Whether `pid` names a live (non-zombie) process."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def cmdline(pid: int) -> bytes:
    """The command line of `pid`, its arguments NUL-separated (empty if it is gone)."""
    try:
        return "\0".join(psutil.Process(pid).cmdline()).encode()
    except psutil.Error:
        return b""


def stop_group(pid: int, grace: float = 10.0, kill_wait: float = 5.0) -> bool:
    """SIGTERM the process group led by `pid`, SIGKILL it after `grace` seconds; reap `pid` if it
    is our child. False if the group was already gone."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, kill_wait)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return sig != signal.SIGTERM
        if wait_until(lambda: _ended(pid), wait):
            return True
    return True


def _ended(pid: int) -> bool:
    """Whether `pid` has ended (a zombie has), reaping it if it is our child."""
    try:
        psutil.Process(pid).wait(0)
    except psutil.TimeoutExpired:
        return not pid_alive(pid)
    except psutil.NoSuchProcess:
        pass
    return True


def script(name: str) -> str:
    """The console script `name` installed next to this Python."""
    return str(Path(sys.executable).parent / name)
