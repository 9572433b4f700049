"""Row versions: the optimistic lock behind entity tags and `If-Match`.

Each versioned table has a `version` column that SQLAlchemy's `version_id_col` moves on
at every UPDATE and checks in its WHERE clause (and in a DELETE's), so a write made from
a stale read changes nothing and raises `StaleDataError` (`models.db` makes it a
`StaleWrite`). A counter rather than `updated_at`: it cannot collide within a clock tick,
and comparing integers needs no care about the precision each database keeps.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer


def row_version() -> Column[int]:
    """A new `version` column (each table needs its own Column object)."""
    return Column("version", Integer, nullable=False, server_default="1")
