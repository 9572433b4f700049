"""The parts that bound every wait: the breaker, the watchdog, the outage log, the guard
around the database, and what a client of an app whose database is gone sees."""

from __future__ import annotations

import logging
import socket
import sqlite3
import threading
import time
from dataclasses import replace

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError, TimeoutError

from models.errors import Unavailable
from service.access.rate_limits import storage_options
from service.app import runtime_of
from service.resilience.breaker import Breaker, BreakerOpen
from service.resilience.database import DatabaseGuard, is_outage
from service.resilience.deadline import Watchdog
from service.resilience.outage_log import OutageLog
from service.settings import Settings, SettingsError
from tests.builders import error_of

NOWHERE = "postgresql+psycopg://nobody@127.0.0.1:1/none"


class Outage(Exception):
    pass


def fail(breaker: Breaker, error: Exception) -> None:
    with pytest.raises(type(error)), breaker.guarded():
        raise error


def test_the_breaker_opens_after_consecutive_failures_and_one_probe_closes_it():
    breaker = Breaker("x", failures=2, cooldown=0.2, is_failure=lambda e: isinstance(e, Outage))
    fail(breaker, Outage())
    fail(breaker, KeyError())  # not an outage: counts as a success, the count starts again
    fail(breaker, Outage())
    assert breaker.is_closed
    fail(breaker, Outage())
    assert breaker.state == "open"
    with pytest.raises(BreakerOpen) as refused, breaker.guarded():
        pytest.fail("ran while open")
    assert refused.value.retry_after == 1
    time.sleep(0.25)
    # Half-open: one caller probes; while it does, the others are refused at once.
    probing, release = threading.Event(), threading.Event()

    def probe() -> None:
        with breaker.guarded():
            probing.set()
            release.wait(5)

    prober = threading.Thread(target=probe)
    prober.start()
    assert probing.wait(5)
    with pytest.raises(BreakerOpen), breaker.guarded():
        pytest.fail("a second probe ran")
    release.set()
    prober.join(5)
    assert breaker.is_closed
    with breaker.guarded():
        pass


def test_a_failed_probe_opens_the_breaker_again():
    breaker = Breaker("x", failures=1, cooldown=0.1, is_failure=lambda _e: True)
    fail(breaker, Outage())
    time.sleep(0.15)
    fail(breaker, Outage())  # the probe: it ran, and failed
    with pytest.raises(BreakerOpen), breaker.guarded():
        pytest.fail("ran while open")


def test_the_watchdog_wakes_a_read_blocked_past_its_deadline():
    watchdog = Watchdog("test")
    ours, theirs = socket.socketpair()
    with ours, theirs:
        started = time.monotonic()
        watchdog.hold(1, started + 0.2, ours.fileno)
        ours.settimeout(10)
        assert ours.recv(10) == b""  # woken by the end of the stream, not the timeout
        assert 0.15 < time.monotonic() - started < 5
        assert watchdog.cuts == 1
        assert watchdog.release(1) is True  # its owner learns it was cut
        assert watchdog.release(1) is False


def test_the_watchdog_leaves_released_connections_alone():
    watchdog = Watchdog("test")
    ours, theirs = socket.socketpair()
    with ours, theirs:
        watchdog.hold(1, time.monotonic() + 0.1, ours.fileno)
        assert watchdog.release(1) is False
        time.sleep(0.3)
        theirs.sendall(b"still open")
        assert ours.recv(10) == b"still open"
        assert watchdog.cuts == 0


def test_the_outage_log_writes_a_traceback_per_cause_once(caplog):
    log = OutageLog(logging.getLogger("test.outages"))

    def failure(n: int) -> Unavailable:
        try:
            try:
                raise ConnectionRefusedError(f"refused\nmore text {n}")
            except ConnectionRefusedError as cause:
                raise Unavailable("The database does not answer") from cause
        except Unavailable as error:
            return error

    with caplog.at_level(logging.WARNING):
        for n in range(5):
            log.failed(logging.WARNING, "503 list_posts", failure(n))
        log.failed(logging.WARNING, "503 list_posts", failure(5), expected=True)
    records = [r for r in caplog.records if r.name == "test.outages"]
    assert len(records) == 6
    assert [r.exc_info is not None for r in records] == [True] + [False] * 5
    assert records[1].getMessage() == (
        "503 list_posts: Unavailable from builtins.ConnectionRefusedError: refused"
    )
    assert records[0].exc_info is not None and records[0].exc_info[0] is ConnectionRefusedError


def test_outages_are_told_from_mistakes():
    locked = OperationalError("UPDATE", {}, sqlite3.OperationalError("database is locked"))
    missing = OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x"))
    assert is_outage(locked) and is_outage(TimeoutError()) and is_outage(Unavailable("x"))
    assert not is_outage(missing)
    assert not is_outage(IntegrityError("INSERT", {}, Exception("duplicate")))


