"""Which address a request counts against."""

from __future__ import annotations

import pytest

from service.edge.client_address import client_address


@pytest.mark.parametrize(
    ("peer", "forwarded", "hops", "expected"),
    [
        ("10.0.0.9", "1.2.3.4", 0, "10.0.0.9"),  # nothing trusted: the header is ignored
        ("10.0.0.9", "6.6.6.6, 1.2.3.4", 1, "1.2.3.4"),  # one proxy: its view of the peer
        ("10.0.0.9", "6.6.6.6, 1.2.3.4, 10.0.0.2", 2, "1.2.3.4"),
        ("10.0.0.9", "1.2.3.4", 2, "10.0.0.9"),  # fewer entries than proxies: not trusted
        ("10.0.0.9", None, 1, "10.0.0.9"),
        (None, None, 0, "unknown"),
    ],
)
def test_client_address(peer, forwarded, hops, expected):
    assert client_address(peer, forwarded, hops) == expected
