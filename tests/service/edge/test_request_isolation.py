"""Nothing of one request reaches the next: unrouted requests never reach a handler, and
no request sees an earlier request's operation or caller, on either server command."""

from __future__ import annotations

import asyncio
import contextvars
import http.client
import json
import uuid
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from service import runtime
from service.access.caller import Caller
from service.app import runtime_of
from service.edge.edge import EdgeMiddleware
from service.edge.scope import RequestScope, enter
from tests.builders import PASSWORD, account, create_post, error_of
from tests.database import run_sql
from tests.servers import running_server
from tests.settings import FAST_HASHING_ENV

ROUNDS = 100


def call(
    connection: http.client.HTTPConnection,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    token: str | None = None,
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body)
    connection.request(method, path, data, headers)
    response = connection.getresponse()
    raw = response.read()
    return response.status, json.loads(raw) if raw else {}


def sign_up_and_post(base: str) -> tuple[str, str]:
    """A new user's token and one of their posts' id, through the live server."""
    address = urlsplit(base)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    email = f"iso-{uuid.uuid4().hex[:12]}@example.com"
    user = {"name": "Isolated", "email": email, "password": PASSWORD}
    assert call(connection, "POST", "/api/users", user)[0] == 201
    status, token = call(connection, "POST", "/api/tokens", {"email": email, "password": PASSWORD})
    assert status == 201
    status, post = call(
        connection, "POST", "/api/posts", {"title": "t", "content": "c"}, token["data"]["token"]
    )
    assert status == 201
    connection.close()
    return token["data"]["token"], post["data"]["id"]


@pytest.mark.parametrize("how", ["run", "serve"])
def test_unrouted_requests_after_an_authenticated_one_are_404(database_url, how):
    """The outside probe's sequence, on one keep-alive connection each round: before the
    fix ~40 % of the unauthenticated requests reached the post handlers (500)."""
    env = {"DATABASE_URL": database_url, "RATELIMIT_ENABLED": "false", **FAST_HASHING_ENV}
    env["APP_ENV"] = "production"  # as `make serve`: no response validation, the probe's case
    with running_server(env, how=how) as base:
        token, post_id = sign_up_and_post(base)
        address = urlsplit(base)
        answers: Counter[tuple[str, int, str]] = Counter()
        for _ in range(ROUNDS):
            connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
            assert call(connection, "GET", "/api/health")[0] == 200
            assert (
                call(connection, "POST", "/api/posts", {"title": "x", "content": "c"}, token)[0]
                == 201
            )
            for method in ("GET", "PATCH", "DELETE"):
                body = {"title": "hijacked"} if method == "PATCH" else None
                status, envelope = call(connection, method, f"/api/posts/{post_id}%0A", body)
                answers[(method, status, envelope.get("error", {}).get("code", ""))] += 1
            connection.close()
    assert answers == Counter(
        {(method, 404, "NOT_FOUND"): ROUNDS for method in ("GET", "PATCH", "DELETE")}
    )
    assert run_sql(database_url, "SELECT COUNT(*) FROM posts WHERE title = 'hijacked'")[0][0] == 0


@pytest.mark.parametrize("how", ["run", "serve"])
def test_an_anonymous_request_after_an_authors_never_sees_their_drafts(database_url, how):
    env = {"DATABASE_URL": database_url, "RATELIMIT_ENABLED": "false", **FAST_HASHING_ENV}
    env["APP_ENV"] = "production"  # as `make serve`: no response validation, the probe's case
    with running_server(env, how=how) as base:
        token, _ = sign_up_and_post(base)
        address = urlsplit(base)
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
        for _ in range(20):
            draft = {"title": "secret", "content": "c", "status": "draft"}
            status, created = call(connection, "POST", "/api/posts", draft, token)
            assert status == 201
            status, seen = call(connection, "GET", f"/api/posts/{created['data']['id']}")
            assert status == 404, seen
        connection.close()


def stale_admin_context(app: Any, admin_id: str) -> contextvars.Context:
    """A context as an earlier admin request to `update_user` would have left it."""
    runtime_ = runtime_of(app)
    stale = RequestScope(runtime_, "stale", "127.0.0.1")
    stale.plan = runtime_.plans["update_user"]
    admin = uuid.UUID(admin_id)
    stale.caller = Caller(id=admin, role="admin", token_id=admin)

    def fill() -> contextvars.Context:
        enter(stale)
        return contextvars.copy_context()

    return contextvars.Context().run(fill)


def test_a_handler_never_sees_the_previous_requests_caller(app, client, admin):
    """The ASGI app called from a context holding an earlier admin's operation and
    caller: an unrouted request is a 404 and changes nothing; a routed anonymous one is
    anonymous."""
    victim = account(client)

    async def requests() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http_:
            unrouted = await http_.patch(
                f"/api/users/{victim.id}%0A", json={"role": "admin", "name": "Hijacked"}
            )
            routed = await http_.patch(
                f"/api/users/{victim.id}",
                content=b'{"role": "admin"}',
                headers={"Content-Type": "application/merge-patch+json"},
            )
        return unrouted, routed

    unrouted, routed = stale_admin_context(app, admin.id).run(asyncio.run, requests())
    assert unrouted.status_code == 404
    assert error_of(unrouted)["code"] == "NOT_FOUND"
    assert routed.status_code == 401
    seen = client.get(f"/api/users/{victim.id}", headers=admin.headers).json()["data"]
    assert (seen["role"], seen["name"]) == ("user", victim.user["name"])


def test_each_request_starts_from_a_fresh_context_holding_its_apps_runtime(app):
    marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker")
    seen: list[tuple[str | None, Any]] = []

    async def inner(_scope: Any, _receive: Any, _send: Any) -> None:
        seen.append((marker.get(None), runtime.current()))
        marker.set("set by a request")

    async def two_requests() -> None:
        marker.set("left by an earlier request")
        layer = EdgeMiddleware(inner, runtime_of(app))
        for _ in range(2):
            scope = {"type": "http", "method": "GET", "headers": [], "path": "/"}
            await layer(scope, None, None)  # type: ignore[arg-type]

    asyncio.run(two_requests())
    assert seen == [(None, runtime_of(app))] * 2


def test_a_routed_mismatch_between_routers_is_refused(client):
    """Werkzeug matches `/api/users/<id>%0A/posts` to nothing Connexion routed."""
    author = account(client)
    post = create_post(client, author)
    for method in ("GET", "PATCH", "DELETE", "PUT"):
        response = client.request(method, f"/api/posts/{post['id']}%0A", headers=author.headers)
        assert response.status_code == 404, (method, response.text)
