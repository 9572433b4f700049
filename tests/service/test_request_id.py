"""X-Request-ID: echoed when usable, made up when absent, replaced when not usable."""

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


@pytest.mark.parametrize(
    "sent",
    [["bad id <script>"], ["x" * 129], ["abc", "def"], [""]],
    ids=["a space", "too long", "two lines", "empty"],
)
def test_an_unusable_id_is_replaced_and_the_request_served(client, sent):
    headers = [("X-Request-ID", value) for value in sent]
    response = client.get("/api/health", headers=headers)
    assert response.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


def test_error_responses_carry_the_id_too(client):
    response = client.get("/api/nope", headers={"X-Request-ID": "req-404"})
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "req-404"
