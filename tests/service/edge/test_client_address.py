"""Which address a request counts against."""

from __future__ import annotations

import pytest

from service.edge.client_address import client_address
from tests.builders import user_payload
from tests.database import run_sql


@pytest.mark.parametrize(
    ("peer", "forwarded", "hops", "expected"),
    [
        ("10.0.0.9", "1.2.3.4", 0, "10.0.0.9"),  # nothing trusted: the header is ignored
        ("10.0.0.9", "6.6.6.6, 1.2.3.4", 1, "1.2.3.4"),  # one proxy: its view of the peer
        ("10.0.0.9", "6.6.6.6, 1.2.3.4, 10.0.0.2", 2, "1.2.3.4"),
        ("10.0.0.9", "1.2.3.4", 2, "10.0.0.9"),  # fewer entries than proxies: not trusted
        ("10.0.0.9", None, 1, "10.0.0.9"),
        (None, None, 0, "unknown"),
        # Not an IP address: the peer's, whatever its length.
        ("10.0.0.9", "x" * 60, 1, "10.0.0.9"),
        ("10.0.0.9", "1.2.3.4, unknown", 1, "10.0.0.9"),
        ("10.0.0.9", "1.2.3.4:80", 1, "10.0.0.9"),
        ("10.0.0.9", "fe80::1%" + "e" * 60, 1, "10.0.0.9"),  # a zone is the proxy's own
        ("10.0.0.9", "1.2.3.4, 01.2.3.4", 1, "10.0.0.9"),
        # Written as the address it is: one client, one spelling.
        ("10.0.0.9", "2001:DB8:0::0:1", 1, "2001:db8::1"),
        ("10.0.0.9", "6.6.6.6, ::ffff:203.0.113.7", 1, "203.0.113.7"),
        ("::FFFF:10.0.0.9", None, 0, "10.0.0.9"),
        ("testclient", "garbage", 1, "testclient"),
    ],
)
def test_client_address(peer, forwarded, hops, expected):
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    assert client_address(peer, headers, hops) == expected


def test_every_line_of_the_header_counts_in_order():
    lines = [(b"x-forwarded-for", b"6.6.6.6, 1.2.3.4"), (b"x-forwarded-for", b"10.0.0.2")]
    assert client_address("10.0.0.9", [(b"host", b"h"), *lines], 2) == "1.2.3.4"
    assert client_address("10.0.0.9", [(b"host", b"h"), *lines], 3) == "6.6.6.6"


def _callers(database_url: str) -> list[str]:
    return [row[0] for row in run_sql(database_url, "SELECT caller FROM idempotency_keys")]


@pytest.mark.parametrize(
    ("forwarded", "kept_as"),
    [
        ("x" * 60, "address:testclient"),  # the test client's peer
        ("2001:DB8:0:0::1", "address:2001:db8::1"),
    ],
)
def test_a_forwarded_address_is_an_ip_address_or_the_peers(
    app_with, database_url, forwarded, kept_as
):
    """60 characters of garbage were a 500 on PostgreSQL (the key's varchar(64) caller)."""
    client = app_with(trusted_proxy_hops=1)
    headers = {"Idempotency-Key": "k-1", "X-Forwarded-For": forwarded}
    response = client.post("/api/users", json=user_payload(), headers=headers)
    assert response.status_code == 201
    assert _callers(database_url) == [kept_as]


def test_forwarded_lines_are_read_as_one_list(app_with, database_url):
    client = app_with(trusted_proxy_hops=1)
    headers = [
        ("Idempotency-Key", "k-2"),
        ("X-Forwarded-For", "6.6.6.6"),
        ("X-Forwarded-For", "203.0.113.7"),
    ]
    response = client.post("/api/users", json=user_payload(), headers=headers)
    assert response.status_code == 201
    assert _callers(database_url) == ["address:203.0.113.7"]
