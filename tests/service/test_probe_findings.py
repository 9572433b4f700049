"""Holes an outside probe found after the first round of security fixes, each reproduced."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from limits import parse

from service.contract import Contract
from tests.builders import account, create_post, error_of, log_in, user_payload

LIMIT = 1024
SIGN_UPS = parse(Contract.load().operations["create_user"]["x-rate-limit"]).amount


def test_a_repeated_query_parameter_is_refused_not_read_twice(client, admin):
    """`?sortBy=name&sortBy=email` let a plain user sort by email: authorization read the
    first value, the handler the last."""
    user = account(client)
    response = client.get("/api/users?sortBy=name&sortBy=email", headers=user.headers)
    assert response.status_code == 400
    assert error_of(response)["details"] == [
        {"field": "sortBy", "in": "query", "message": "is given more than once"}
    ]
    response = client.delete(
        f"/api/users/{user.id}?cascade=false&cascade=true", headers=user.headers
    )
    assert response.status_code == 400
    assert client.get(f"/api/users/{user.id}", headers=admin.headers).status_code == 200


def test_path_parameter_errors_are_listed_once(client):
    response = client.get("/api/users/x/posts")
    details = error_of(response)["details"]
    assert len(details) == len({tuple(sorted(d.items())) for d in details})


@pytest.fixture
def small_client(app_with):
    return app_with(max_body_bytes=LIMIT)


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_bodies_on_reads_are_bounded_too(small_client, method):
    response = small_client.request(method, "/api/posts", content=b"a" * (LIMIT + 1))
    assert response.status_code == 413

    def chunks() -> Iterator[bytes]:
        for _ in range(4):
            yield b"a" * (LIMIT // 2)

    response = small_client.request(method, "/api/posts", content=chunks())
    assert response.status_code == 413
    assert small_client.request(method, "/api/posts").status_code in (200, 405)


def test_token_and_sign_up_answers_are_not_cached(client):
    user = account(client)
    response = client.post(
        "/api/tokens", json={"email": user.user["email"], "password": "correct horse battery"}
    )
    assert response.status_code == 201
    assert response.headers["cache-control"] == "no-store"
    post = create_post(client, user, status="published")
    public = client.get(f"/api/posts/{post['id']}")
    assert "cache-control" not in public.headers


def test_every_forwarded_for_line_counts_for_failed_credentials(app_with):
    """A proxy that adds its own X-Forwarded-For line must not let the client's first
    line choose the failed-credential bucket."""
    api = app_with(ratelimit_enabled=True, trusted_proxy_hops=1)
    statuses = []
    for n in range(7):
        headers = [
            ("Authorization", "Bearer " + "x" * 43),
            ("X-Forwarded-For", f"10.8.{n}.1"),
            ("X-Forwarded-For", "198.51.100.9"),
        ]
        statuses.append(api.get("/api/me", headers=headers).status_code)
    assert statuses[-1] == 429
    assert statuses.count(401) == 5


def test_head_is_the_get_without_its_body(client):
    get = client.get("/api/posts")
    head = client.head("/api/posts")
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == get.headers["content-length"]


@pytest.mark.parametrize(
    "authorization", ["Bearer " + "x" * 43, "Bearer", "Basic dXNlcjpwYXNz", "garbage"]
)
def test_refused_credentials_on_optional_auth_operations_are_401(client, authorization):
    response = client.get("/api/posts", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert error_of(response)["code"] == "UNAUTHORIZED"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_refused_credentials_on_optional_auth_operations_count_as_failures(app_with):
    api = app_with(ratelimit_enabled=True)
    bad = {"Authorization": "Bearer " + "x" * 43}
    statuses = [api.get("/api/posts", headers=bad).status_code for _ in range(7)]
    assert statuses[:5] == [401] * 5
    assert statuses[-1] == 429


def test_public_operations_ignore_an_authorization_header(client):
    response = client.get("/api/health", headers={"Authorization": "Bearer " + "x" * 43})
    assert response.status_code == 200


def test_a_trailing_slash_is_a_404_not_a_redirect_to_the_host_header(client):
    for method in ("GET", "POST", "DELETE"):
        response = client.request(
            method, "/api/posts/", headers={"Host": "evil.example"}, follow_redirects=False
        )
        assert response.status_code == 404, method
        assert "location" not in response.headers
        assert error_of(response)["code"] == "NOT_FOUND"
    assert client.get("/api/docs/").status_code == 200  # Swagger UI keeps its slash


def test_each_new_account_does_not_bring_its_own_sign_up_allowance(app_with):
    api = app_with(ratelimit_enabled=True)
    payloads = [user_payload() for _ in range(SIGN_UPS)]
    statuses = [api.post("/api/users", json=payload).status_code for payload in payloads]
    assert statuses == [201] * SIGN_UPS
    newcomer = {"Authorization": f"Bearer {log_in(api, payloads[0]['email'])}"}
    response = api.post("/api/users", json=user_payload(), headers=newcomer)
    assert response.status_code == 429
