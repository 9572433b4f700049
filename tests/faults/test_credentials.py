"""Tokens on a bad day, as `make serve` runs the service behind the fault proxies.

PostgreSQL refusing or silent: a valid token that cannot be checked is a 503 with
`Retry-After` on every operation whose authentication is optional (and where it is
required), as the same request without a token is; never a 401, which makes a client
throw its token away and sign its user out for an outage that is the service's.
Redis refusing or silent: limits fail open, so a valid token is accepted and a bad one
is a 401, never a 429 or a 503.
"""

from __future__ import annotations

import http.client
import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.database import run_sql
from tests.faults.proxy import PASS, REFUSE, SILENT, FaultProxy, Mode
from tests.faults.served import Served, served, upstream_of
from tests.faults.test_resilience import BOUNDED, post_json
from tests.service.access.test_credentials import OPTIONAL, SAMPLES

pytestmark = pytest.mark.faults

PASSWORD = "credentials on a bad day"
BOUNDS = {
    "DATABASE_REQUEST_TIMEOUT": "2",
    "DATABASE_STATEMENT_TIMEOUT": "1.5",
    "RATELIMIT_STORAGE_TIMEOUT": "0.3",
    "RATELIMIT_SCALE": "1000",  # counted, never reached (sign-ups allow 10 a minute)
    # Longer than production's 0.5 s, so that few of the requests sent one after the
    # other are probes that wait out a silent database's bound again.
    "BREAKER_COOLDOWN": "5",
}
RECOVERY = 10.0
PUBLISHED = {"title": "Bad day", "content": "C", "status": "published"}


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    retry_after: str | None
    elapsed: float

    @property
    def code(self) -> str | None:
        error = self.body.get("error")
        return str(error["code"]) if isinstance(error, dict) else None


