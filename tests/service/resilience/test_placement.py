"""Where requests run (service/resilience/placement.py): the rule on plans and settings,
the thread a real request runs in, and a silent PostgreSQL that never holds the loop."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from service.contract import Contract
from service.plan import Plans
from service.resilience.placement import Placement
from service.settings import Settings
from tests.faults.proxy import PASS, SILENT, FaultProxy
from tests.faults.served import through, upstream_of
from tests.servers import running_server
from tests.settings import FAST_HASHING_ENV

PLANS = Plans(Contract.load())
SQLITE = "sqlite:///data/app.db"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def in_loop(operation_id: str, **settings: object) -> bool:
    return Placement(Settings(**settings)).in_loop(PLANS[operation_id])  # type: ignore[arg-type]


def test_on_sqlite_reads_run_in_the_loop_and_writes_in_the_threads():
    assert in_loop("list_posts", database_url=SQLITE)
    assert in_loop("get_post", database_url=SQLITE)
    assert not in_loop("create_post", database_url=SQLITE)
    assert not in_loop("update_post", database_url=SQLITE)


def test_on_a_network_database_or_with_redis_limits_reads_run_in_the_threads():
    assert not in_loop("list_posts", database_url=POSTGRES)
    redis = "redis://127.0.0.1:6379/0"
    assert not in_loop("list_posts", database_url=SQLITE, ratelimit_storage_uri=redis)
    # Without limits, nothing a read waits on is on the network.
    assert in_loop(
        "list_posts", database_url=SQLITE, ratelimit_storage_uri=redis, ratelimit_enabled=False
    )


def test_what_waits_on_nothing_runs_in_the_loop_and_the_dashboard_never_does():
    assert in_loop("get_health", database_url=POSTGRES)  # declares no 503
    assert not in_loop("get_dashboard", database_url=SQLITE)  # calls other services


def test_settings_override_the_rule():
    assert in_loop("list_posts", database_url=POSTGRES, inline_reads=True)
    assert not in_loop("list_posts", database_url=SQLITE, inline_reads=False)
    assert in_loop("create_post", database_url=POSTGRES, wsgi_threads=0)


def ran_in(client: TestClient) -> list[str]:
    """The thread each request of `client` ran Flask in, in order."""
    names: list[str] = []
    client.app.app.before_request(lambda: names.append(threading.current_thread().name))
    return names


def test_a_real_request_runs_where_the_rule_says(app_with, settings):
    api = app_with()
    names = ran_in(api)
    assert api.get("/api/posts").status_code == 200
    assert api.get("/api/health").status_code == 200
    reads_in_loop = settings.database_url.startswith("sqlite")
    assert [name.startswith("WSGI") for name in names] == [not reads_in_loop, False]


@pytest.fixture
def proxy(settings) -> Iterator[FaultProxy]:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("a database that can go silent: PostgreSQL")
    with FaultProxy(upstream_of(settings.database_url)) as proxy:
        yield proxy


def answered_in(base_url: str, path: str) -> tuple[int, float]:
    host, port = base_url.removeprefix("http://").split(":")
    started = time.monotonic()
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status, time.monotonic() - started
    finally:
        connection.close()


def test_a_silent_database_never_holds_the_loop(settings, proxy):
    """`make run` (one worker): while one read waits on a silent database in a thread,
    the liveness probe still answers at once."""
    env = {
        **FAST_HASHING_ENV,
        "DATABASE_URL": through(settings.database_url, proxy),
        "DATABASE_REQUEST_TIMEOUT": "3",
        "RATELIMIT_ENABLED": "false",
        "METRICS_PORT": "off",
    }
    with running_server(env, how="run", migrate_url=settings.database_url) as base_url:
        assert answered_in(base_url, "/api/posts")[0] == 200
        proxy.set_mode(SILENT)
        read: list[tuple[int, float]] = []
        reader = threading.Thread(target=lambda: read.append(answered_in(base_url, "/api/posts")))
        reader.start()
        time.sleep(0.02)  # the read is waiting now
        probes = []
        while reader.is_alive() and len(probes) < 200:
            probes.append(answered_in(base_url, "/api/health"))
        reader.join()
        proxy.set_mode(PASS)
    assert read[0][0] == 503 and read[0][1] >= 1.0
    assert len(probes) > 10
    assert {status for status, _ in probes} == {200}
    assert max(seconds for _, seconds in probes) < 1.0, sorted(s for _, s in probes)[-3:]
