"""WSGI_THREADS=0: Flask runs in the event loop; everything must behave the same."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.builders import error_of, user_payload


@pytest.fixture
def inline_client(app_with) -> TestClient:
    return app_with(wsgi_threads=0, raise_server_exceptions=False)


def test_requests_bodies_errors_and_headers_go_through(inline_client, client):
    created = inline_client.post("/api/users", json=user_payload(name="Inline User"))
    assert created.status_code == 201
    assert created.headers["location"].startswith("/api/users/")
    assert created.headers["x-request-id"]
    assert created.json()["data"]["name"] == "Inline User"
    invalid = inline_client.post("/api/users", json={"name": 1})
    assert error_of(invalid)["code"] == "VALIDATION_ERROR"
    unrouted = inline_client.get("/api/users/a%0Ab")
    assert unrouted.status_code == 404
    assert inline_client.get("/api/health").json() == {"data": {"status": "ok", "database": "ok"}}
