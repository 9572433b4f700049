"""Plain builders of test data, through the API itself."""

from __future__ import annotations

import itertools
from typing import Any

from starlette.testclient import TestClient

_sequence = itertools.count(1)


def user_payload(**overrides: Any) -> dict[str, Any]:
    n = next(_sequence)
    payload = {"name": f"User {n:04d}", "email": f"user{n:04d}@example.com"}
    payload.update(overrides)
    return payload


def create_user(client: TestClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/api/users", json=user_payload(**overrides))
    assert response.status_code == 201, response.text
    return response.json()["data"]


def error_of(response: Any) -> dict[str, Any]:
    """The envelope's `error`, after checking the envelope is the only thing in the body."""
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) <= {"code", "message", "details"}
    return body["error"]
