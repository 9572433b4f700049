"""CORS: an exact allowlist, preflights answered before auth and routing, nothing for others."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from service.patches.allowlist_cors import ALLOWED_HEADERS, EXPOSED_HEADERS
from tests.builders import error_of

ALLOWED = "http://app.example.com"
OTHER = "http://evil.example.com"


@pytest.fixture
def cors_client(app_with) -> TestClient:
    return app_with(cors_origins=(ALLOWED,))


def preflight(client: TestClient, path: str, method: str, origin: str = ALLOWED, headers: str = ""):
    request_headers = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        request_headers["Access-Control-Request-Headers"] = headers
    return client.options(path, headers=request_headers)


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/api/users", "GET, POST"),
        ("/api/users/3fa85f64-5717-4562-b3fc-2c963f66afa6", "GET, PUT, DELETE, PATCH"),
        ("/api/tokens/current", "DELETE"),
        ("/api/posts/3fa85f64-5717-4562-b3fc-2c963f66afa6/comments", "GET, POST"),
    ],
)
def test_preflight_lists_the_contracts_methods_for_the_path(cors_client, path, methods):
    for method in methods.split(", "):
        response = preflight(cors_client, path, method, headers="authorization, content-type")
        assert response.status_code == 204
        assert response.headers["access-control-allow-origin"] == ALLOWED
        assert response.headers["access-control-allow-methods"] == methods
        assert response.headers["access-control-max-age"] == "86400"
        allowed = {
            h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
        }
        assert {h.lower() for h in ALLOWED_HEADERS} <= allowed
        assert "Origin" in response.headers["vary"]
        assert response.headers["x-request-id"]


def test_preflight_of_a_protected_path_needs_no_token(cors_client):
    response = preflight(cors_client, "/api/me", "GET", headers="authorization")
    assert response.status_code == 204
    assert "www-authenticate" not in response.headers


def test_an_unlisted_origin_gets_no_cors_headers(cors_client):
    response = preflight(cors_client, "/api/users", "POST", origin=OTHER)
    assert response.status_code == 403
    assert error_of(response)["code"] == "FORBIDDEN"
    assert not [name for name in response.headers if name.startswith("access-control-")]
    simple = cors_client.get("/api/health", headers={"Origin": OTHER})
    assert simple.status_code == 200
    assert not [name for name in simple.headers if name.startswith("access-control-")]
    assert "Origin" in simple.headers["vary"]


def test_an_allowed_origin_gets_its_own_origin_and_the_exposed_headers(cors_client):
    response = cors_client.get("/api/health", headers={"Origin": ALLOWED})
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "access-control-allow-credentials" not in response.headers
    exposed = {h.strip() for h in response.headers["access-control-expose-headers"].split(",")}
    assert set(EXPOSED_HEADERS) <= exposed
    assert "Origin" in response.headers["vary"]


def test_error_responses_carry_cors_headers_too(cors_client):
    response = cors_client.get("/api/me", headers={"Origin": ALLOWED})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == ALLOWED


def test_without_an_allowlist_no_origin_is_allowed(client):
    response = preflight(client, "/api/users", "GET", origin="http://localhost:3000")
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("document", ["/api/openapi.json", "/api/openapi.yaml"])
def test_the_contract_documents_answer_cors_like_every_path(cors_client, document):
    """A browser tool (a docs viewer, a client generator) on an allowed origin reads them."""
    allowed = cors_client.get(document, headers={"Origin": ALLOWED})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ALLOWED
    assert "Origin" in allowed.headers["vary"]
    other = cors_client.get(document, headers={"Origin": OTHER})
    assert other.status_code == 200
    assert not [name for name in other.headers if name.startswith("access-control-")]
