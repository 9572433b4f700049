"""The `idempotency_keys` table: the first answer to a create, kept for its retries.

A key is claimed with an INSERT in the create's own transaction, before the create runs,
and the answer is written into the same row before commit; so a key is remembered exactly
when its create committed. A second request with the key waits on that INSERT (the row
lock of the primary key) until the first commits, then finds the row and replays it; if
the first rolled back, the second claims the key and runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, DateTime, Integer, String, Text, delete, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Field, Session, SQLModel, col

from models.errors import IdempotencyKeyInUse, IdempotencyKeyReused
from models.timestamps import as_utc, utc_now

KEPT_FOR = timedelta(hours=24)


class IdempotencyKey(SQLModel, table=True):
    __tablename__ = "idempotency_keys"

    # "user:<id>" or "address:<client address>": keys of two callers never meet.
    caller: str = Field(sa_column=Column(String(64), primary_key=True))
    key: str = Field(sa_column=Column(String(255), primary_key=True))
    # SHA-256 of the method, path and body: the same key with another request is refused.
    fingerprint: str = Field(sa_column=Column(String(64), nullable=False))
    status: int = Field(sa_column=Column(Integer, nullable=False))
    body: str = Field(sa_column=Column(Text, nullable=False))
    headers: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    expires_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, index=True)
    )


@dataclass(frozen=True)
class Answer:
    """A response as it is kept and replayed."""

    status: int
    body: Any
    headers: dict[str, str]


def claim(
    session: Session, caller: str, key: str, fingerprint: str, wait_seconds: float
) -> Answer | None:
    """Claim `key` for this transaction, or the answer kept for it.

    None: the key is this request's; run the create, then `keep` its answer. An `Answer`:
    the create already ran with this key and request; replay it. Waiting longer than
    `wait_seconds` for a first request that is still running is `IdempotencyKeyInUse`.
    """
    now = utc_now()
    # Expired keys go, this caller's one included: a key lives KEPT_FOR, then is free.
    session.execute(delete(IdempotencyKey).where(col(IdempotencyKey.expires_at) <= now))
    row = IdempotencyKey(
        caller=caller,
        key=key,
        fingerprint=fingerprint,
        status=0,
        body="",
        headers="{}",
        created_at=now,
        expires_at=now + KEPT_FOR,
    )
    try:
        with _lock_wait_bounded(session, wait_seconds), session.begin_nested():
            session.add(row)
    except IntegrityError:
        pass  # the key was kept by a create that committed: replay it below
    except OperationalError as error:
        if _is_lock_wait(error):
            raise IdempotencyKeyInUse(
                "A request with this Idempotency-Key is still being carried out"
            ) from None
        raise
    else:
        return None
    if row in session:
        session.expunge(row)
    kept = session.get(IdempotencyKey, (caller, key), populate_existing=True)
    if kept is None or as_utc(kept.expires_at) <= now:  # pragma: no cover (deleted meanwhile)
        raise IdempotencyKeyInUse("The Idempotency-Key changed hands; send the request again")
    if kept.fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used with a different request; use a new key"
        )
    return Answer(kept.status, json.loads(kept.body), json.loads(kept.headers))


def keep(session: Session, caller: str, key: str, answer: Answer) -> None:
    """Write the create's answer into the claimed row, in the create's transaction."""
    row = session.get(IdempotencyKey, (caller, key))
    assert row is not None, "keep() without claim()"
    row.status = answer.status
    row.body = json.dumps(answer.body, separators=(",", ":"))
    row.headers = json.dumps(answer.headers, separators=(",", ":"))
    session.add(row)
    session.flush()


@contextmanager
def _lock_wait_bounded(session: Session, seconds: float) -> Iterator[None]:
    """PostgreSQL waits on another transaction's row lock at most `seconds` in the block
    (the create after it keeps the usual bounds); SQLite's wait for the write lock is its
    busy timeout."""
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    session.execute(text(f"SET LOCAL lock_timeout = {max(int(seconds * 1000), 1)}"))
    try:
        yield
    finally:
        session.execute(text("SET LOCAL lock_timeout TO DEFAULT"))


def _is_lock_wait(error: OperationalError) -> bool:
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate is not None:
        return bool(sqlstate == "55P03")  # lock_not_available
    return "locked" in str(error.orig)
