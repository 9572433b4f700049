"""The dashboard: local sources by default, HTTP sources against real stub servers that
follow openapi/upstreams/*.yaml, partial answers for every way a source fails, the ETag."""

from __future__ import annotations

import time
from contextlib import ExitStack

import pytest

from tests.builders import account, create_comment, create_post, error_of
from tests.upstream_stubs import (
    Reply,
    notification,
    notifications_of,
    profile_of,
    refusing_url,
    stats_of,
    stub_server,
)

# Generous, for a loaded machine: a source that answers at once must never time out.
TIMEOUT_MS = 1000
SLOWER = 5.0  # seconds a slow upstream takes: five times the timeout


def _get(client, who, **headers):
    return client.get("/api/dashboard", headers={**who.headers, **headers})


def test_local_sources_by_default(client):
    author, reader = account(client), account(client)
    post = create_post(client, author, status="published")
    create_post(client, author)  # a draft
    comment = create_comment(client, reader, post["id"])
    response = _get(client, author)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["meta"] == {"partial": False, "errors": []}
    data = body["data"]
    assert data["user"]["id"] == author.id
    assert data["user"]["email"] == author.user["email"]  # the caller's own profile
    assert data["stats"] == {
        "userId": author.id,
        "posts": 2,
        "published": 1,
        "drafts": 1,
        "commentsWritten": 0,
        "commentsReceived": 1,
    }
    assert data["unreadCount"] == 1
    assert [n["commentId"] for n in data["recentNotifications"]] == [comment["id"]]
    assert response.headers["cache-control"] == "private, max-age=0"
    assert response.headers["etag"].startswith('"')


