"""The database: an engine and the unit of work each request opens on it.

`create_app` makes one `Database` per app (never at import time). Handlers that write
open `session()`, which commits when the block ends and rolls back on any error, so a
request writes all of its rows or none. Hot read paths open `read()` instead: a plain
connection, no ORM session or objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, create_engine

from models.errors import Conflict

CONCURRENT_CHANGE = "A concurrent change conflicts with this request; nothing was written"


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
        """A unit of work: committed when the block ends, rolled back on any error.

        A constraint that fails here and that the model layer did not expect (a row
        deleted by a concurrent request while this one pointed at it) is a `Conflict`:
        the request met a change it could not see, nothing was written, try again.
        """
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except IntegrityError:
                session.rollback()
                raise Conflict(CONCURRENT_CHANGE) from None
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for Core queries; whatever it began is rolled back when it closes."""
        with self.engine.connect() as connection:
            yield connection

    def dispose(self) -> None:
        self.engine.dispose()
