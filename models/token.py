"""The `tokens` table: bearer tokens, stored only as SHA-256 hashes.

Tokens are 32 random bytes from `secrets`, so a fast hash is enough (no brute force can
walk that space); the plain token is returned once, at creation, and never stored.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Column, Connection, DateTime, ForeignKey, String, Uuid, bindparam, update
from sqlalchemy import select as core_select
from sqlmodel import Field, Session, SQLModel, col

from models.errors import InvalidToken
from models.timestamps import as_utc, utc_now
from models.user import User

TOKEN_BYTES = 32
# last_used_at is written at most this often per token, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class Token(SQLModel, table=True):
    __tablename__ = "tokens"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    last_used_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


def digest(plain: str) -> str:
    return hashlib.sha256(plain.encode("utf-8", "surrogatepass")).hexdigest()


def issue(session: Session, user: User, ttl_seconds: int) -> tuple[str, Token]:
    """A new token for `user`: the plain value (to show once) and its row."""
    plain = secrets.token_urlsafe(TOKEN_BYTES)
    now = utc_now()
    token = Token(
        user_id=user.id,
        token_hash=digest(plain),
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds),
    )
    session.add(token)
    session.flush()
    return plain, token


@dataclass(frozen=True)
class Bearer:
    """What a request needs to know of a live token: whose it is."""

    token_id: uuid.UUID
    user_id: uuid.UUID
    role: str


# Built once: this runs on every authenticated request.
_BY_HASH = (
    core_select(
        col(Token.id),
        col(Token.expires_at),
        col(Token.revoked_at),
        col(Token.last_used_at),
        col(User.id),
        col(User.role),
    )
    .join(User, col(User.id) == Token.user_id)
    .where(col(Token.token_hash) == bindparam("hash"))
)


def authenticate(connection: Connection, plain: str) -> Bearer:
    """The live token's owner, or `InvalidToken` saying why not.

    This runs on every authenticated request, so it is one indexed Core query on a plain
    connection (no ORM session), and it writes `last_used_at` at most once a minute.
    """
    row = connection.execute(_BY_HASH, {"hash": digest(plain)}).first()
    if row is None:
        raise InvalidToken("The token is not valid")
    token_id, expires_at, revoked_at, last_used_at, user_id, role = row
    now = utc_now()
    if revoked_at is not None:
        raise InvalidToken("The token has been revoked")
    if as_utc(expires_at) <= now:
        raise InvalidToken("The token has expired")
    if last_used_at is None or now - as_utc(last_used_at) >= LAST_USED_RESOLUTION:
        connection.execute(update(Token).where(col(Token.id) == token_id).values(last_used_at=now))
        connection.commit()
    return Bearer(token_id, user_id, role)


def revoke_all(session: Session, user_id: uuid.UUID, keep: uuid.UUID | None = None) -> int:
    """Revoke every live token of `user_id` but `keep`; how many were revoked."""
    query = (
        update(Token)
        .where(col(Token.user_id) == user_id, col(Token.revoked_at).is_(None))
        .values(revoked_at=utc_now())
    )
    if keep is not None:
        query = query.where(col(Token.id) != keep)
    return session.connection().execute(query).rowcount


def revoke(session: Session, token_id: uuid.UUID) -> None:
    token = session.get(Token, token_id)
    if token is not None and token.revoked_at is None:
        token.revoked_at = utc_now()
        session.flush()