def test_the_etag_gives_304_until_something_changes(client):
    author, reader = account(client), account(client)
    post = create_post(client, author, status="published")
    first = _get(client, author)
    etag = first.headers["etag"]
    again = _get(client, author, **{"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == "private, max-age=0"
    assert "x-request-id" in again.headers
    create_comment(client, reader, post["id"])
    changed = _get(client, author, **{"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.json()["data"]["unreadCount"] == 1


def test_the_dashboard_needs_a_token(client):
    response = client.get("/api/dashboard")
    assert response.status_code == 401
    assert error_of(response)["code"] == "UNAUTHORIZED"


# HTTP sources: what each stub answers, by source.
def _ok(who):
    return {
        "profile": lambda _path: Reply(body=profile_of(who.user)),
        "stats": lambda _path: Reply(body=stats_of(who.id)),
        "notifications": lambda _path: Reply(body=notifications_of(7, [notification(who.id)])),
    }


def _serve(stack, replies):
    """Stub servers for the replies given (a URL as is for a source that refuses)."""
    urls, stubs = {}, {}
    for name, reply in replies.items():
        if isinstance(reply, str):
            urls[f"dashboard_{name}_url"] = reply
            continue
        stubs[name] = stack.enter_context(stub_server(reply))
        urls[f"dashboard_{name}_url"] = stubs[name].url
    return urls, stubs


def test_all_upstreams_up(client, app_with):
    with ExitStack() as stack:
        who = account(client)
        urls, stubs = _serve(stack, _ok(who))
        bff = app_with(dashboard_timeout=TIMEOUT_MS / 1000, **urls)
        response = _get(bff, who, **{"X-Request-ID": "dash-1"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["meta"] == {"partial": False, "errors": []}
    assert body["data"]["user"] == who.user
    assert body["data"]["stats"] == stats_of(who.id)["data"]
    assert body["data"]["unreadCount"] == 7
    assert body["data"]["recentNotifications"] == [notification(who.id)]
    assert response.headers["etag"] and response.headers["cache-control"] == "private, max-age=0"
    assert stubs["profile"].paths == [f"/api/users/{who.id}"]
    assert stubs["stats"].paths == [f"/api/users/{who.id}/stats"]
    assert stubs["notifications"].paths == ["/api/notifications?unread=true&limit=5"]
    for stub in stubs.values():  # the caller's identity and the request id go along
        assert stub.seen[0]["authorization"] == f"Bearer {who.token}"
        assert stub.seen[0]["x-request-id"] == "dash-1"


# (source, how it fails, the parts and code the meta names)
FAILURES = {
    "stats slower than the timeout": (
        "stats",
        lambda who: lambda _path: Reply(body=stats_of(who.id), delay=SLOWER),
        ["stats"],
        "TIMEOUT",
    ),
    "notifications answering 500": (
        "notifications",
        lambda _who: lambda _path: Reply(status=500, body={"error": "boom"}),
        ["unreadCount", "recentNotifications"],
        "UPSTREAM_ERROR",
    ),
    "stats refusing connections": (
        "stats",
        lambda _who: refusing_url(),
        ["stats"],
        "UNREACHABLE",
    ),
    "notifications breaking their contract": (
        "notifications",
        lambda _who: (
            lambda _path: Reply(
                body={"data": [{"id": "not-a-uuid", "secret": "x"}], "pagination": {"total": -1}}
            )
        ),
        ["unreadCount", "recentNotifications"],
        "UPSTREAM_ERROR",
    ),
    "stats about someone else": (
        "stats",
        lambda _who: lambda _path: Reply(body=stats_of("3fa85f64-5717-4562-b3fc-2c963f66afa6")),
        ["stats"],
        "UPSTREAM_ERROR",
    ),
    "notifications not JSON": (
        "notifications",
        lambda _who: lambda _path: Reply(raw=b"<html>oops</html>"),
        ["unreadCount", "recentNotifications"],
        "UPSTREAM_ERROR",
    ),
}


@pytest.mark.parametrize("case", FAILURES, ids=list(FAILURES))
def test_a_failing_source_leaves_its_parts_null(client, app_with, case):
    source, failing, parts, code = FAILURES[case]
    with ExitStack() as stack:
        who = account(client)
        replies = _ok(who)
        replies[source] = failing(who)
        urls, _ = _serve(stack, replies)
        bff = app_with(dashboard_timeout=TIMEOUT_MS / 1000, **urls)
        started = time.monotonic()
        response = _get(bff, who)
        elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["meta"] == {"partial": True, "errors": [{"part": p, "code": code} for p in parts]}
    for part in parts:
        assert body["data"][part] is None
    assert body["data"]["user"] == who.user
    assert "secret" not in response.text and "oops" not in response.text  # never passed on
    assert response.headers["etag"] and response.headers["cache-control"] == "private, max-age=0"
    assert elapsed < SLOWER / 2  # bounded by the timeout, not by the slow upstream


@pytest.mark.parametrize(
    ("failing", "status", "word"),
    [
        (lambda _who: refusing_url(), 502, "reached"),
        (lambda _who: lambda _path: Reply(status=503, body={}), 502, "error"),
        (lambda who: lambda _path: Reply(body=profile_of(who.user), delay=SLOWER), 504, "within"),
    ],
    ids=["refused", "answering 503", "too slow"],
)
def test_without_the_profile_the_answer_is_an_upstream_error(
    client, app_with, failing, status, word
):
    with ExitStack() as stack:
        who = account(client)
        replies = _ok(who)
        replies["profile"] = failing(who)
        urls, _ = _serve(stack, replies)
        bff = app_with(dashboard_timeout=TIMEOUT_MS / 1000, **urls)
        response = _get(bff, who)
    assert response.status_code == status
    error = error_of(response)
    assert error["code"] == "UPSTREAM_UNAVAILABLE"
    assert word in error["message"]
    assert "etag" not in response.headers


def _delayed(reply, delay):
    return lambda path: Reply(body=reply(path).body, delay=delay)


def test_three_slow_sources_take_about_the_slowest_not_the_sum(client, app_with):
    delay = 0.3
    with ExitStack() as stack:
        who = account(client)
        slow = {name: _delayed(reply, delay) for name, reply in _ok(who).items()}
        urls, _ = _serve(stack, slow)
        bff = app_with(dashboard_timeout=2.0, **urls)
        _get(bff, who)  # connections opened
        started = time.monotonic()
        response = _get(bff, who)
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.json()["meta"]["partial"] is False
    print(f"dashboard with three {delay * 1000:.0f} ms upstreams: {elapsed * 1000:.0f} ms")
    assert elapsed < 3 * delay


def test_a_dropped_connection_is_tried_once_more(client, app_with):
    """The first connection is closed without an answer; the retry gets one."""
    with ExitStack() as stack:
        who = account(client)
        replies = _ok(who)
        tries = iter([Reply(drop=True)])
        replies["stats"] = lambda _path: next(tries, None) or Reply(body=stats_of(who.id))
        urls, stubs = _serve(stack, replies)
        answer = app_with(dashboard_timeout=2.0, **urls)
        response = _get(answer, who)
    assert response.json()["meta"] == {"partial": False, "errors": []}
    assert len(stubs["stats"].paths) == 2
