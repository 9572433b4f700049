"""The dashboard as `make run` serves it (one uvicorn process, one event loop): a slow
upstream holds no other request of the worker, and two instances of the service can
play the BFF and a core service."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import httpx

from tests.builders import account
from tests.servers import running_server
from tests.settings import FAST_HASHING_ENV
from tests.upstream_stubs import Reply, notifications_of, profile_of, stats_of, stub_server

UPSTREAM_DELAY = 3.0
DASHBOARDS = 8  # as many as the worker's threads (WSGI_THREADS): every one of them waits
PROBES = 20


async def _probe_health(base: str) -> list[float]:
    """PROBES concurrent `GET /api/health`; each one's time."""
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:

        async def one() -> float:
            started = time.monotonic()
            response = await http.get("/api/health")
            assert response.status_code == 200
            return time.monotonic() - started

        await asyncio.gather(*(one() for _ in range(PROBES)))  # connections open, warm
        return list(await asyncio.gather(*(one() for _ in range(PROBES))))


def test_a_slow_upstream_never_blocks_the_event_loop(client, database_url):
    who = account(client)
    slow = {
        "profile": lambda _p: Reply(body=profile_of(who.user), delay=UPSTREAM_DELAY),
        "stats": lambda _p: Reply(body=stats_of(who.id), delay=UPSTREAM_DELAY),
        "notifications": lambda _p: Reply(body=notifications_of(0), delay=UPSTREAM_DELAY),
    }
    with ExitStack() as stack:
        env = {
            "DATABASE_URL": database_url,
            "RATELIMIT_ENABLED": "false",
            "DASHBOARD_TIMEOUT_MS": "5000",
            **FAST_HASHING_ENV,
        }
        for name, reply in slow.items():
            env[f"DASHBOARD_{name.upper()}_URL"] = stack.enter_context(stub_server(reply)).url
        base = stack.enter_context(running_server(env, how="run"))
        baseline = asyncio.run(_probe_health(base))
        with ThreadPoolExecutor(DASHBOARDS) as pool:
            started = time.monotonic()
            dashboards = [
                pool.submit(httpx.get, f"{base}/api/dashboard", headers=who.headers, timeout=10)
                for _ in range(DASHBOARDS)
            ]
            time.sleep(0.5)  # every dashboard is now waiting on its upstreams
            probes = asyncio.run(_probe_health(base))
            probed_while_waiting = time.monotonic() - started < UPSTREAM_DELAY
            answers = [future.result() for future in dashboards]
    print(
        f"{PROBES} concurrent GET /api/health: slowest {max(baseline) * 1000:.1f} ms alone, "
        f"{max(probes) * 1000:.1f} ms while {DASHBOARDS} dashboards waited on "
        f"{UPSTREAM_DELAY:.0f} s upstreams"
    )
    assert probed_while_waiting
    assert [answer.status_code for answer in answers] == [200] * DASHBOARDS
    # A loop held by a dashboard would hold every probe until its upstreams answer
    # (seconds); on an idle machine each takes a few ms (bench figures: README).
    assert max(probes) < UPSTREAM_DELAY / 4


def test_two_instances_play_the_bff_and_the_core_service(client, app_with, database_url):
    """A second process of this service (the core) serves the three upstream contracts;
    the BFF's dashboard from it is the same as the one from its own model layer."""
    author, reader = account(client), account(client)
    post = client.post(
        "/api/posts",
        json={"title": "Engines", "content": "On engines.", "status": "published"},
        headers=author.headers,
    ).json()["data"]
    client.post(f"/api/posts/{post['id']}/comments", json={"body": "Hi"}, headers=reader.headers)
    env = {"DATABASE_URL": database_url, "RATELIMIT_ENABLED": "false", **FAST_HASHING_ENV}
    with running_server(env, how="run") as core:
        urls = {
            f"dashboard_{name}_url": f"{core}/api" for name in ("profile", "stats", "notifications")
        }
        bff = app_with(dashboard_timeout=5.0, **urls)
        remote = bff.get("/api/dashboard", headers=author.headers)
    local = client.get("/api/dashboard", headers=author.headers)
    assert remote.status_code == 200, remote.text
    assert remote.json()["meta"] == {"partial": False, "errors": []}
    assert remote.json() == local.json()
    assert remote.json()["data"]["unreadCount"] == 1
    assert remote.headers["etag"] == local.headers["etag"]


def test_a_dashboard_slower_than_the_database_deadline_is_still_answered(client, app_with):
    """The dashboard's ETag is keyed with the app's secret, read from the database on its
    first use: read after the upstreams' wait, it came past the request's deadline for
    the database (which the token lookup had started), and the answer was a 503."""
    who = account(client)  # signed up through another app: this one has read no secret
    replies = {
        "profile": lambda _p: Reply(body=profile_of(who.user), delay=1.5),
        "stats": lambda _p: Reply(body=stats_of(who.id)),
        "notifications": lambda _p: Reply(body=notifications_of(0)),
    }
    with ExitStack() as stack:
        urls = {
            f"dashboard_{name}_url": stack.enter_context(stub_server(reply)).url
            for name, reply in replies.items()
        }
        api = app_with(database_request_timeout=1.0, dashboard_timeout=5.0, **urls)
        response = api.get("/api/dashboard", headers=who.headers)
    assert response.status_code == 200, response.text
    assert response.headers["ETag"].startswith('"')
