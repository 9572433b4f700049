"""X-Request-ID: echoed when sane, made up when absent or unusable."""

from __future__ import annotations

import re

import pytest


def test_a_sane_incoming_id_is_echoed(client):
    response = client.get("/api/health", headers={"X-Request-ID": "abc-123.x:y_z"})
    assert response.headers["x-request-id"] == "abc-123.x:y_z"


def test_an_id_is_made_when_none_is_sent(client):
    first = client.get("/api/health").headers["x-request-id"]
    second = client.get("/api/health").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


FRESH = re.compile(r"[0-9a-f]{32}")
UNUSABLE = {
    "a space": [("X-Request-ID", "bad id <script>")],
    "over 128 characters": [("X-Request-ID", "a" * 200)],
    "empty": [("X-Request-ID", "")],
    "two lines": [("X-Request-ID", "one"), ("X-Request-ID", "two")],
}


@pytest.mark.parametrize("sent", UNUSABLE.values(), ids=UNUSABLE.keys())
@pytest.mark.parametrize("path", ["/api/health", "/api/posts"])
def test_an_unusable_id_is_replaced_and_the_request_served(client, sent, path):
    """It was a 400 on every endpoint, `/api/health` included."""
    response = client.get(path, headers=sent)
    assert response.status_code == 200
    assert FRESH.fullmatch(response.headers["x-request-id"])


def test_error_responses_carry_the_id_too(client):
    response = client.get("/api/nope", headers={"X-Request-ID": "req-404"})
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "req-404"
