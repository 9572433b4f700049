"""Body limits and the headers every response carries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from tests.builders import account, error_of, user_payload

LIMIT = 1024


@pytest.fixture
def small_client(app_with) -> TestClient:
    return app_with(max_body_bytes=LIMIT)


def test_a_declared_large_body_is_refused_before_reading(small_client):
    response = small_client.post(
        "/api/users", json=user_payload(name="x" * 60, password="p" * 100) | {"pad": "y" * LIMIT}
    )
    assert response.status_code == 413
    assert error_of(response) == {
        "code": "PAYLOAD_TOO_LARGE",
        "message": f"The request body is over {LIMIT} bytes",
    }
    assert response.headers["x-request-id"]


def test_a_chunked_body_without_length_is_counted(small_client):
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(20):
            yield b"y" * 100
        yield b'"}'

    response = small_client.post(
        "/api/users", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_a_small_chunked_body_is_read_and_validated(small_client):
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "Chunky", "email": "chunk@example.com",'
        yield b' "password": "chunky password"}'

    response = small_client.post(
        "/api/users", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["email"] == "chunk@example.com"


def test_every_response_says_nosniff(client):
    for response in (client.get("/api/health"), client.get("/api/nothing")):
        assert response.headers["x-content-type-options"] == "nosniff"


def test_authenticated_responses_are_not_cached(client):
    me = account(client)
    assert client.get("/api/me", headers=me.headers).headers["cache-control"] == "no-store"
    assert "cache-control" not in client.get("/api/health").headers
