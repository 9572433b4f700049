"""How many rows a list matches, at a cost that does not grow with the table, and never
counting a row the caller may not see.

Counting a million rows is a scan, whatever the index: so a count stops after
`exact_limit` + 1 matches unless the client asks for every one (`Prefer: count=exact`;
never for a search, whose matches no index counts: models/search.py). Beyond the cap
the total is:

- the planner's estimate of the list's own query (PostgreSQL), only where the caller may
  see every row the list is drawn from (`estimates`): the planner's statistics cover the
  whole table, so for anyone else they would count rows hidden from them (an author's
  drafts multiply into an estimate of their published posts);
- else a lower bound, `atLeast`: the rows counted, or those the page itself proved.

A page read from a known position (not a cursor) that came back short ends where the
list ends: its total is known exactly without a second statement.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.sql import Select


class CountMode(StrEnum):
    """PostgREST's `Prefer: count=…` values."""

    EXACT = "exact"  # count every match, whatever it costs
    PLANNED = "planned"  # the estimate alone
    ESTIMATED = "estimated"  # exact up to the limit, else the estimate


class TotalKind(StrEnum):
    """The contract's `TotalKind`."""

    EXACT = "exact"
    ESTIMATE = "estimate"
    AT_LEAST = "atLeast"


@dataclass(frozen=True)
class Total:
    """How many rows match, what kind of number that is, and the `Prefer: count=` mode it
    honours (a mode not honoured falls back to `estimated`)."""

    value: int
    kind: TotalKind
    mode: CountMode


@dataclass(frozen=True)
class PageSeen:
    """What the page query proved about the list: where it started (None for a cursor:
    unknown) and how many rows it fetched of the `limit + 1` it asked for."""

    offset: int | None
    fetched: int
    limit: int

    @property
    def known_total(self) -> int | None:
        """The list's size when the page reached its end from a known position."""
        if self.offset is None or self.fetched > self.limit:
            return None
        if self.fetched == 0 and self.offset > 0:
            return None  # past the end: how far is not known
        return self.offset + self.fetched

    @property
    def at_least(self) -> int:
        """Rows the page proved exist (from the start of the list)."""
        return (self.offset or 0) + self.fetched


def count(
    connection: Connection,
    rows: Select[Any],
    mode: CountMode,
    exact_limit: int,
    *,
    estimates: bool,
    search: bool = False,
    seen: PageSeen | None = None,
) -> Total:
    """The number of `rows` (which hold only what the caller may see). `estimates`: the
    caller may see every row the list is drawn from; `search`: the rows are found one by
    one, so the count is always bounded; `seen`: what the page query proved."""
    if search and mode is CountMode.EXACT:
        mode = CountMode.ESTIMATED
    known = seen.known_total if seen is not None else None
    if known is not None:
        exact = CountMode.EXACT if mode is CountMode.EXACT else CountMode.ESTIMATED
        return Total(known, TotalKind.EXACT, exact)
    if mode is CountMode.EXACT:
        return Total(_exact(connection, rows), TotalKind.EXACT, CountMode.EXACT)
    planner = estimates and connection.dialect.name == "postgresql"
    if mode is CountMode.PLANNED and planner:
        return Total(_planned(connection, rows), TotalKind.ESTIMATE, CountMode.PLANNED)
    proved = seen.at_least if seen is not None else 0
    if proved <= exact_limit:
        counted = _exact(connection, rows.limit(exact_limit + 1))
        if counted <= exact_limit:
            return Total(counted, TotalKind.EXACT, CountMode.ESTIMATED)
    floor = max(exact_limit + 1, proved)
    if planner:
        return Total(
            max(_planned(connection, rows), floor), TotalKind.ESTIMATE, CountMode.ESTIMATED
        )
    return Total(floor, TotalKind.AT_LEAST, CountMode.ESTIMATED)


def _exact(connection: Connection, rows: Select[Any]) -> int:
    return int(connection.execute(select(func.count()).select_from(rows.subquery())).scalar_one())


def _planned(connection: Connection, rows: Select[Any]) -> int:
    """PostgreSQL's planner's estimate of `rows` (EXPLAIN: no row is read)."""
    compiled = rows.compile(dialect=connection.dialect)
    plan = connection.exec_driver_sql(
        f"EXPLAIN (FORMAT JSON) {compiled.string}", compiled.params
    ).scalar_one()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])
