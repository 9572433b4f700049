"""The time bound of a search's statements (models/search.py), on the real databases:
past it the statement is cancelled and `SearchTooCostly` raised, and the connection goes
back to the pool with its own statement bound, whether it ran autocommit or in a unit
of work."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, text

from models.db import Database
from models.errors import SearchTooCostly
from models.search import time_bound

SLOW = {
    # Far past 1 ms on any machine, and cancellable.
    "postgresql": "SELECT pg_sleep(0.2)",
    "sqlite": (
        "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 1000000) "
        "SELECT count(*) FROM s"
    ),
}


def _slow(connection: Connection) -> None:
    connection.execute(text(SLOW[connection.dialect.name]))


def _statement_bound(connection: Connection) -> str | None:
    if connection.dialect.name != "postgresql":
        return None
    return str(connection.execute(text("SHOW statement_timeout")).scalar_one())


@pytest.fixture
def database(database_url):
    found = Database(database_url)
    yield found
    found.dispose()


def test_a_statement_past_the_bound_is_cancelled_on_an_autocommit_connection(database):
    with database.read() as connection:
        before = _statement_bound(connection)
        with pytest.raises(SearchTooCostly) as refused, time_bound(connection, 0.001) as arm:
            arm()
            _slow(connection)
        assert refused.value.details == [
            {
                "field": "search",
                "in": "query",
                "message": "needs more than the 0.001 s a search may take: "
                "use a longer or more specific term",
            }
        ]
        assert _statement_bound(connection) == before  # reset on the same connection
        assert connection.execute(text("SELECT 1")).scalar_one() == 1


def test_a_statement_past_the_bound_is_cancelled_in_a_unit_of_work(database):
    with pytest.raises(SearchTooCostly), database.session() as session:
        connection = session.connection()
        with time_bound(connection, 0.001) as arm:
            arm()
            _slow(connection)
    with database.read() as connection:
        own = _statement_bound(connection)
    with database.session() as session:  # the rollback undid the bound
        assert _statement_bound(session.connection()) == own
        _slow(session.connection())  # not cut


def test_within_the_bound_nothing_changes(database):
    with database.read() as connection:
        before = _statement_bound(connection)
        with time_bound(connection, 5.0) as arm:
            arm()
            assert connection.execute(text("SELECT 1")).scalar_one() == 1
        assert _statement_bound(connection) == before
        _slow(connection)  # the bound is gone: SQLite's progress handler too
