"""How requests reach Flask: reads in the event loop, writes in a2wsgi's pool (named
WSGI_n), and everything in the loop with WSGI_THREADS=0; all must behave the same."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from service.app import runtime_of
from tests.builders import account, error_of, user_payload
from tests.database import statements_run


@pytest.fixture
def inline_client(app_with) -> TestClient:
    return app_with(wsgi_threads=0, raise_server_exceptions=False)


def test_requests_bodies_errors_and_headers_go_through(inline_client):
    created = inline_client.post("/api/users", json=user_payload(name="Inline User"))
    assert created.status_code == 201
    assert created.headers["location"].startswith("/api/users/")
    assert created.headers["x-request-id"]
    assert created.json()["data"]["name"] == "Inline User"
    invalid = inline_client.post("/api/users", json={"name": 1})
    assert error_of(invalid)["code"] == "VALIDATION_ERROR"
    unrouted = inline_client.get("/api/users/a%0Ab")
    assert unrouted.status_code == 404
    assert inline_client.get("/api/health").json() == {"data": {"status": "ok"}}


def flask_threads(client: TestClient) -> list[str]:
    """The name of the thread each request of `client` ran Flask in, in order."""
    names: list[str] = []
    client.app.app.before_request(lambda: names.append(threading.current_thread().name))
    return names


@pytest.mark.parametrize(
    ("overrides", "read_in_pool", "write_in_pool"),
    [
        ({"inline_reads": True}, False, True),
        ({"inline_reads": False}, True, True),
        ({"wsgi_threads": 0}, False, False),
    ],
    ids=["inline-reads", "inline-reads-off", "no-threads"],
)
def test_reads_run_in_the_event_loop_and_writes_in_the_pool(
    app_with, overrides, read_in_pool, write_in_pool
):
    api = app_with(**overrides)
    names = flask_threads(api)
    someone = account(api)  # two writes: POST /api/users, POST /api/tokens
    me = api.get("/api/me", headers=someone.headers)
    assert me.json()["data"]["id"] == someone.user["id"]
    assert api.get("/api/posts").status_code == 200
    assert api.get("/api/health").status_code == 200  # waits on nothing: always in the loop
    assert len(names) == 5
    in_pool = [name.startswith("WSGI") for name in names]
    assert in_pool == [write_in_pool] * 2 + [read_in_pool] * 2 + [False]


def test_by_default_reads_run_in_the_loop_on_sqlite_and_in_the_threads_elsewhere(
    app_with, settings
):
    api = app_with()
    names = flask_threads(api)
    assert api.get("/api/posts").status_code == 200
    assert api.get("/api/posts").status_code == 200
    assert api.get("/api/health").status_code == 200
    on_sqlite = settings.database_url.startswith("sqlite")
    assert [name.startswith("WSGI") for name in names] == [not on_sqlite, not on_sqlite, False]
    assert settings.inline_reads is None
    assert (settings.reads_in_loop, settings.threads) == ((True, 2) if on_sqlite else (False, 8))
    assert replace(settings, inline_reads=False).threads == 8
    assert replace(settings, inline_reads=True).threads == 2
    assert replace(settings, wsgi_threads=0).reads_in_loop
    # Counting in Redis waits on the network, which must not hold the loop.
    shared = replace(settings, ratelimit_enabled=True, ratelimit_storage_uri="redis://db:6379")
    assert (shared.reads_in_loop, shared.threads) == (False, 8)


def test_an_operation_that_calls_other_services_never_runs_in_the_loop(app_with):
    """The dashboard (it declares 502/504) waits on the network: in the threads, even
    where reads run in the loop."""
    api = app_with(inline_reads=True)
    names = flask_threads(api)
    someone = account(api)
    assert api.get("/api/dashboard", headers=someone.headers).status_code == 200
    assert names[-1].startswith("WSGI")


@pytest.mark.parametrize("inline_reads", [True, False], ids=["in-the-loop", "in-a-thread"])
def test_the_token_lookup_runs_where_reads_run(app_with, inline_reads):
    api = app_with(inline_reads=inline_reads)
    flask_ran_in = flask_threads(api)
    someone = account(api)
    with statements_run(runtime_of(api.app).database.engine) as statements:
        assert api.get("/api/me", headers=someone.headers).status_code == 200
        bad = {"Authorization": "Bearer " + "x" * 43}
        assert error_of(api.get("/api/me", headers=bad))["code"] == "UNAUTHORIZED"
    lookups = [s.thread for s in statements if s.sql.lstrip().startswith("SELECT tokens.id")]
    assert len(lookups) == 2
    read_ran_in = flask_ran_in[2]  # after POST /api/users and POST /api/tokens
    if inline_reads:  # the lookup and the read both ran in the request's event loop thread
        assert lookups[0] == read_ran_in
        assert not read_ran_in.startswith("WSGI")
    else:  # the app's threads, those Flask runs in
        assert all(name.startswith("WSGI") for name in lookups)
