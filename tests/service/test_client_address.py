"""Which address a request counts against (decided once, at the edge)."""

from __future__ import annotations

import pytest

from service.edge.client_address import client_address


def forwarded(*lines: str) -> list[tuple[bytes, bytes]]:
    return [(b"x-forwarded-for", line.encode()) for line in lines]


@pytest.mark.parametrize(
    ("peer", "lines", "hops", "expected"),
    [
        ("10.0.0.9", ["1.2.3.4"], 0, "10.0.0.9"),  # nothing trusted: the header is ignored
        ("10.0.0.9", ["6.6.6.6, 1.2.3.4"], 1, "1.2.3.4"),  # one proxy: its view of the peer
        ("10.0.0.9", ["6.6.6.6, 1.2.3.4, 10.0.0.2"], 2, "1.2.3.4"),
        ("10.0.0.9", ["6.6.6.6", "1.2.3.4"], 1, "1.2.3.4"),  # a proxy's own line counts
        ("10.0.0.9", ["1.2.3.4"], 2, "10.0.0.9"),  # fewer entries than proxies: not trusted
        ("10.0.0.9", [], 1, "10.0.0.9"),
        (None, [], 0, "unknown"),
        ("10.0.0.9", ["2001:DB8::1"], 1, "2001:db8::1"),  # normalised
        ("10.0.0.9", ["x" * 60], 1, "10.0.0.9"),  # not an address: the peer's
        ("10.0.0.9", ["10.0.0.1 user=admin"], 1, "10.0.0.9"),
    ],
)
def test_client_address(peer, lines, hops, expected):
    assert client_address(peer, forwarded(*lines), hops) == expected
