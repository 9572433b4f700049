"""The order of every list: a sort key, then the id in the same direction; where a page
starts (keyset) and what one page holds."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, literal, tuple_
from sqlalchemy.sql import ColumnElement

from models.counting import Total
from models.timestamps import as_utc

# A position in a list: the sort key's value and the id of the last item shown.
Key = tuple[Any, uuid.UUID]


def stable_order(column: Any, id_column: Any, order: str) -> list[ColumnElement[Any]]:
    """Ties on `column` are broken by id, so pages never repeat or skip a row."""
    if order == "asc":
        return [column.asc(), id_column.asc()]
    return [column.desc(), id_column.desc()]


def is_time(column: Any) -> bool:
    """Whether a sort key holds timestamps (else text)."""
    return isinstance(column.type, DateTime)


def after(column: Any, id_column: Any, order: str, key: Key | None) -> list[ColumnElement[bool]]:
    """The rows that follow `key` in the list's order, as one row-value comparison
    `(column, id) > (value, id)`: PostgreSQL and SQLite both seek an index on
    `(column, id)` with it, so a page deep in the list costs what the first one does."""
    if key is None:
        return []
    value, ident = key
    if isinstance(value, datetime):
        value = as_utc(value)  # SQLite stores UTC without an offset
    left = tuple_(column, id_column)
    right = tuple_(literal(value, column.type), literal(ident, id_column.type))
    return [left > right] if order == "asc" else [left < right]


def one_page(rows: Sequence[Any], limit: int) -> tuple[Sequence[Any], Any | None]:
    """A page's rows from a query that asked for `limit + 1`, and its last row when more
    follow (None on the last page): the extra row only says whether there is a next."""
    page = rows[:limit]
    return page, (page[-1] if len(rows) > limit and page else None)


def key_of(value: Any, ident: uuid.UUID) -> Key:
    return (as_utc(value) if isinstance(value, datetime) else value, ident)


@dataclass(frozen=True)
class Page:
    """One page of a list: its items, the key of its last item when more follow, and
    how many match (counted, estimated or at least, see models/counting.py)."""

    items: Sequence[dict[str, Any]]
    next_key: Key | None
    total: Total
