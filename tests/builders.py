"""Plain builders of test data, through the API itself."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import connexion
from starlette.testclient import TestClient

from service.app import runtime_of
from service.cli import ensure_admin

PASSWORD = "correct horse battery"
_sequence = itertools.count(1)


@dataclass(frozen=True)
class Account:
    """A user with a live token."""

    user: dict[str, Any]
    token: str

    @property
    def id(self) -> str:
        return self.user["id"]

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


# PATCH bodies are JSON Merge Patch documents (RFC 7396), the one media type PATCH takes.
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


def if_match(client: TestClient, url: str, headers: dict[str, str]) -> dict[str, str]:
    """`If-Match` with the ETag of what `url` is now, as a careful client sends it."""
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    return {"If-Match": response.headers["ETag"]}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def user_payload(**overrides: Any) -> dict[str, Any]:
    n = next(_sequence)
    payload = {"name": f"User {n:04d}", "email": f"user{n:04d}@example.com", "password": PASSWORD}
    payload.update(overrides)
    return payload


def create_user(
    client: TestClient, headers: dict[str, str] | None = None, **overrides: Any
) -> dict[str, Any]:
    """Sign up (anonymous) or, with an admin's headers, create a user of any role."""
    response = client.post("/api/users", json=user_payload(**overrides), headers=headers or {})
    assert response.status_code == 201, response.text
    return response.json()["data"]


def log_in(client: TestClient, email: str, password: str = PASSWORD) -> str:
    response = client.post("/api/tokens", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    return response.json()["data"]["token"]


def account(client: TestClient, admin: Account | None = None, **overrides: Any) -> Account:
    """A new user (of `role=` when an admin creates it) and a token of theirs."""
    user = create_user(client, admin.headers if admin else None, **overrides)
    return Account(user, log_in(client, user["email"], overrides.get("password", PASSWORD)))


def make_admin(app: connexion.FlaskApp, email: str, password: str, name: str | None = None) -> str:
    """An admin made the way an operator would (`make admin`), beside `app`."""
    runtime = runtime_of(app)
    return ensure_admin(runtime.database, runtime.passwords, email, password, name)


def error_of(response: Any) -> dict[str, Any]:
    """The envelope's `error`, after checking the envelope is the only thing in the body."""
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) <= {"code", "message", "details"}
    return body["error"]


def create_post(client: TestClient, author: Account, **overrides: Any) -> dict[str, Any]:
    n = next(_sequence)
    payload = {"title": f"Post {n:04d}", "content": f"Content of post {n}.", **overrides}
    response = client.post("/api/posts", json=payload, headers=author.headers)
    assert response.status_code == 201, response.text
    return response.json()["data"]


def create_comment(
    client: TestClient, author: Account, post_id: str, body: str = "A comment."
) -> dict[str, Any]:
    response = client.post(
        f"/api/posts/{post_id}/comments", json={"body": body}, headers=author.headers
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]
