"""The parts that bound every wait: the breaker, the watchdog, the outage log, the guard
around the database, and what a client of an app whose database is gone sees."""

from __future__ import annotations

import logging
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import replace

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError, TimeoutError

from models.errors import Unavailable
from service.access.rate_limits import StorageDown, storage_options
from service.app import runtime_of
from service.resilience import breaker as breaker_module
from service.resilience.breaker import Breaker, BreakerOpen, ProbeSchedule
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


def eventually(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    """Whether `condition` holds within `seconds` (loose: the machine may be busy)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


class Clock:
    """A test clock: time moves when the test says."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def probe_threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"probe {name}"]


def test_probes_back_off_doubling_up_to_the_longest_cooldown_and_start_over_once_closed():
    clock = Clock()
    schedule = ProbeSchedule(0.5, 4, clock)
    schedule.opened()
    assert (schedule.cooldown, schedule.seconds_left(), schedule.retry_after()) == (0.5, 0.5, 1)
    cooldowns = []
    for _ in range(6):
        schedule.probe_failed()
        cooldowns.append(schedule.cooldown)
    assert cooldowns == [1, 2, 4, 4, 4, 4]
    # Refused callers are told when the next probe is due, in whole seconds.
    assert schedule.retry_after() == 4
    clock.now += 2.5
    assert (schedule.seconds_left(), schedule.retry_after()) == (1.5, 2)
    clock.now += 10  # due (or running): come back in a second
    assert (schedule.seconds_left(), schedule.retry_after()) == (0, 1)
    schedule.closed()
    schedule.opened()
    assert (schedule.cooldown, schedule.seconds_left()) == (0.5, 0.5)
    assert ProbeSchedule(60, 30, clock).longest == 60  # never shorter than the first


def test_the_breaker_opens_after_consecutive_failures_and_refuses_at_once():
    breaker = Breaker(
        "x",
        failures=2,
        cooldown=60,
        max_cooldown=60,
        is_failure=lambda e: isinstance(e, Outage),
        probe=lambda: None,
    )
    fail(breaker, Outage())
    fail(breaker, KeyError())  # not an outage: counts as a success, the count starts again
    fail(breaker, Outage())
    assert breaker.is_closed
    fail(breaker, Outage())
    assert breaker.state == "open"
    with pytest.raises(BreakerOpen) as refused, breaker.guarded():
        pytest.fail("ran while open")
    assert refused.value.retry_after == 60  # the next probe's in a minute
    breaker.stop()


def test_the_probe_runs_beside_the_callers_and_closes_the_breaker():
    """No caller is the probe: while it waits on the dependency, callers are refused at
    once; its success closes the breaker."""
    probing, release = threading.Event(), threading.Event()

    def probe() -> None:
        probing.set()
        assert release.wait(10)

    breaker = Breaker(
        "beside", failures=1, cooldown=0.05, max_cooldown=1, is_failure=lambda _e: True, probe=probe
    )
    fail(breaker, Outage())
    assert probing.wait(5), "no probe ran"
    assert breaker.state == "half-open"
    for _ in range(3):
        with pytest.raises(BreakerOpen) as refused, breaker.guarded():
            pytest.fail("a caller ran while the probe waits")
        assert refused.value.retry_after == 1
    release.set()
    assert eventually(lambda: breaker.is_closed)
    assert breaker.probes == 1
    with breaker.guarded():
        pass
    assert eventually(lambda: not probe_threads("beside"))  # closed: the thread ended


def test_failed_probes_back_off_and_the_cooldown_starts_over_after_a_success():
    cooldowns: list[float] = []
    outcomes = iter([Outage(), Outage(), Outage(), Outage(), None])

    def probe() -> None:
        cooldowns.append(breaker.schedule.cooldown)  # what the probe waited for
        outcome = next(outcomes, None)
        if outcome is not None:
            raise outcome

    breaker = Breaker(
        "x",
        failures=1,
        cooldown=0.02,
        max_cooldown=0.08,
        is_failure=lambda e: isinstance(e, Outage),
        probe=probe,
    )
    fail(breaker, Outage())
    assert eventually(lambda: breaker.is_closed)
    assert cooldowns == [0.02, 0.04, 0.08, 0.08, 0.08]
    assert breaker.schedule.cooldown == 0.02  # reset by the success
    fail(breaker, Outage())  # a new outage starts from the first cooldown
    assert breaker.state == "open" and breaker.schedule.cooldown == 0.02
    assert eventually(lambda: breaker.is_closed)


def test_a_probe_fails_on_any_error_even_one_the_callers_rule_ignores():
    """For callers a KeyError is a mistake, not an outage; from the probe it is a failure."""
    calls = []

    def probe() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise KeyError("not an answer")

    breaker = Breaker(
        "x",
        failures=1,
        cooldown=0.02,
        max_cooldown=0.02,
        is_failure=lambda e: isinstance(e, Outage),
        probe=probe,
    )
    fail(breaker, Outage())
    assert eventually(lambda: breaker.is_closed)
    assert len(calls) == 2


def test_the_probing_thread_stops_when_told_or_when_no_one_calls(monkeypatch):
    monkeypatch.setattr(breaker_module, "IDLE_EXIT_SECONDS", 0.3)

    def down() -> None:
        raise Outage

    breaker = Breaker(
        "idle", failures=1, cooldown=0.02, max_cooldown=0.05, is_failure=lambda _e: True, probe=down
    )
    fail(breaker, Outage())
    assert breaker.probing and probe_threads("idle")
    breaker.stop()
    assert eventually(lambda: not probe_threads("idle"))
    probes = breaker.probes
    with pytest.raises(BreakerOpen), breaker.guarded():
        pass  # refused: probing starts again
    assert eventually(lambda: breaker.probes > probes)
    assert eventually(lambda: not probe_threads("idle"))  # no one called for 0.3 s
    assert not breaker.probing
    assert breaker.state == "open"


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
    assert settings.breaker_max_cooldown == 30
    assert Settings.from_env({"BREAKER_MAX_COOLDOWN": "5"}).breaker_max_cooldown == 5
    assert Settings.from_env({"BREAKER_COOLDOWN": "60"}).breaker_max_cooldown == 60
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
        ("BREAKER_MAX_COOLDOWN", "0.1"),  # shorter than BREAKER_COOLDOWN (0.5 s)
        ("BREAKER_MAX_COOLDOWN", "soon"),
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
    guard.breaker.stop()


def test_the_database_probe_asks_on_a_connection_of_its_own(app_with):
    api = app_with()
    guard = runtime_of(api.app).database_guard
    guard.probe()  # answers
    nowhere = runtime_of(app_with(database_url=NOWHERE).app).database_guard
    with pytest.raises(psycopg.OperationalError):  # refused: the driver's own error
        nowhere.probe()


def test_the_database_is_probed_beside_the_requests_until_the_app_lets_it_go(app_with):
    api = app_with(
        database_url=NOWHERE,
        breaker_failures=1,
        breaker_cooldown=0.02,
        breaker_max_cooldown=0.05,
        raise_server_exceptions=False,
    )
    runtime = runtime_of(api.app)
    breaker = runtime.database_guard.breaker
    assert api.get("/api/posts").status_code == 503  # opens the breaker
    assert eventually(lambda: breaker.probes >= 3)  # failed probes, none of them a request
    refused = api.get("/api/posts")
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    runtime.database.dispose()
    assert eventually(lambda: not breaker.probing)


def test_the_rate_limit_storage_is_probed_with_a_ping(app_with):
    memory = runtime_of(app_with(ratelimit_enabled=True).app).rate_limits
    memory.ping()
    nowhere = app_with(ratelimit_enabled=True, ratelimit_storage_uri="redis://127.0.0.1:1/0")
    with pytest.raises(StorageDown):
        runtime_of(nowhere.app).rate_limits.ping()


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
