"""The database: one engine per process and one unit of work per request.

`configure(url)` is called by `create_app` (never at import time); handlers that write
open `session_scope()`, which commits when the block ends and rolls back on any error, so
a request writes all of its rows or none. Hot read paths open `read_scope()` instead: a
plain connection, no ORM session or objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, create_engine


def _prepare_sqlite(url: str) -> dict[str, Any]:
    parsed = make_url(url)
    database = parsed.database or ""
    if database in ("", ":memory:"):
        # One shared connection, or each connection would see its own empty database.
        return {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    return {"connect_args": {"check_same_thread": False, "timeout": 15}}


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # SQLite ignores foreign keys unless told; WAL lets readers run beside a writer.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, **_prepare_sqlite(url))
        event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()


_database: Database | None = None


def configure(url: str) -> Database:
    """Make `url` this process's database, replacing any earlier one."""
    global _database
    if _database is not None and _database.url != url:
        _database.dispose()
    if _database is None or _database.url != url:
        _database = Database(url)
    return _database


def database() -> Database:
    if _database is None:
        raise RuntimeError("models.db.configure() has not been called; use service.app.create_app")
    return _database


@contextmanager
def session_scope() -> Iterator[Session]:
    with database().session() as session:
        yield session


@contextmanager
def read_scope() -> Iterator[Connection]:
    """A connection for Core queries; whatever it began is rolled back when it closes."""
    with database().engine.connect() as connection:
        yield connection