@dataclass
class World:
    """A user with a token, a published post of theirs and a comment on it."""

    service: Served
    tag: str
    token: str
    user_id: str = ""
    post_id: str = ""
    comment_id: str = ""

    def url(self, path: str) -> str:
        for prefix, identifier in (
            ("/posts/{id}", self.post_id),
            ("/comments/{id}", self.comment_id),
            ("/users/{id}", self.user_id),
        ):
            if path.startswith(prefix):
                return "/api" + path.replace("{id}", identifier)
        return "/api" + path

    def call(self, method: str, path: str, *, token: str | None, body: object = None) -> Answer:
        parts = urlsplit(self.service.base_url)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        headers = {"Connection": "close"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        payload = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            payload = json.dumps(body).encode()
        started = time.monotonic()
        try:
            connection.request(method.upper(), path, body=payload, headers=headers)
            response = connection.getresponse()
            raw = response.read()
            try:
                parsed = json.loads(raw) if raw else {}
            except ValueError:
                parsed = {}
            retry_after = response.getheader("Retry-After")
            elapsed = time.monotonic() - started
            answer = Answer(response.status, parsed, retry_after, elapsed)
        finally:
            connection.close()
        return answer

    def every_optional_auth_operation(self, token: str | None) -> list[tuple[str, Answer]]:
        answers = []
        for method, path, operation_id in OPTIONAL:
            body = None
            if "json" in SAMPLES[operation_id]:  # a new user each time (sign-up)
                body = {
                    "name": "Bad Day",
                    "email": f"{self.tag}-{secrets.token_hex(4)}@example.com",
                    "password": PASSWORD,
                }
            answers.append(
                (operation_id, self.call(method, self.url(path), token=token, body=body))
            )
        return answers


@contextmanager
def world(postgres_url: str, redis_url: str) -> Iterator[tuple[World, FaultProxy, FaultProxy]]:
    tag = f"tokens-bad-day-{secrets.token_hex(4)}"
    email = f"{tag}@example.com"
    try:
        with (
            FaultProxy(upstream_of(postgres_url)) as database,
            FaultProxy(upstream_of(redis_url)) as redis,
            served(
                postgres_url,
                database_proxy=database,
                ratelimit_storage_uri=redis_url,
                redis_proxy=redis,
                env=BOUNDS,
            ) as service,
        ):
            base = service.base_url
            user = post_json(
                base, "/api/users", {"name": "Bad Day", "email": email, "password": PASSWORD}
            )
            token = str(
                post_json(base, "/api/tokens", {"email": email, "password": PASSWORD})["token"]
            )
            found = World(service, tag, token, user_id=str(user["id"]))
            post = found.call("POST", "/api/posts", token=token, body=PUBLISHED)
            assert post.status == 201, post
            found.post_id = str(post.body["data"]["id"])
            path = f"/api/posts/{found.post_id}/comments"
            comment = found.call("POST", path, token=token, body={"body": "B"})
            assert comment.status == 201, comment
            found.comment_id = str(comment.body["data"]["id"])
            yield found, database, redis
    finally:
        clean_up(postgres_url, tag)


def clean_up(url: str, tag: str) -> None:
    """Every row the test wrote: its users (the one signed up first, and those signed up
    by `create_user` calls) and what they wrote (tokens and notifications cascade)."""
    users = "SELECT id FROM users WHERE email LIKE :like"
    like = f"{tag}%@example.com"
    run_sql(url, f"DELETE FROM comments WHERE author_id IN ({users})", like=like)
    run_sql(url, f"DELETE FROM posts WHERE author_id IN ({users})", like=like)
    run_sql(url, "DELETE FROM users WHERE email LIKE :like", like=like)


def assert_unavailable(answers: list[tuple[str, Answer]]) -> None:
    wrong = [(name, a.status, a.code) for name, a in answers if a.status != 503]
    assert wrong == [], "every request needing the database must be a 503"
    assert all(a.code == "SERVICE_UNAVAILABLE" for _, a in answers)
    assert all(a.retry_after is not None and int(a.retry_after) >= 1 for _, a in answers)
    assert max(a.elapsed for _, a in answers) < BOUNDED


@pytest.mark.parametrize("mode", [REFUSE, SILENT], ids=str)
def test_a_valid_token_is_a_503_never_a_401_while_postgres_is_down(
    postgres_url: str, redis_url: str, mode: Mode
) -> None:
    with world(postgres_url, redis_url) as (found, database, _redis):
        database.set_mode(mode)
        for _ in range(2):  # the database failing, then its breaker open
            assert_unavailable(found.every_optional_auth_operation(found.token))
            assert_unavailable(found.every_optional_auth_operation(None))
            assert_unavailable([("get_me", found.call("GET", "/api/me", token=found.token))])
        database.set_mode(PASS)
        # Each worker's breaker lets its probe through after its cooldown.
        deadline = time.monotonic() + RECOVERY
        while True:
            recovered = found.every_optional_auth_operation(found.token)
            if all(200 <= a.status < 300 for _, a in recovered):
                break
            assert time.monotonic() < deadline, recovered
            time.sleep(0.1)
        refused = [line for line in found.service.access_lines() if " status=401 " in line]
        assert refused == []


@pytest.mark.parametrize("mode", [REFUSE, SILENT], ids=str)
def test_a_valid_token_is_accepted_while_redis_is_down(
    postgres_url: str, redis_url: str, mode: Mode
) -> None:
    with world(postgres_url, redis_url) as (found, _database, redis):
        redis.set_mode(mode)
        for _ in range(3):  # Redis failing, then its breaker open
            answers = found.every_optional_auth_operation(found.token)
            answers.append(("get_me", found.call("GET", "/api/me", token=found.token)))
            assert {a.status for _, a in answers} <= {200, 201}, answers
            assert max(a.elapsed for _, a in answers) < BOUNDED  # bounded, never a hang
            bad = found.call("GET", "/api/posts", token="x" * 43)
            assert (bad.status, bad.code) == (401, "UNAUTHORIZED")
        redis.set_mode(PASS)
