"""Two real clients racing on a real server (gunicorn, two workers, as `make serve`):
what the outside probe did, and what must hold now. Each test reproduces its defect
without the fix: lost updates (48 of 50 rounds on PostgreSQL), duplicate creates after
retries (4 posts of one create), the last two admins demoting each other, a login
outliving the password change it raced.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.builders import MERGE_PATCH, PASSWORD, make_admin
from tests.database import count_rows, run_sql
from tests.servers import running_server
from tests.settings import FAST_HASHING_ENV

ROUNDS = 50


@pytest.fixture
def server(app: Any, database_url: str, clean_database: None) -> Iterator[str]:  # noqa: ARG001
    env = {"DATABASE_URL": database_url, "RATELIMIT_ENABLED": "false", **FAST_HASHING_ENV}
    with running_server(env, workers=2) as base:
        yield base


def both(first: Callable[[], Any], second: Callable[[], Any]) -> tuple[Any, Any]:
    """Run the two at the same moment, each in its own thread; their results."""
    barrier = threading.Barrier(2)
    results: list[Any] = [None, None]

    def run(index: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate((first, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results[0], results[1]


def signed_up(http: httpx.Client, **fields: Any) -> tuple[dict[str, Any], dict[str, str]]:
    email = f"race-{uuid.uuid4().hex[:12]}@example.com"
    body = {"name": "Racer", "email": email, "password": PASSWORD, **fields}
    assert http.post("/api/users", json=body).status_code == 201
    token = http.post("/api/tokens", json={"email": email, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {token.json()['data']['token']}"}
    return http.get("/api/me", headers=headers).json()["data"], headers


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_two_writers_with_one_etag_never_both_win(server, method):
    """Each round both clients read the post, then both write it with the ETag they read:
    exactly one write is acknowledged, the other is 412, and the stored post is the
    winner's."""
    with httpx.Client(base_url=server, timeout=20) as a, httpx.Client(base_url=server) as b:
        _, author = signed_up(a)
        post = a.post("/api/posts", json={"title": "t", "content": "c"}, headers=author)
        url = f"/api/posts/{post.json()['data']['id']}"
        outcomes: Counter[tuple[int, int]] = Counter()
        for round_ in range(ROUNDS):
            tag_a = a.get(url, headers=author).headers["ETag"]
            tag_b = b.get(url, headers=author).headers["ETag"]
            assert tag_a == tag_b

            def write(client: httpx.Client, tag: str, title: str) -> httpx.Response:
                if method == "PATCH":
                    body: dict[str, str] = {"title": title}
                    headers = {**author, **MERGE_PATCH, "If-Match": tag}
                else:
                    body = {"title": title, "content": title, "status": "draft"}
                    headers = {**author, "If-Match": tag}
                return client.request(method, url, json=body, headers=headers)

            first, second = both(
                partial(write, a, tag_a, f"a{round_}"), partial(write, b, tag_b, f"b{round_}")
            )
            outcomes[tuple(sorted((first.status_code, second.status_code)))] += 1
            winner = first if first.status_code == 200 else second
            stored = a.get(url, headers=author)
            assert stored.json()["data"]["title"] == winner.json()["data"]["title"]
            assert stored.headers["ETag"] == winner.headers["ETag"]
        assert outcomes == Counter({(200, 412): ROUNDS}), outcomes


def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def send_and_hang_up(base: str, path: str, body: bytes, headers: dict[str, str]) -> None:
    """A request whose answer the client never reads: its timeout expired."""
    address = urlsplit(base)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {address.netloc}\r\nContent-Length: {len(body)}\r\n"
        f"{head}Connection: close\r\n\r\n"
    ).encode() + body
    with socket.create_connection((address.hostname, address.port), timeout=5) as sock:
        sock.sendall(request)


@pytest.mark.parametrize("keyed", [False, True])
def test_a_create_retried_after_timeouts_is_made_once_with_a_key(server, database_url, keyed):
    """Three attempts whose answers are lost, then a fourth that is read: without a key,
    four posts (the probe's finding); with one, one post, and the fourth is its replay."""
    with httpx.Client(base_url=server, timeout=20) as http:
        _, author = signed_up(http)
        headers = {**author, "Content-Type": "application/json"}
        if keyed:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        body = b'{"title": "Once", "content": "c"}'
        for _ in range(3):
            send_and_hang_up(server, "/api/posts", body, headers)
        until(lambda: count_rows(database_url, "posts") >= 1)  # one attempt got through
        answer = http.post("/api/posts", content=body, headers=headers)
        assert answer.status_code == 201
        created = run_sql(database_url, "SELECT COUNT(*) FROM posts WHERE title = 'Once'")
        if keyed:
            assert answer.headers["Idempotent-Replayed"] == "true"
            assert created[0][0] == 1
            read = http.get(answer.headers["Location"], headers=author)
            assert read.json() == answer.json()
        else:
            assert "Idempotent-Replayed" not in answer.headers
            until(lambda: count_rows(database_url, "posts") == 4)  # the others may be running
            assert count_rows(database_url, "posts") == 4


