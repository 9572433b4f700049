"""X-Request-ID: echoed when sane, made up when absent, refused when malformed."""

from __future__ import annotations

import re


def test_a_sane_incoming_id_is_echoed(client):
    response = client.get("/api/health", headers={"X-Request-ID": "abc-123.x:y_z"})
    assert response.headers["x-request-id"] == "abc-123.x:y_z"


def test_an_id_is_made_when_none_is_sent(client):
    first = client.get("/api/health").headers["x-request-id"]
    second = client.get("/api/health").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second


def test_a_malformed_id_is_refused_and_never_echoed(client):
    response = client.get("/api/health", headers={"X-Request-ID": "bad id <script>"})
    assert response.status_code == 400
    assert response.json()["error"]["details"][0] == {
        "field": "X-Request-ID",
        "in": "header",
        "message": "'bad id <script>' must be 1 to 128 letters, digits or . _ : -",
    }
    assert response.headers["x-request-id"] != "bad id <script>"


def test_error_responses_carry_the_id_too(client):
    response = client.get("/api/nope", headers={"X-Request-ID": "req-404"})
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "req-404"
