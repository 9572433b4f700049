"""Every protected operation of the contract against every kind of caller.

The operations come from the spec itself, so a new protected operation is covered
as soon as it has a sample request below (the first test fails until it has one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from service.contract import HTTP_METHODS, Contract
from tests.builders import MERGE_PATCH, Account, account, bearer, error_of, if_match, log_in
from tests.database import expire_all_tokens

CONTRACT = Contract.load()


def protected_operations() -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, item in CONTRACT.document["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                operation = item[method]
                security = operation.get("security", CONTRACT.document["security"])
                if security and {} not in security:
                    found.append((path, method, operation))
    return found


PROTECTED = protected_operations()
IDS = [op["operationId"] for _, _, op in PROTECTED]

# A valid request per operation.
SAMPLES: dict[str, dict[str, Any]] = {
    "list_users": {},
    "get_user": {},
    "get_me": {},
    "replace_user": {"json": {"name": "Tar Get", "email": "target@example.com", "role": "user"}},
    "update_user": {"json": {"name": "Tar Get"}},
    "delete_user": {},
    "revoke_token": {},
    "create_post": {"json": {"title": "Hello", "content": "World"}},
    "replace_post": {"json": {"title": "Hello", "content": "Again", "status": "draft"}},
    "update_post": {"json": {"status": "published"}},
    "delete_post": {},
    "create_post_comment": {"json": {"body": "Nice."}},
    "update_comment": {"json": {"body": "Nicer."}},
    "delete_comment": {},
    "get_user_stats": {},
    "list_notifications": {},
    "mark_notifications_read": {"json": {"all": True}},
    "get_dashboard": {},
}


@dataclass(frozen=True)
class World:
    """A user, a post by another user, and a comment on it by a third."""

    user: Account
    post_author: Account
    post_id: str
    commenter: Account
    comment_id: str

    def resolve(self, path: str) -> tuple[str, Account]:
        """The concrete URL of `path` and the account that owns what it names."""
        if path.startswith("/posts/{id}"):
            return "/api" + path.replace("{id}", self.post_id), self.post_author
        if path.startswith("/comments/{id}"):
            return "/api" + path.replace("{id}", self.comment_id), self.commenter
        return "/api" + path.replace("{id}", self.user.id), self.user


@pytest.fixture
def world(client) -> World:
    user = account(client, email="target@example.com")
    author, commenter = account(client), account(client)
    post = client.post(
        "/api/posts",
        json={"title": "T", "content": "C", "status": "published"},
        headers=author.headers,
    ).json()["data"]
    comment = client.post(
        f"/api/posts/{post['id']}/comments", json={"body": "B"}, headers=commenter.headers
    ).json()["data"]
    return World(user, author, post["id"], commenter, comment["id"])


def test_every_protected_operation_has_a_sample():
    assert set(IDS) == set(SAMPLES)


def call(client, path: str, method: str, operation: dict, world: World, token: str | None):
    url, _ = world.resolve(path)
    headers = bearer(token) if token is not None else {}
    if method == "put" and token is not None:
        headers |= if_match(client, url, headers)  # the version this caller read
    return client.request(
        method.upper(),
        url,
        headers={**media_type_of(method), **headers},
        **SAMPLES[operation["operationId"]],
    )


def media_type_of(method: str) -> dict[str, str]:
    """PATCH bodies are merge patches; the other bodies are sent as JSON by `json=`. A
    PUT names a version it replaces (`call` sends the one its caller read; a PUT refused
    before the handler never compares it; tests/handlers check tags)."""
    if method == "put":
        return {"If-Match": '"1-0000000000000000"'}
    return MERGE_PATCH if method == "patch" else {}


BAD_HEADERS = {
    "empty": "Bearer",
    "not-bearer": "Basic dXNlcjpwYXNz",
    "unknown": "Bearer " + "A" * 43,
}


@pytest.mark.parametrize(("path", "method", "operation"), PROTECTED, ids=IDS)
@pytest.mark.parametrize("credential", ["none", *BAD_HEADERS, "expired", "revoked"])
def test_bad_credentials_are_401(client, database_url, world, path, method, operation, credential):
    url, owner = world.resolve(path)
    headers = {}
    if credential in BAD_HEADERS:
        headers = {"Authorization": BAD_HEADERS[credential]}
    elif credential == "revoked":
        token = log_in(client, owner.user["email"])
        assert client.delete("/api/tokens/current", headers=bearer(token)).status_code == 204
        headers = bearer(token)
    elif credential == "expired":
        expire_all_tokens(database_url)
        headers = owner.headers
    response = client.request(
        method.upper(),
        url,
        headers={**media_type_of(method), **headers},
        **SAMPLES[operation["operationId"]],
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    assert error_of(response)["code"] == "UNAUTHORIZED"


RULED = [(p, m, op) for p, m, op in PROTECTED if "x-allow" in op or "x-roles" in op]
RULED_IDS = [op["operationId"] for *_, op in RULED]


@pytest.mark.parametrize(("path", "method", "operation"), RULED, ids=RULED_IDS)
def test_a_stranger_is_403_and_the_owner_succeeds(client, world, path, method, operation):
    stranger = account(client)
    refused = call(client, path, method, operation, world, stranger.token)
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "FORBIDDEN"
    _, owner = world.resolve(path)
    allowed = call(client, path, method, operation, world, owner.token)
    assert allowed.status_code < 300, allowed.text


@pytest.mark.parametrize(("path", "method", "operation"), PROTECTED, ids=IDS)
def test_an_admin_may_call_what_admins_are_allowed(client, admin, world, path, method, operation):
    response = call(client, path, method, operation, world, admin.token)
    if "admin" in operation.get("x-allow", ["admin"]):
        assert response.status_code < 300, response.text
    else:
        assert response.status_code == 403
