"""The client's address, trusting `X-Forwarded-For` only as far as configured.

With `TRUSTED_PROXY_HOPS=0` the socket peer is the client and the header is ignored, so
a client cannot choose its own rate-limit bucket. With N trusted proxies, each of them
appended the address it saw; the N-th entry from the right (every line of the header,
joined, as a proxy may add a line rather than append to the client's) is the last one
written by a proxy we trust about a peer it actually talked to. It must be an IP address:
anything else (a name, 60 characters of garbage) is not trusted, and the peer's address
is used. Decided once per request, at the edge.
"""

from __future__ import annotations

import ipaddress

UNKNOWN = "unknown"
_FORWARDED = b"x-forwarded-for"


def client_address(peer: str | None, headers: list[tuple[bytes, bytes]], trusted_hops: int) -> str:
    fallback = peer or UNKNOWN
    if trusted_hops <= 0:
        return fallback
    joined = b",".join(value for name, value in headers if name == _FORWARDED)
    hops = [entry.strip() for entry in joined.decode("latin-1").split(",") if entry.strip()]
    if len(hops) < trusted_hops:
        # Fewer entries than proxies: the request skipped a proxy; trust none of it.
        return fallback
    try:
        return str(ipaddress.ip_address(hops[-trusted_hops]))
    except ValueError:
        return fallback
