"""The lists' `search`: a case-insensitive substring."""

from __future__ import annotations

from typing import Any

from sqlalchemy.sql import ColumnElement

ESCAPE = "/"


def matches(column: Any, term: str) -> ColumnElement[bool]:
    """`column ILIKE '%term%'`, the term's wildcards escaped. PostgreSQL serves ILIKE from a
    trigram index (pg_trgm, migration 0006), which `lower(column) LIKE …` would not use;
    SQLAlchemy writes `lower(column) LIKE lower(…)` on SQLite."""
    escaped = term.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")
    result: ColumnElement[bool] = column.ilike(f"%{escaped}%", escape=ESCAPE)
    return result
