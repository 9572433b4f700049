"""The database: an engine and the unit of work each request opens on it.

`create_app` makes one `Database` per app (never at import time). Handlers that write
open `session()`, which commits when the block ends and rolls back on any error, so a
request writes all of its rows or none. Hot read paths open `read()` instead: a plain
connection, no ORM session or objects.

Every wait is bounded by `DatabaseLimits`: a new connection (PostgreSQL `connect_timeout`),
a pooled one (`pool_timeout`), each statement (PostgreSQL `statement_timeout`, SQLite's
busy timeout). A `guard` (service/resilience/) may wrap every unit of work: the app's
gives it a deadline that holds even when the network goes silent, and a circuit breaker.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, create_engine

from models.errors import Conflict, StaleWrite

CONCURRENT_CHANGE = "A concurrent change conflicts with this request; nothing was written"


@dataclass(frozen=True)
class DatabaseLimits:
    """How long the database may keep a request waiting, per kind of wait (seconds)."""

    connect_timeout: float = 2.0
    pool_timeout: float = 2.0
    statement_timeout: float = 3.0


def _prepare_sqlite(url: str, limits: DatabaseLimits) -> dict[str, Any]:
    parsed = make_url(url)
    database = parsed.database or ""
    if database in ("", ":memory:"):
        # One shared connection, or each connection would see its own empty database.
        return {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    # `timeout`: how long a statement waits for another writer's lock (busy timeout).
    return {"connect_args": {"check_same_thread": False, "timeout": limits.statement_timeout}}


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # SQLite ignores foreign keys unless told; WAL lets readers run beside a writer.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _postgres_connect_args(limits: DatabaseLimits) -> dict[str, Any]:
    """libpq's own bounds: on connecting (whole seconds, 2 at least) and, on the server,
    on each statement."""
    statement_ms = max(int(limits.statement_timeout * 1000), 1)
    return {
        "connect_timeout": max(math.ceil(limits.connect_timeout), 2),
        "options": f"-c statement_timeout={statement_ms}",
    }


def make_engine(url: str, limits: DatabaseLimits | None = None) -> Engine:
    limits = limits or DatabaseLimits()
    if url.startswith("sqlite"):
        engine = create_engine(url, **_prepare_sqlite(url, limits))
        event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    connect_args = _postgres_connect_args(limits) if url.startswith("postgresql") else {}
    # No pre-ping: its round trip cost every read a third of its time on a network, and
    # it waits outside any deadline. A connection that died is detected by the statement
    # that meets it; SQLAlchemy then drops it and every older pooled one.
    return create_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_timeout=limits.pool_timeout,
        pool_recycle=1800,
        connect_args=connect_args,
    )


Guard = Callable[[], AbstractContextManager[object]]


class Database:
    def __init__(
        self, url: str, limits: DatabaseLimits | None = None, guard: Guard | None = None
    ) -> None:
        self.url = url
        self.limits = limits or DatabaseLimits()
        self.engine = make_engine(url, self.limits)
        self.guard: Guard = guard or nullcontext

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back on any error.

        A constraint that fails here and that the model layer did not expect (a row
        deleted by a concurrent request while this one pointed at it) is a `Conflict`:
        the request met a change it could not see, nothing was written, try again. So is
        a versioned row that changed after this unit of work read it (`StaleWrite`).
        """
        with self.guard(), Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except IntegrityError:
                session.rollback()
                raise Conflict(CONCURRENT_CHANGE) from None
            except StaleDataError:
                session.rollback()
                raise StaleWrite(CONCURRENT_CHANGE) from None
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for Core queries, each its own transaction (autocommit): no
        BEGIN before them and no ROLLBACK after, two round trips fewer per read on
        PostgreSQL. A write in it (a token's `last_used_at`) is committed at once."""
        with self.guard(), self.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            yield connection

    def dispose(self) -> None:
        self.engine.dispose()