def test_redis_calls_are_bounded_and_not_retried():
    options = storage_options("redis://127.0.0.1:6379/0", 0.25)
    assert options["socket_timeout"] == options["socket_connect_timeout"] == 0.25
    assert options["retry"].get_retries() == 0
    assert storage_options("memory://", 0.25) == {}


def test_the_bounds_are_settings():
    settings = Settings.from_env(
        {
            "DATABASE_CONNECT_TIMEOUT": "3",
            "DATABASE_POOL_TIMEOUT": "0.5",
            "DATABASE_STATEMENT_TIMEOUT": "2.5",
            "DATABASE_REQUEST_TIMEOUT": "6",
            "RATELIMIT_STORAGE_TIMEOUT": "0.1",
            "BREAKER_FAILURES": "5",
            "BREAKER_COOLDOWN": "2",
            "WSGI_THREADS": "auto",
        }
    )
    assert settings.database_connect_timeout == 3
    assert settings.database_pool_timeout == 0.5
    assert settings.database_statement_timeout == 2.5
    assert settings.database_request_timeout == 6
    assert settings.ratelimit_storage_timeout == 0.1
    assert (settings.breaker_failures, settings.breaker_cooldown) == (5, 2)
    assert (settings.wsgi_threads, settings.inline_reads) == (None, None)
    # Auto: reads in the loop on SQLite (the default database), in 8 threads elsewhere.
    assert (settings.reads_in_loop, settings.threads) == (True, 2)
    network = Settings.from_env({"DATABASE_URL": "postgresql+psycopg://db/app"})
    assert (network.reads_in_loop, network.threads) == (False, 8)
    assert Settings.from_env({"INLINE_READS": "false"}).reads_in_loop is False
    upstream = Settings.from_env({"DASHBOARD_STATS_URL": "http://127.0.0.1:9/api"})
    assert (upstream.reads_in_loop, upstream.threads) == (True, 8)  # its waits need threads
    assert Settings.from_env({"INLINE_READS": "auto"}).inline_reads is None
    assert Settings.from_env({"WSGI_THREADS": "3"}).threads == 3
    for name, value in [
        ("DATABASE_REQUEST_TIMEOUT", "soon"),
        ("BREAKER_COOLDOWN", "0"),
        ("INLINE_READS", "sometimes"),
    ]:
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: value})


def test_the_guard_refuses_at_once_while_its_breaker_is_open():
    guard = DatabaseGuard(replace(Settings(), breaker_failures=1, breaker_cooldown=60))
    with pytest.raises(Unavailable), guard():
        raise Unavailable("down")
    started = time.monotonic()
    with pytest.raises(Unavailable) as refused, guard():
        pytest.fail("ran while open")
    assert refused.value.refused
    assert time.monotonic() - started < 1


def test_a_database_that_refuses_is_a_503_never_a_500(app_with, caplog):
    api = app_with(database_url=NOWHERE, breaker_failures=2, raise_server_exceptions=False)
    bearer = {"Authorization": "Bearer " + "x" * 43}
    with caplog.at_level(logging.WARNING):
        responses = [
            api.get("/api/posts"),
            api.get("/api/me", headers=bearer),
            api.post("/api/posts", json={"title": "t", "content": "c"}, headers=bearer),
            api.get("/api/posts"),
        ]
    assert [r.status_code for r in responses] == [503] * 4
    for response in responses:
        assert response.headers["retry-after"] == "1"
        assert error_of(response)["code"] == "SERVICE_UNAVAILABLE"
    lines = [r.getMessage() for r in caplog.records if r.name == "service.http.errors"]
    assert len(lines) == 4
    assert lines[0].startswith("503 list_posts: Unavailable from psycopg.OperationalError")
    assert lines[1].startswith("503 get_me: Unavailable")
    assert "not retried" not in lines[0] and "BreakerOpen" in lines[3]  # the breaker opened
    assert api.get("/api/health").status_code == 200


def test_a_connection_cut_after_its_last_answer_does_not_go_back_to_the_pool(app_with, settings):
    """A cut may land when its owner waits on nothing (its last answer in, the block not
    yet left): the owner never notices, and the next request must not get a dead socket."""
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("the watchdog watches PostgreSQL's sockets")
    api = app_with(database_request_timeout=0.1)
    database = runtime_of(api.app).database
    with database.read() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1
        time.sleep(0.4)  # past the deadline, blocked on nothing: cut under it
    assert runtime_of(api.app).database_guard.watchdog.cuts == 1
    with database.read() as connection:  # a fresh deadline, the same pool
        assert connection.execute(text("SELECT 2")).scalar() == 2
