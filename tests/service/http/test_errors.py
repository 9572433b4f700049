"""Errors that do not come from a handler: routing, methods, and the unexpected."""

from __future__ import annotations

import logging

import pytest
from starlette.testclient import TestClient

from tests.builders import error_of, user_payload


def test_unknown_route_is_not_found_in_the_envelope(client):
    response = client.get("/api/nothing/here")
    assert response.status_code == 404
    assert error_of(response) == {
        "code": "NOT_FOUND",
        "message": "No route matches /api/nothing/here",
    }
    assert response.headers["x-request-id"]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("delete", "/api/users", "GET, POST"),
        ("post", "/api/users/3fa85f64-5717-4562-b3fc-2c963f66afa6", "GET, PUT, DELETE, PATCH"),
    ],
)
def test_wrong_method_lists_what_the_spec_allows(client, method, path, allow):
    response = client.request(method.upper(), path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    error = error_of(response)
    assert error["code"] == "METHOD_NOT_ALLOWED"
    assert method.upper() in error["message"]


@pytest.fixture
def broken_client(tmp_path, app_with) -> TestClient:
    """The app on a database that has no tables: every query fails unexpectedly."""
    return app_with(database_url=f"sqlite:///{tmp_path}/empty.db", raise_server_exceptions=False)


def test_unexpected_error_is_logged_with_the_request_id_and_not_leaked(broken_client, caplog):
    with caplog.at_level(logging.ERROR):
        response = broken_client.post(
            "/api/users", json=user_payload(), headers={"X-Request-ID": "trace-500"}
        )
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "trace-500"
    assert error_of(response) == {
        "code": "INTERNAL_ERROR",
        "message": "An unexpected error occurred",
    }
    assert "users" not in response.text
    records = [r for r in caplog.records if r.name == "service.http.errors"]
    assert records and records[0].request_id == "trace-500"
    assert "no such table" in records[0].getMessage()


def test_health_says_ok_without_asking_the_database(client, app_with):
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"data": {"status": "ok"}}
    assert "x-ratelimit-limit" not in response.headers  # x-rate-limit: none
    nowhere = app_with(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert nowhere.get("/api/health").json() == {"data": {"status": "ok"}}


def test_readiness_says_ready_and_nothing_more(client):
    response = client.get("/api/ready")
    assert response.status_code == 200
    assert response.json() == {"data": {"status": "ready"}}


def said(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == logger]


def test_readiness_tells_anonymous_callers_nothing_of_rate_limits(app_with, caplog):
    """Before: 503 naming `rateLimitStorage`, "requests are served without limits", to
    anyone, as often as they liked: a signal to start guessing passwords."""
    api = app_with(ratelimit_enabled=True, ratelimit_storage_uri="redis://127.0.0.1:1/0")
    with caplog.at_level(logging.INFO):
        responses = [api.get("/api/ready") for _ in range(3)]
    for response in responses:
        assert (response.status_code, response.json()) == (200, {"data": {"status": "ready"}})
        assert "limit" not in response.text.lower()
        assert not [name for name in response.headers if "ratelimit" in name]
    # The operators' log says it, once (not once per probe).
    assert said(caplog, "service.resilience.readiness") == [
        "The rate-limit storage does not answer: requests are served without rate limits"
    ]


def test_not_ready_is_all_the_public_learns_the_log_says_why(app_with, caplog):
    api = app_with(
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none",
        ratelimit_enabled=True,
        ratelimit_storage_uri="redis://127.0.0.1:1/0",
    )
    with caplog.at_level(logging.INFO):
        responses = [api.get("/api/ready") for _ in range(2)]
    for response in responses:
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert error_of(response) == {
            "code": "SERVICE_UNAVAILABLE",
            "message": "The service is not ready; try again shortly",
        }
    lines = said(caplog, "service.resilience.readiness")
    assert len(lines) == 2, lines
    assert lines[0].startswith("Not ready: the database does not answer")
    assert "rate limits" in lines[1]


def test_contract_and_docs_are_served(client):
    assert client.get("/api/openapi.json").json()["info"]["title"] == "Publishing API"
    yaml_response = client.get("/api/openapi.yaml")
    assert yaml_response.status_code == 200
    assert "openapi: 3.0.3" in yaml_response.text
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert "swagger-ui" in docs.text.lower()


def test_a_path_only_flask_would_route_is_not_found_not_a_crash(client):
    """Starlette does not route `a%0Ab`; Werkzeug does. The handler must never see it."""
    response = client.get("/api/users/a%0Ab")
    assert response.status_code == 404
    assert error_of(response) == {
        "code": "NOT_FOUND",
        "message": "No route matches /api/users/a\nb",
    }
