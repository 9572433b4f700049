"""The client's address, trusting `X-Forwarded-For` only as far as configured; decided
once per request, at the edge.

With `TRUSTED_PROXY_HOPS=0` the socket peer is the client and the header is ignored, so
a client cannot choose its own rate-limit bucket. With N trusted proxies, each of them
appended the address it saw; the N-th entry from the right (of every line of the header,
in order, joined: a proxy may add its own line rather than append to the client's) is the
last one written by a proxy we trust about a peer it actually talked to.

That entry is an IP address or it is not used: anything else (a name, a port, a zone,
`unknown`, or whatever a client wrote where no proxy stands) means the socket peer's
address instead. An address is written one way (`2001:db8::1`, an IPv4-mapped IPv6 one
as IPv4), so a client has one bucket and one idempotency caller, and what is kept of it
(at most 39 characters) fits its column.
"""

from __future__ import annotations

import ipaddress

UNKNOWN = "unknown"
FORWARDED_FOR = b"x-forwarded-for"


def normalised(text: str) -> str | None:
    """The IP address `text` holds, written one way; None if it holds none."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None:
            return None  # a zone names one host's own interface, not a client
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
    return str(address)


def client_address(peer: str | None, headers: list[tuple[bytes, bytes]], trusted_hops: int) -> str:
    # The socket peer comes from the server, not the client: kept as given when it is
    # no IP address (a test client's name).
    own = (normalised(peer) or peer) if peer else UNKNOWN
    if trusted_hops <= 0:
        return own
    joined = ",".join(value.decode("latin-1") for name, value in headers if name == FORWARDED_FOR)
    hops = [entry.strip() for entry in joined.split(",") if entry.strip()]
    if len(hops) < trusted_hops:
        # Fewer entries than proxies: the request skipped a proxy; trust none of it.
        return own
    return normalised(hops[-trusted_hops]) or own
