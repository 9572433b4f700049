"""Where reads run: in the event loop while the database answers at once, in the threads
when it waits, and never holding the loop past the bound (service/resilience/placement.py).

The first tests drive the placement with a clock of their own; the others serve real
requests on PostgreSQL through the fault proxy (tests/faults/proxy.py), slowed or silent.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from service.app import runtime_of
from service.resilience.placement import FIRST_RETRY, WINDOW, ReadPlacement
from service.settings import Settings
from tests.faults.proxy import PASS, SILENT, FaultProxy, latency
from tests.faults.served import through, upstream_of
from tests.servers import running_server
from tests.settings import FAST_HASHING_ENV

BOUND = Settings().inline_read_timeout  # 50 ms, production's (tests' apps have 1 s)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def placement(clock: Clock, **overrides: Any) -> ReadPlacement:
    options: dict[str, Any] = {"enabled": True, "bound": 0.05, "max_wait": 0.001, **overrides}
    return ReadPlacement(clock=clock, **options)


def window(reads: ReadPlacement, *waits: float) -> None:
    for index in range(WINDOW):
        reads.record(waits[index % len(waits)])


def test_reads_leave_the_loop_while_the_database_waits_and_come_back_to_try_again():
    clock = Clock()
    reads = placement(clock)
    moves: list[str] = []
    reads.on_move = moves.append
    window(reads, 0.0002)
    assert reads.inline()
    window(reads, 0.003)  # a database a hop away
    assert not reads.inline()
    assert moves == ["slow"]
    clock.now += FIRST_RETRY
    assert reads.inline()  # tried again
    window(reads, 0.003)
    clock.now += FIRST_RETRY
    assert not reads.inline()  # still slow: it waits twice as long before the next try
    clock.now += FIRST_RETRY
    assert reads.inline()
    window(reads, 0.0002)  # the database came nearer: back to the first retry
    assert reads.inline()
    assert reads.retry == FIRST_RETRY


def test_a_few_slow_units_among_fast_ones_leave_reads_in_the_loop():
    """Waits for the GIL behind busy threads inflate some units, not the typical one."""
    reads = placement(Clock())
    window(reads, 0.0002, 0.0002, 0.0002, 0.05)  # one in four
    assert reads.inline()


def test_units_that_made_no_round_trip_are_not_counted():
    """Some units wait on nothing; a third of them, and the typical wait would read as
    none however far the database is."""
    reads = placement(Clock())
    for _ in range(3 * WINDOW):
        reads.record(0.0)
    window(reads, 0.0, 0.003, 0.003)
    window(reads, 0.0, 0.003, 0.003)
    assert not reads.inline()


def test_a_cut_moves_reads_whatever_they_waited_a_connect_moves_one():
    clock = Clock()
    reads = placement(clock, max_wait=None)  # INLINE_READS=true, or SQLite
    window(reads, 1.0)
    assert reads.inline()
    with reads.attempt() as attempt:
        attempt.move("connect")
    assert attempt.moved and reads.inline()
    with reads.attempt() as attempt:
        attempt.move("cut")
    assert not reads.inline()
    clock.now += FIRST_RETRY
    assert reads.inline()


def test_no_read_runs_in_the_loop_while_the_database_is_not_ready_or_when_off():
    ready = False  # its breaker is not closed, or no connection waits in its pool
    reads = placement(Clock(), ready=lambda: ready)
    assert not reads.inline()
    ready = True
    assert reads.inline()
    assert not placement(Clock(), enabled=False).inline()


# On PostgreSQL, through the proxy.


@pytest.fixture
def proxy(settings) -> Iterator[FaultProxy]:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("the placement adapts on PostgreSQL; SQLite's reads stay in the loop")
    with FaultProxy(upstream_of(settings.database_url)) as proxy:
        yield proxy


def ran_in(client: TestClient) -> list[str]:
    """The thread each request of `client` ran Flask in, in order (one per attempt)."""
    names: list[str] = []
    client.app.app.before_request(lambda: names.append(threading.current_thread().name))
    return names


def warm(client: TestClient) -> None:
    """One read, whose connection then waits in the pool (with none there, it runs in
    the threads: a read never connects in the loop)."""
    assert client.get("/api/posts").status_code == 200


def moves(client: TestClient, reason: str) -> float | None:
    registry = runtime_of(client.app).metrics.registry
    return registry.get_sample_value("reads_moved_to_threads_total", {"reason": reason})


def test_reads_stay_in_the_loop_near_and_move_to_the_threads_a_hop_away(app_with, settings, proxy):
    def app() -> tuple[TestClient, list[str]]:
        """A fresh app (no waits sampled yet) whose pool holds a connection."""
        api = app_with(
            database_url=through(settings.database_url, proxy),
            inline_read_max_wait=0.01,  # 10 ms: far above a busy machine's near waits
        )
        names = ran_in(api)
        warm(api)
        assert [name.startswith("WSGI") for name in names] == [True]
        del names[:]
        return api, names

    near, names = app()
    for _ in range(2 * WINDOW):
        assert near.get("/api/posts").status_code == 200
    in_threads = [name.startswith("WSGI") for name in names]
    assert not any(in_threads), [(reason, moves(near, reason)) for reason in ("slow", "cut")]
    # 6 ms a round trip, about 25 ms a read: over the 10 ms, and the 16 reads in the
    # threads after the move end well within the first retry (1 s).
    proxy.set_mode(latency(3))
    far, names = app()
    for _ in range(2 * WINDOW):
        assert far.get("/api/posts").status_code == 200
    in_threads = [name.startswith("WSGI") for name in names]
    assert in_threads[-WINDOW:] == [True] * WINDOW, in_threads
    assert moves(far, "slow") == 1


def test_a_read_past_the_bound_in_the_loop_is_answered_from_the_threads(
    app_with, settings, proxy, caplog
):
    api = app_with(
        database_url=through(settings.database_url, proxy),
        inline_reads=True,
        inline_read_timeout=BOUND,
        ratelimit_enabled=True,
    )
    names = ran_in(api)
    warm(api)
    remaining = int(api.get("/api/posts").headers["x-ratelimit-remaining"])  # in the loop
    proxy.set_mode(latency(40))  # every round trip longer than the bound
    del names[:]
    caplog.clear()
    listed = api.get("/api/posts")
    assert listed.status_code == 200, listed.text
    assert [name.startswith("WSGI") for name in names] == [False, True]  # tried, moved
    assert int(listed.headers["x-ratelimit-remaining"]) == remaining - 1  # counted once
    assert api.get("/api/posts").status_code == 200
    assert names[-1].startswith("WSGI")  # reads after it went straight to the threads
    assert not [r for r in caplog.records if r.name == "service.http.errors"]  # nothing to say
    assert moves(api, "cut") == 1
    assert moves(api, "connect") is None  # the first read opened its connection in a thread


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


def test_a_silent_database_holds_the_loop_no_longer_than_the_bound(settings, proxy):
    """`make run` (one worker), reads in the loop: while one read waits on a silent
    database, the liveness probe still answers at once. Without the bound the read would
    hold the worker's loop until its deadline (3 s here)."""
    env = {
        **FAST_HASHING_ENV,
        "DATABASE_URL": through(settings.database_url, proxy),
        "DATABASE_REQUEST_TIMEOUT": "3",
        "RATELIMIT_ENABLED": "false",
        "METRICS_PORT": "off",
    }
    with running_server(env, how="run", migrate_url=settings.database_url) as base_url:
        assert answered_in(base_url, "/api/posts")[0] == 200  # opens a connection
        assert answered_in(base_url, "/api/posts")[0] == 200  # in the loop, pooled
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
    # It waited in a thread: a new connection (libpq's 2 s), then the answer.
    assert read[0][0] == 503 and read[0][1] >= 1.5
    assert len(probes) > 10
    assert {status for status, _ in probes} == {200}
    assert max(seconds for _, seconds in probes) < 1.0, sorted(s for _, s in probes)[-3:]


def test_reads_moved_out_of_the_loop_count_towards_the_breaker(app_with, settings, proxy):
    """After a cut the pool drops its older connections, so the next read in the loop
    finds none it may use and moves: a move must count as a failure of the outage, not
    as the success pybreaker counts an exception it ignores (which would keep the
    breaker closed, and every request waiting, for the whole outage)."""
    api = app_with(
        database_url=through(settings.database_url, proxy),
        breaker_failures=3,
        inline_read_timeout=BOUND,
        raise_server_exceptions=False,
    )
    runtime = runtime_of(api.app)
    engine = runtime.database.engine
    held = [engine.connect() for _ in range(3)]  # three connections wait in the pool
    for connection in held:
        connection.close()
    proxy.set_mode(SILENT)
    first = api.get("/api/posts")  # cut in the loop (1), then no answer in a thread (2)
    assert first.status_code == 503
    assert runtime.database_guard.breaker.state == "closed"
    second = api.get("/api/posts")  # in the loop, a dropped connection: moved (3)
    assert second.status_code == 503
    assert runtime.database_guard.breaker.state == "open"
