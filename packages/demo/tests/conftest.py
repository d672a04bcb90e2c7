"""Several hosts on one machine: Linux network namespaces joined by a bridge (`lan` fixture).

Each host is a namespace with its own loopback and one address of `SUBNET` on `eth0`; the bridge
lives in a namespace of its own, so the root namespace gets no interface, address or route. No
namespace has a default route: the subnet is the only thing any process can reach besides its
own loopback. Processes run in a host with `ip netns exec`; the test process itself talks to a
host's addresses only from inside a namespace (`Lan.call` runs a function in a thread moved
there with setns(2)), never from the root namespace.

Teardown (also after a failure) SIGKILLs every process left in every namespace, by PID (`ip netns
pids`), then deletes the namespaces, which deletes their veth pairs and the bridge.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

SUBNET = "10.231.7"  # a private /24 that exists only inside the test's namespaces
CLONE_NEWNET = 0x40000000
KILL_DEADLINE = 10.0
T = TypeVar("T")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=10)


class Lan:
    """Hosts `names[i]` at `SUBNET.(i+1)`, in namespaces `sf<tag>-<name>` (tag: unique per use)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.tag = secrets.token_hex(3)
        self.addresses = {name: f"{SUBNET}.{i}" for i, name in enumerate(names, start=1)}
        self.bridge = self.ns("lan")
        self.made: list[str] = []
        self.children: list[subprocess.Popen[bytes]] = []

    def ns(self, host: str) -> str:
        return f"sf{self.tag}-{host}"

    def up(self) -> None:
        _ip("netns", "add", self.bridge)
        self.made.append(self.bridge)
        _ip("-n", self.bridge, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.bridge, "link", "set", "br0", "up")
        for i, (host, address) in enumerate(self.addresses.items(), start=1):
            ns = self.ns(host)
            _ip("netns", "add", ns)
            self.made.append(ns)
            _ip("-n", ns, "link", "set", "lo", "up")
            # Both ends are created inside namespaces: the root namespace never holds them.
            _ip("-n", self.bridge, "link", "add", f"v{i}", "type", "veth",
                "peer", "name", "eth0", "netns", ns)  # fmt: skip
            _ip("-n", self.bridge, "link", "set", f"v{i}", "master", "br0", "up")
            _ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")

    def popen(
        self, host: str, argv: Sequence[str | Path], **kwargs: Any
    ) -> subprocess.Popen[bytes]:
        """Start `argv` in `host` (its own session); `ip netns exec` execs it, so the PID is the
        command's."""
        process = subprocess.Popen(
            ["ip", "netns", "exec", self.ns(host), *map(str, argv)],
            start_new_session=True, **kwargs,
        )  # fmt: skip
        self.children.append(process)
        return process

    def run(self, host: str, argv: Sequence[str | Path], **kwargs: Any) -> Any:
        """`subprocess.run` of `argv` in `host`."""
        return subprocess.run(["ip", "netns", "exec", self.ns(host), *map(str, argv)], **kwargs)

    def call(self, host: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)` in a thread inside `host`'s network namespace (sockets it opens
        belong to that host); the thread ends with the call, the test's own threads stay put."""
        result: list[T] = []
        failure: list[BaseException] = []

        def inside() -> None:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/var/run/netns/{self.ns(host)}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns into {self.ns(host)}")
            finally:
                os.close(fd)
            try:
                result.append(fn(*args, **kwargs))
            except BaseException as exc:
                failure.append(exc)

        thread = threading.Thread(target=inside, name=f"netns-{host}", daemon=True)
        thread.start()
        thread.join(timeout=60)
        if thread.is_alive():
            raise TimeoutError(f"a call in {host} did not return within 60s")
        if failure:
            raise failure[0]
        return result[0]

    def pids(self, host: str) -> list[int]:
        """Every process in `host`'s network namespace."""
        out = subprocess.run(["ip", "netns", "pids", self.ns(host)], capture_output=True,
                             text=True, timeout=10).stdout  # fmt: skip
        return [int(pid) for pid in out.split()]

    def kill_host(self, host: str) -> list[int]:
        """SIGKILL every process in `host`, until none is left (a dying scrapyd may still have
        forked a job); the PIDs killed."""
        return self._kill_ns(self.ns(host))

    def _kill_ns(self, ns: str) -> list[int]:
        killed: list[int] = []
        deadline = time.monotonic() + KILL_DEADLINE
        while True:
            out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True,
                                 timeout=10).stdout  # fmt: skip
            pids = [int(pid) for pid in out.split()]
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            killed += pids
            self._reap()
            if not pids:
                return killed
            if time.monotonic() > deadline:
                raise TimeoutError(f"processes of {ns} survived SIGKILL: {pids}")
            time.sleep(0.05)

    def _reap(self) -> None:
        for child in self.children:
            if child.poll() is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(timeout=0.05)

    def link_down(self, host: str) -> None:
        """Unplug `host`: its address stops answering at all (no RST), as a dead machine."""
        _ip("-n", self.ns(host), "link", "set", "eth0", "down")

    def down(self) -> None:
        """Kill every process in every namespace made, then delete the namespaces (their veths
        and the bridge go with them). Runs to the end even if one step fails."""
        errors: list[str] = []
        for ns in reversed(self.made):
            try:
                self._kill_ns(ns)
            except (OSError, subprocess.SubprocessError) as exc:
                errors.append(f"{ns}: {exc}")
        for child in self.children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=5)
        for ns in reversed(self.made):
            try:
                _ip("netns", "del", ns)
            except subprocess.CalledProcessError as exc:
                errors.append(f"{ns}: {exc.stderr.strip()}")
        self.made.clear()
        if errors:
            raise RuntimeError("network teardown incomplete: " + "; ".join(errors))


def namespaces_unavailable() -> str | None:
    """Why this machine cannot make network namespaces here, or None."""
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs this test as root)"
    probe = f"sfprobe{secrets.token_hex(3)}"
    try:
        _ip("netns", "add", probe)
    except subprocess.CalledProcessError as exc:
        return f"`ip netns add` failed: {exc.stderr.strip()}"
    try:  # a bridge and a veth pair, as `Lan.up` makes them
        _ip("-n", probe, "link", "add", "br0", "type", "bridge")
        _ip("-n", probe, "link", "add", "v1", "type", "veth", "peer", "name", "v2")
    except subprocess.CalledProcessError as exc:
        return f"cannot make a bridge or a veth pair: {exc.stderr.strip()}"
    finally:
        _ip("netns", "del", probe)
    return None


@pytest.fixture
def lan_factory() -> Iterator[Callable[[Sequence[str]], Lan]]:
    """`lan_factory(["site", "node1", ...])`: a bridged LAN of those hosts, removed at teardown;
    skips the test where namespaces cannot be made."""
    reason = namespaces_unavailable()
    if reason is not None:
        pytest.skip(f"multi-host test needs network namespaces: {reason}")
    made: list[Lan] = []

    def make(names: Sequence[str]) -> Lan:
        lan = Lan(names)
        made.append(lan)
        lan.up()
        return lan

    yield make
    for lan in made:
        lan.down()
