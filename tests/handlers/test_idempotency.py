"""`Idempotency-Key` on creates: a retry replays the first answer, nothing twice."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.builders import account, create_post, error_of, user_payload
from tests.database import count_rows, run_sql


def keyed(headers: dict[str, str], key: str | None = None) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key or str(uuid.uuid4())}


@pytest.mark.parametrize("what", ["post", "comment", "user"])
def test_a_retry_replays_the_first_answer_and_creates_nothing(client, database_url, what):
    author = account(client)
    path, body, table = {
        "post": ("/api/posts", {"title": "t", "content": "c"}, "posts"),
        "comment": (
            f"/api/posts/{create_post(client, author)['id']}/comments",
            {"body": "b"},
            "comments",
        ),
        "user": ("/api/users", user_payload(), "users"),
    }[what]
    headers = keyed(author.headers)
    first = client.post(path, json=body, headers=headers)
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    rows = count_rows(database_url, table)
    # The same request, spelled differently: same JSON, other spacing and key order.
    spelled = ", ".join(f'"{k}": {v!r}'.replace("'", '"') for k, v in reversed(body.items()))
    again = client.post(
        path, content=f"{{ {spelled} }}", headers={**headers, "Content-Type": "application/json"}
    )
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    for header in ("Location", "ETag"):
        assert again.headers[header] == first.headers[header]
    assert count_rows(database_url, table) == rows


def test_the_same_key_with_another_request_is_422(client, database_url):
    author = account(client)
    headers = keyed(author.headers)
    post = client.post("/api/posts", json={"title": "a", "content": "c"}, headers=headers)
    assert post.status_code == 201
    for path, body in (
        ("/api/posts", {"title": "b", "content": "c"}),  # another body
        (f"{post.headers['Location']}/comments", {"body": "b"}),  # another operation
    ):
        refused = client.post(path, json=body, headers=headers)
        assert refused.status_code == 422, path
        assert error_of(refused)["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert count_rows(database_url, "posts") == 1
    assert count_rows(database_url, "comments") == 0


def test_a_password_is_no_part_of_what_is_kept(client, database_url):
    """Only an Argon2 hash of a password is ever stored: a fast hash of the request would
    let anyone holding the table guess it offline. So a retry that differs only in its
    password is the same request, and replays the first answer."""
    headers = keyed({})
    body = user_payload(password="first password")
    first = client.post("/api/users", json=body, headers=headers)
    again = client.post("/api/users", json={**body, "password": "other password"}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    email = first.json()["data"]["email"]
    for password, status in (("first password", 201), ("other password", 401)):
        login = client.post("/api/tokens", json={"email": email, "password": password})
        assert login.status_code == status
    assert count_rows(database_url, "users") == 1


def test_keys_of_two_callers_never_meet(client, database_url):
    key = "shared-key"
    for _ in range(2):
        author = account(client)
        response = client.post(
            "/api/posts", json={"title": "t", "content": "c"}, headers=keyed(author.headers, key)
        )
        assert response.status_code == 201
        assert "Idempotent-Replayed" not in response.headers
    assert count_rows(database_url, "posts") == 2


def test_a_refused_create_keeps_nothing(client):
    taken = account(client).user["email"]
    headers = keyed({})
    refused = client.post("/api/users", json=user_payload(email=taken), headers=headers)
    assert refused.status_code == 409
    created = client.post("/api/users", json=user_payload(), headers=headers)
    assert created.status_code == 201
    assert "Idempotent-Replayed" not in created.headers


def test_a_key_expires_after_a_day(client, database_url):
    author = account(client)
    headers = keyed(author.headers)
    body = {"title": "t", "content": "c"}
    assert client.post("/api/posts", json=body, headers=headers).status_code == 201
    run_sql(
        database_url,
        "UPDATE idempotency_keys SET expires_at = :past",
        past=datetime.now(UTC) - timedelta(seconds=1),
    )
    again = client.post("/api/posts", json=body, headers=headers)
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert count_rows(database_url, "posts") == 2
    assert count_rows(database_url, "idempotency_keys") == 1


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "del\x7f"])
def test_a_malformed_key_is_400(client, key):
    author = account(client)
    response = client.post(
        "/api/posts",
        json={"title": "t", "content": "c"},
        headers={**author.headers, "Idempotency-Key": key},
    )
    assert response.status_code == 400
    assert error_of(response)["details"][0]["field"] == "Idempotency-Key"
