"""The guard around every unit of work on the app's database.

    with guard():           # Database.read() and Database.session() enter it
        ...                 # queries

- The request's deadline (deadline.py) is fixed at its first database work; a connection
  checked out under it is watched, and cut if still held when it passes.
- A circuit breaker (breaker.py) counts consecutive outages: once open, requests that
  need the database get 503 at once, without waiting, until a probe succeeds. The probe
  (`probe`) runs beside the requests, never in one: `SELECT 1` on a connection of its own,
  within the same bounds as a request's (the connect timeout, the request deadline).
- An outage (the database refuses, does not answer, runs out of time or connections) leaves
  the block as `models.errors.Unavailable`: a 503 with `Retry-After`, never a 500.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy import exc as sa

from models.errors import Unavailable
from service.resilience.breaker import Breaker, BreakerOpen
from service.resilience.deadline import (
    Watchdog,
    request_deadline,
    reset_unit_deadline,
    set_unit_deadline,
    unit_deadline,
)
from service.settings import Settings

DATABASE = "the database"


def is_outage(error: BaseException) -> bool:
    """Whether `error` says the database is out of reach, not that a request was wrong."""
    if isinstance(error, (Unavailable, sa.InterfaceError, sa.TimeoutError)):
        return True
    if isinstance(error, sa.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, sa.OperationalError):
        # SQLite says OperationalError for a missing table too: only waiting out another
        # writer's lock (its busy timeout) is an outage there.
        if isinstance(error.orig, sqlite3.Error):
            return "locked" in str(error.orig) or "busy" in str(error.orig)
        return True
    return False


def _socket_of(dbapi_connection: Any) -> int:
    """The descriptor of a psycopg connection's socket (raises once it is closed)."""
    descriptor: int = dbapi_connection.pgconn.socket
    return descriptor


class DatabaseGuard:
    """What `Database` wraps each unit of work in (see the module's docstring)."""

    def __init__(self, settings: Settings) -> None:
        self.request_timeout = settings.database_request_timeout
        self.breaker = Breaker(
            DATABASE,
            failures=settings.breaker_failures,
            cooldown=settings.breaker_cooldown,
            max_cooldown=settings.breaker_max_cooldown,
            is_failure=is_outage,
            probe=self.probe,
        )
        self.watchdog = Watchdog("database")
        self._engine: Engine | None = None

    def attach(self, engine: Engine) -> None:
        """Probe `engine`'s database while the breaker is open, and stop probing once the
        engine is disposed; watch every pooled connection from checkout to checkin
        (PostgreSQL: a socket that can go silent; SQLite's waits are bounded by its busy
        timeout)."""
        self._engine = engine
        event.listen(engine, "engine_disposed", self._on_dispose)
        if engine.dialect.name != "postgresql":
            return
        event.listen(engine.pool, "checkout", self._on_checkout)
        event.listen(engine.pool, "checkin", self._on_checkin)

    def probe(self) -> None:
        """Whether the database answers, asked beside the requests (the breaker's probe):
        `SELECT 1` on a new connection, in a pool of its own (the pool's may hold
        connections that died in the outage), bounded as a request is: by libpq's connect
        timeout, then by a deadline the watchdog holds (the pool's events are shared)."""
        if self._engine is None:
            return
        token = set_unit_deadline(time.monotonic() + self.request_timeout)
        pool = self._engine.pool.recreate()
        try:
            connection = pool.connect()
            try:
                cursor = connection.cursor()
                cursor.execute("SELECT 1")
                cursor.fetchall()
                cursor.close()
            finally:
                connection.close()
        finally:
            pool.dispose()
            reset_unit_deadline(token)

    def _on_dispose(self, _engine: Engine) -> None:
        """The app lets its database go: no more probes (the engine may still be used,
        with a new pool: a refused request starts probing again)."""
        self.breaker.stop()

    def _on_checkout(self, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        deadline = unit_deadline()
        if deadline is not None:
            self.watchdog.hold(id(record), deadline, lambda: _socket_of(dbapi_connection))

    def _on_checkin(self, dbapi_connection: Any, record: Any) -> None:
        if self.watchdog.release(id(record)) and dbapi_connection is not None:
            # Cut after its last statement had its answer: dead, though no one noticed.
            record.invalidate()

    @contextmanager
    def __call__(self) -> Iterator[None]:
        deadline = request_deadline(self.request_timeout)
        if unit_deadline() is not None:  # nested in a unit of work already guarded
            yield
            return
        token = set_unit_deadline(deadline)
        try:
            with self.breaker.guarded():
                if time.monotonic() >= deadline:
                    raise Unavailable("The database did not answer in time")
                try:
                    yield
                except Exception as error:
                    if isinstance(error, Unavailable) or not is_outage(error):
                        raise
                    raise Unavailable("The database does not answer") from error
        except BreakerOpen as refused:
            raise Unavailable(
                "The database does not answer; not retried for a moment",
                refused.retry_after,
                refused=True,
            ) from refused
        finally:
            reset_unit_deadline(token)
