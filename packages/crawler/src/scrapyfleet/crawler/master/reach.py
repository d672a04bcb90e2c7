"""Start-up checks that the nodes' workers can reach the batch endpoint at the advertised address.

A wrong address would otherwise show only as every batch's fetch failing on every node, attempt
after attempt; these turn it into one error before the crawl starts (crawl-master exits 2).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from scrapyfleet.core.metrics import parse_address
from scrapyfleet.core.procs import is_local_address, is_loopback


def check_listen(listen: str, advertise_url: str | None) -> None:
    """ValueError when the batch endpoint would be advertised at an address workers cannot use:
    a wildcard bind (0.0.0.0, ::) without --advertise-url (0.0.0.0 only reaches this machine)."""
    host = parse_address(listen).host
    try:
        unspecified = ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return
    if unspecified and not advertise_url:
        raise ValueError(
            f"--listen {listen} binds every address, but workers on other hosts cannot reach "
            f"{host}: give --advertise-url http://THIS_HOST:PORT with a fixed "
            "--listen port, or --listen on this host's address"
        )


def check_nodes_reach(listen: str, advertise_url: str | None, node_urls: Iterable[str]) -> None:
    """ValueError when the endpoint is advertised on loopback but a node is on another host."""
    host = (urlsplit(advertise_url).hostname or "") if advertise_url else parse_address(listen).host
    if not is_loopback(host):
        return
    remote = [url for url in node_urls if not is_local_address(urlsplit(url).hostname or "")]
    if remote:
        raise ValueError(
            f"the batch endpoint is on {host}, which the workers of {', '.join(remote)} (on "
            "another host) cannot reach: --listen on an address of this host they can reach "
            "(or --advertise-url)"
        )
