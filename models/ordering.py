"""The order of every list: a sort key, then the id in the same direction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.sql import ColumnElement


def stable_order(column: Any, id_column: Any, order: str) -> list[ColumnElement[Any]]:
    """Ties on `column` are broken by id, so pages never repeat or skip a row."""
    if order == "asc":
        return [column.asc(), id_column.asc()]
    return [column.desc(), id_column.desc()]
