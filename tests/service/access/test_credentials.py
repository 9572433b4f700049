"""Credentials where they meet their dependencies.

A token that cannot be checked (the database does not answer) is a 503 with
`Retry-After` on every operation that takes one, never a 401: a client told 401 throws
its token away and signs its user out. Operations whose authentication is optional are
the ones at risk (Connexion falls back to anonymous when the token check raises), so
each of them is called. A rate-limit storage that fails refuses nothing (limits fail open).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from limits import parse

from service.contract import HTTP_METHODS, Contract
from tests.builders import account, bearer, error_of, user_payload

CONTRACT = Contract.load()
AUTH_FAILURES = parse(CONTRACT.document["x-rate-limit-auth-failures"]).amount
NOWHERE = "postgresql+psycopg://nobody@127.0.0.1:1/none"
REDIS_NOWHERE = "redis://127.0.0.1:1/0"
MADE_UP = bearer("x" * 43)


def optional_auth_operations() -> list[tuple[str, str, str]]:
    """(method, path, operationId) of each operation whose `security` lists both
    `bearerAuth` and `{}`: a token is optional there."""
    found = []
    for path, item in CONTRACT.document["paths"].items():
        for method in HTTP_METHODS:
            if method not in item:
                continue
            operation = item[method]
            security = operation.get("security", CONTRACT.document["security"])
            if {} in security and any("bearerAuth" in req for req in security):
                found.append((method, path, operation["operationId"]))
    return found


OPTIONAL = optional_auth_operations()
OPTIONAL_IDS = [operation_id for *_, operation_id in OPTIONAL]

# A valid request per optional-auth operation.
SAMPLES: dict[str, dict[str, Any]] = {
    "create_user": {"json": user_payload()},
    "list_posts": {},
    "get_post": {},
    "list_post_comments": {},
    "get_comment": {},
    "list_user_posts": {},
}


def test_every_optional_auth_operation_has_a_sample():
    assert set(OPTIONAL_IDS) == set(SAMPLES)


def url_of(path: str) -> str:
    return "/api" + path.replace("{id}", str(uuid.uuid4()))


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert error_of(response)["code"] == "SERVICE_UNAVAILABLE"
    assert int(response.headers["retry-after"]) >= 1
    assert "www-authenticate" not in response.headers


@pytest.mark.parametrize(("method", "path", "operation_id"), OPTIONAL, ids=OPTIONAL_IDS)
def test_a_token_the_database_cannot_check_is_a_503_not_a_401(app_with, method, path, operation_id):
    """The database refuses, then its breaker is open (refused unasked): 503 both times,
    with a token as without one."""
    api = app_with(database_url=NOWHERE, breaker_failures=1, raise_server_exceptions=False)
    sample = SAMPLES[operation_id]
    for headers in (MADE_UP, MADE_UP, {}):
        assert_unavailable(api.request(method.upper(), url_of(path), headers=headers, **sample))
    assert_unavailable(api.get("/api/me", headers=MADE_UP))  # and where a token is required


def test_a_valid_token_is_accepted_while_the_rate_limit_storage_is_down(client, app_with):
    """Limits fail open: neither the token check nor its failure count may refuse."""
    api = app_with(ratelimit_enabled=True, ratelimit_storage_uri=REDIS_NOWHERE)
    user = account(client)
    for _ in range(3):
        assert api.get("/api/me", headers=user.headers).status_code == 200
        assert api.get("/api/posts", headers=user.headers).status_code == 200
    assert api.get("/api/posts", headers=MADE_UP).status_code == 401
