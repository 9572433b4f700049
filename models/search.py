"""The lists' `search`: a case-insensitive substring, and the time its statements may take.

PostgreSQL serves a term with three letters or digits in a row from a trigram index
(pg_trgm, migration 0006); any other term there, and every term on SQLite, is looked for
row by row: a term that matches little reads the whole table. So every search runs
within a time bound (`SEARCH_TIMEOUT`) shared by its statements: past it the database
cancels the statement (PostgreSQL's `statement_timeout`, SQLite's progress handler) and
the search is refused as `SearchTooCostly`, a 400 for the client to narrow, never an
outage (it does not count against the database's circuit breaker).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from time import monotonic
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.sql import ColumnElement

from models.errors import SearchTooCostly

ESCAPE = "/"
# SQLite virtual machine instructions between two looks at the clock: a few µs of work.
_SQLITE_STEPS = 1000
_QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE for a cancelled statement


def matches(column: Any, term: str) -> ColumnElement[bool]:
    """`column ILIKE '%term%'`, the term's wildcards escaped. PostgreSQL serves ILIKE from a
    trigram index (pg_trgm, migration 0006), which `lower(column) LIKE …` would not use;
    SQLAlchemy writes `lower(column) LIKE lower(…)` on SQLite."""
    escaped = term.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")
    result: ColumnElement[bool] = column.ilike(f"%{escaped}%", escape=ESCAPE)
    return result


def _cancelled(error: OperationalError) -> bool:
    """Whether the database cancelled the statement because its time was up."""
    if isinstance(error.orig, sqlite3.OperationalError):
        return "interrupted" in str(error.orig)
    return getattr(error.orig, "sqlstate", None) == _QUERY_CANCELED


def _no_bound() -> None:
    return None


@contextmanager
def time_bound(connection: Connection, seconds: float | None) -> Iterator[Callable[[], None]]:
    """The statements run on `connection` in the block may take `seconds` together (None:
    no bound of their own); call the yielded `arm()` before each one. Past the bound they
    are cancelled and the block raises `SearchTooCostly`."""
    if seconds is None:
        yield _no_bound
        return
    deadline = monotonic() + seconds
    postgres = connection.dialect.name == "postgresql"
    driver: Any = connection.connection.driver_connection
    sqlite = isinstance(driver, sqlite3.Connection)

    def arm() -> None:
        left = deadline - monotonic()
        if left <= 0:
            raise SearchTooCostly(seconds)
        if postgres:
            # Session-level: it holds on an autocommit connection too. RESET below (or the
            # unit of work's rollback) puts back the connection's own bound.
            connection.exec_driver_sql(f"SET statement_timeout = {max(int(left * 1000), 1)}")

    if sqlite:
        driver.set_progress_handler(lambda: monotonic() > deadline, _SQLITE_STEPS)
    failed = True
    try:
        yield arm
        failed = False
    except OperationalError as error:
        if not _cancelled(error):
            raise
        raise SearchTooCostly(seconds) from None
    finally:
        if sqlite:
            driver.set_progress_handler(None, 0)
        elif postgres:
            _reset(connection, driver, failed=failed)


def _reset(connection: Connection, driver: Any, *, failed: bool) -> None:
    """Put back the connection's own statement bound. After a failure inside a transaction
    the unit of work's rollback undoes the SET (the aborted transaction takes no RESET);
    an autocommit connection is reset if it still answers."""
    if not failed:
        connection.exec_driver_sql("RESET statement_timeout")
    elif getattr(driver, "autocommit", False):
        with suppress(DBAPIError):  # a dead connection: it leaves the pool anyway
            connection.exec_driver_sql("RESET statement_timeout")
