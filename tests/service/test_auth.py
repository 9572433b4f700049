"""Every protected operation of the contract against every kind of caller.

The operations come from the spec itself, so a new protected operation is covered
as soon as it has a sample request below (the first test fails until it has one).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from models.db import make_engine
from service.spec import HTTP_METHODS, Contract
from tests.builders import Account, account, bearer, error_of, log_in

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

# A valid request per operation; `{id}` is the target user's id.
SAMPLES: dict[str, dict[str, Any]] = {
    "list_users": {},
    "get_user": {},
    "get_me": {},
    "replace_user": {"json": {"name": "Tar Get", "email": "target@example.com", "role": "user"}},
    "update_user": {"json": {"name": "Tar Get"}},
    "delete_user": {},
    "revoke_token": {},
}


def test_every_protected_operation_has_a_sample():
    assert set(IDS) == set(SAMPLES)


def call(client, path: str, method: str, operation: dict, target: Account, token: str | None):
    url = "/api" + path.replace("{id}", target.id)
    headers = bearer(token) if token is not None else {}
    return client.request(method.upper(), url, headers=headers, **SAMPLES[operation["operationId"]])


@pytest.fixture
def target(client) -> Account:
    return account(client, email="target@example.com")


def expire_all_tokens(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.begin() as connection:
        past = datetime.now(UTC) - timedelta(seconds=1)
        connection.execute(text("UPDATE tokens SET expires_at = :past"), {"past": past})
    engine.dispose()


@pytest.mark.parametrize(("path", "method", "operation"), PROTECTED, ids=IDS)
@pytest.mark.parametrize(
    "credential",
    ["none", "empty", "not-bearer", "unknown", "expired", "revoked"],
)
def test_bad_credentials_are_401(client, database_url, target, path, method, operation, credential):
    headers_token: str | None
    if credential == "none":
        headers_token = None
    elif credential == "unknown":
        headers_token = "A" * 43
    elif credential == "revoked":
        headers_token = log_in(client, target.user["email"])
        assert (
            client.delete("/api/tokens/current", headers=bearer(headers_token)).status_code == 204
        )
    else:
        headers_token = target.token
    if credential == "expired":
        expire_all_tokens(database_url)
    url = "/api" + path.replace("{id}", target.id)
    headers = {}
    if headers_token is not None:
        headers = {"Authorization": f"Bearer {headers_token}"}
    if credential == "empty":
        headers = {"Authorization": "Bearer"}
    if credential == "not-bearer":
        headers = {"Authorization": "Basic dXNlcjpwYXNz"}
    response = client.request(
        method.upper(), url, headers=headers, **SAMPLES[operation["operationId"]]
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    assert error_of(response)["code"] == "UNAUTHORIZED"


RULED = [(p, m, op) for p, m, op in PROTECTED if "x-allow" in op or "x-roles" in op]


@pytest.mark.parametrize(
    ("path", "method", "operation"), RULED, ids=[op["operationId"] for *_, op in RULED]
)
def test_another_user_is_403_and_the_right_caller_succeeds(
    client, admin, target, path, method, operation
):
    stranger = account(client)
    refused = call(client, path, method, operation, target, stranger.token)
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "FORBIDDEN"
    allowed = call(client, path, method, operation, target, target.token)
    assert allowed.status_code < 300, allowed.text


@pytest.mark.parametrize(("path", "method", "operation"), PROTECTED, ids=IDS)
def test_an_admin_may_call_every_protected_operation(
    client, admin, target, path, method, operation
):
    response = call(client, path, method, operation, target, admin.token)
    assert response.status_code < 300, response.text
