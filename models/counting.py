"""How many rows a list matches, at a cost that does not grow with the table.

Counting a million rows is a scan, whatever the index: so an exact count is made only
when it is cheap (at most `exact_limit` rows match: the count stops there) or when the
client asks for it. Above that the total is the database's estimate: PostgreSQL's
planner's, SQLite's table size (it keeps no statistics a query can read cheaply).
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, func, literal_column, select
from sqlalchemy import table as sa_table
from sqlalchemy.sql import Select


class CountMode(StrEnum):
    """PostgREST's `Prefer: count=…` values."""

    EXACT = "exact"  # count every match, whatever it costs
    PLANNED = "planned"  # the estimate alone
    ESTIMATED = "estimated"  # exact up to the limit, else the estimate


def count(
    connection: Connection, rows: Select[Any], table: str, mode: CountMode, exact_limit: int
) -> tuple[int, bool]:
    """The number of `rows` and whether it is an estimate."""
    if mode is CountMode.EXACT:
        return _exact(connection, rows), False
    if mode is CountMode.ESTIMATED:
        bounded = _exact(connection, rows.limit(exact_limit + 1))
        if bounded <= exact_limit:
            return bounded, False
        return max(_planned(connection, rows, table), exact_limit + 1), True
    return _planned(connection, rows, table), True


def _exact(connection: Connection, rows: Select[Any]) -> int:
    return int(connection.execute(select(func.count()).select_from(rows.subquery())).scalar_one())


def _planned(connection: Connection, rows: Select[Any], table: str) -> int:
    if connection.dialect.name == "postgresql":
        compiled = rows.compile(dialect=connection.dialect)
        plan = connection.exec_driver_sql(
            f"EXPLAIN (FORMAT JSON) {compiled.string}", compiled.params
        ).scalar_one()
        plan = json.loads(plan) if isinstance(plan, str) else plan
        return int(plan[0]["Plan"]["Plan Rows"])
    # SQLite: the table's size (the largest rowid, found in the b-tree without a scan),
    # an upper bound of any filtered count.
    largest: Select[Any] = select(func.max(literal_column("rowid"))).select_from(sa_table(table))
    return int(connection.execute(largest).scalar_one() or 0)
