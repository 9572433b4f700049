"""The `app_secret` table: one row, the random secret the service signs with.

Migration 0007 fills it with 32 random bytes when it creates the table, so every worker
and every instance on the database reads the same secret, and no one can derive it from
anything they know or guess. `APP_SECRET` (service/settings.py), when set, is used
instead and the row is not read. The secret never leaves the service.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Column, Connection, DateTime, Integer, LargeBinary, insert, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel, col

from models.timestamps import utc_now

SECRET_BYTES = 32
ROW_ID = 1


class AppSecretRow(SQLModel, table=True):
    __tablename__ = "app_secret"

    id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    secret: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


def new_secret() -> bytes:
    return secrets.token_bytes(SECRET_BYTES)


def _read(connection: Connection) -> bytes | None:
    found = connection.execute(
        select(col(AppSecretRow.secret)).where(col(AppSecretRow.id) == ROW_ID)
    ).scalar_one_or_none()
    return bytes(found) if found is not None else None


def stored(connection: Connection) -> bytes:
    """The kept secret, on a connection whose every statement is its own transaction
    (`Database.read()`). Should the row be gone, a new one is made: insert-if-absent, so
    of workers racing to make it, one inserts and every one reads back that value."""
    found = _read(connection)
    if found is None:
        row = {"id": ROW_ID, "secret": new_secret(), "created_at": utc_now()}
        try:
            connection.execute(insert(AppSecretRow).values(**row))
        except IntegrityError:
            connection.rollback()  # another worker or instance made it first: theirs it is
        found = _read(connection)
    if found is None:
        raise LookupError("the app's secret could not be kept in the database")
    return found