def test_two_concurrent_creates_with_one_key_make_one_row(server, database_url):
    with httpx.Client(base_url=server, timeout=20) as a, httpx.Client(base_url=server) as b:
        _, author = signed_up(a)
        for round_ in range(10):
            headers = {**author, "Idempotency-Key": f"k-{round_}"}
            body = {"title": f"Twice {round_}", "content": "c"}
            first, second = both(
                partial(a.post, "/api/posts", json=body, headers=headers),
                partial(b.post, "/api/posts", json=body, headers=headers),
            )
            assert (first.status_code, second.status_code) == (201, 201)
            assert first.json() == second.json()
            replayed = {
                first.headers.get("Idempotent-Replayed"),
                second.headers.get("Idempotent-Replayed"),
            }
            assert replayed == {None, "true"}
        assert count_rows(database_url, "posts") == 10


def test_the_last_two_admins_cannot_both_be_demoted(app, server, database_url):
    """Each round the only two admins demote each other at once: one may win, never both."""
    with httpx.Client(base_url=server, timeout=20) as a, httpx.Client(base_url=server) as b:
        outcomes: Counter[tuple[int, int]] = Counter()
        for round_ in range(20):
            run_sql(database_url, "UPDATE users SET role = 'user'")
            tokens = []
            ids = []
            for who in ("x", "y"):
                email = f"admin-{who}{round_}@example.com"
                make_admin(app, email, PASSWORD)
                answer = a.post("/api/tokens", json={"email": email, "password": PASSWORD})
                tokens.append({"Authorization": f"Bearer {answer.json()['data']['token']}"})
                ids.append(a.get("/api/me", headers=tokens[-1]).json()["data"]["id"])
            demote = {"role": "user"}
            first, second = both(
                partial(
                    a.patch,
                    f"/api/users/{ids[1]}",
                    json=demote,
                    headers={**tokens[0], **MERGE_PATCH},
                ),
                partial(
                    b.patch,
                    f"/api/users/{ids[0]}",
                    json=demote,
                    headers={**tokens[1], **MERGE_PATCH},
                ),
            )
            outcomes[tuple(sorted((first.status_code, second.status_code)))] += 1
            admins = run_sql(database_url, "SELECT COUNT(*) FROM users WHERE role = 'admin'")
            assert admins[0][0] == 1, (outcomes, first.text, second.text)
        assert (200, 200) not in outcomes


def test_a_login_racing_a_password_change_never_outlives_it(database_url, clean_database):  # noqa: ARG001
    """Real Argon2 cost, so a login spends its time verifying the old password while the
    change commits: the login is refused, or its token is revoked with the others."""
    env = {"DATABASE_URL": database_url, "RATELIMIT_ENABLED": "false"}
    with running_server(env, workers=2) as base, httpx.Client(base_url=base, timeout=20) as a:
        user, headers = signed_up(a)
        credentials = {"email": user["email"], "password": PASSWORD}
        survivors = []
        with httpx.Client(base_url=base, timeout=20) as b:
            for round_ in range(5):
                password = f"new passphrase number {round_}"
                login, change = both(
                    partial(b.post, "/api/tokens", json=credentials),
                    partial(
                        a.patch,
                        f"/api/users/{user['id']}",
                        json={"password": password, "currentPassword": PASSWORD},
                        headers={**headers, **MERGE_PATCH},
                    ),
                )
                assert change.status_code == 200
                if login.status_code == 201:
                    token = login.json()["data"]["token"]
                    me = a.get("/api/me", headers={"Authorization": f"Bearer {token}"})
                    if me.status_code == 200:
                        survivors.append(round_)
                else:
                    assert login.status_code == 401
                # Back to the known password, from the session the change kept.
                reset = {"password": PASSWORD, "currentPassword": password}
                answer = a.patch(
                    f"/api/users/{user['id']}", json=reset, headers={**headers, **MERGE_PATCH}
                )
                assert answer.status_code == 200
        assert survivors == []
