"""The client's address, trusting `X-Forwarded-For` only as far as configured.

With `TRUSTED_PROXY_HOPS=0` the socket peer is the client and the header is ignored, so
a client cannot choose its own rate-limit bucket. With N trusted proxies, each of them
appended the address it saw; the N-th entry from the right is the last one written by a
proxy we trust about a peer it actually talked to.
"""

from __future__ import annotations

UNKNOWN = "unknown"


def client_address(peer: str | None, forwarded_for: str | None, trusted_hops: int) -> str:
    if trusted_hops <= 0 or not forwarded_for:
        return peer or UNKNOWN
    hops = [entry.strip() for entry in forwarded_for.split(",") if entry.strip()]
    if len(hops) < trusted_hops:
        # Fewer entries than proxies: the request skipped a proxy; trust none of it.
        return peer or UNKNOWN
    return hops[-trusted_hops]
