"""The `users` table and the queries on it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    Connection,
    DateTime,
    Index,
    Row,
    String,
    bindparam,
    func,
    or_,
)
from sqlalchemy import select as core_select
from sqlalchemy import update as core_update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ColumnElement
from sqlmodel import Field, Session, SQLModel, col, select

from models.errors import Conflict, NotFound, Unconfirmed
from models.listing import PageRequest, read_page
from models.ordering import Page
from models.passwords import Passwords
from models.search import matches
from models.timestamps import to_iso, utc_now
from models.versions import row_version
from models.viewer import Viewer

ROLES = ("user", "admin", "moderator")
_VERSION = row_version()


class User(SQLModel, table=True):
    __tablename__ = "users"
    # Every UPDATE and DELETE checks the version it read (conditional requests).
    __mapper_args__ = {"version_id_col": _VERSION}
    __table_args__ = (
        CheckConstraint("role IN ('user', 'admin', 'moderator')", name="ck_users_role"),
        Index("ix_users_name_id", "name", "id"),
        Index("ix_users_created_at_id", "created_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(sa_column=Column(String, nullable=False))
    # Stored lower-case, so this unique index makes emails unique regardless of case.
    email: str = Field(sa_column=Column(String, nullable=False, unique=True))
    role: str = Field(default="user", sa_column=Column(String(16), nullable=False))
    # Argon2id; None for a user who cannot log in. Never part of `document()`.
    password_hash: str | None = Field(default=None, sa_column=Column(String, nullable=True))
    created_at: datetime = Field(
        default_factory=utc_now,
        sa_column=Column(DateTime(timezone=True), nullable=False),
    )
    updated_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(DateTime(timezone=True), nullable=False)
    )

    version: int = Field(default=1, sa_column=_VERSION)

    def document(self) -> dict[str, Any]:
        return document(self)


def document(user: User | Row[*tuple[Any, ...]]) -> dict[str, Any]:
    """The `User` schema of the contract (with `email`), from a `User` or a row of
    `DOCUMENT_COLUMNS`: what the user themself and admins see."""
    return {
        "id": str(user.id),
        "name": user.name,
        "email": user.email,
        "role": user.role,
        "createdAt": to_iso(user.created_at),
        "updatedAt": to_iso(user.updated_at),
    }


def sees_email(viewer: Viewer, user_id: uuid.UUID) -> bool:
    """Only the user themself and admins see an email address."""
    return viewer.role == "admin" or viewer.is_(user_id)


def seen_by(viewer: Viewer, user: User | Row[*tuple[Any, ...]]) -> dict[str, Any]:
    """The contract's `UserView`: with `email` for the user themself and admins only."""
    shown = document(user)
    if not sees_email(viewer, user.id):
        del shown["email"]
    return shown


# Reads select these columns on a plain connection: an ORM session and its objects cost
# about five times the query itself (docs/performance-notes.md).
DOCUMENT_COLUMNS = (
    col(User.id),
    col(User.name),
    col(User.email),
    col(User.role),
    col(User.created_at),
    col(User.updated_at),
    col(User.version),
)
_BY_ID = core_select(*DOCUMENT_COLUMNS).where(col(User.id) == bindparam("id"))

SORT_COLUMNS = {"name": User.name, "email": User.email, "createdAt": User.created_at}

# Contract fields stored as they are (after `normalise`); `password` is stored hashed.
WRITABLE = ("name", "email", "role")


def normalise(fields: dict[str, Any], passwords: Passwords) -> dict[str, Any]:
    """Column values from contract fields: names trimmed, emails lower-cased, a password
    hashed, as the contract promises."""
    values = {key: value for key, value in fields.items() if key in WRITABLE}
    if "name" in values:
        values["name"] = values["name"].strip(" ")  # the contract's pattern allows only spaces
    if "email" in values:
        values["email"] = normalise_email(values["email"])
    if "password" in fields:
        values["password_hash"] = passwords.hash(fields["password"])
    return values


def normalise_email(email: str) -> str:
    return email.strip().lower()


def needs_confirmation(user: User, fields: Mapping[str, Any]) -> list[str]:
    """The fields of a change to `user` that need the caller's current password: a new
    `email` (compared as stored, so a change of case is none) and any `password` (even
    the same one, which ends the user's other sessions). An email is where the account is
    reached and a password how it is entered: a token alone must not change either, and
    must not learn which emails are taken."""
    needed = []
    if "email" in fields and normalise_email(fields["email"]) != user.email:
        needed.append("email")
    if "password" in fields:
        needed.append("password")
    return needed


CURRENT_PASSWORD = "currentPassword"


def confirm(
    caller: User,
    password: str | None,
    changing: Sequence[str],
    passwords: Passwords,
    failed: Callable[[], None],
) -> None:
    """Refuse the change of `changing` unless `password` is the caller's current one.

    Without one, when `changing` needs it, refused before any hashing; a password that is
    given is checked even when nothing needs it, and a wrong one is reported to `failed`
    (a failed credential) before the refusal.
    """
    names = " and ".join(f"'{name}'" for name in changing)
    message = (
        f"Changing {names} needs the caller's current password"
        if changing
        else f"'{CURRENT_PASSWORD}' is not the caller's current password"
    )
    if password is None:
        if changing:
            why = f"is required to change {names}"
            raise Unconfirmed(message, [{"field": CURRENT_PASSWORD, "in": "body", "message": why}])
        return
    if not passwords.verify(caller.password_hash, password):
        failed()
        why = "is not the caller's current password"
        raise Unconfirmed(message, [{"field": CURRENT_PASSWORD, "in": "body", "message": why}])


def find_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == normalise_email(email))).first()


def _keep_an_admin(session: Session, user: User) -> None:
    """Refuse to remove the last admin: nobody could manage roles after that.

    The admins' rows are written (to the same values) before they are counted, which
    makes two concurrent removals count one after the other: on PostgreSQL the second
    waits on the first's row locks, on SQLite on its write lock. Counting first would let
    two requests removing the last two admins both count two.
    """
    if user.role != "admin":
        return
    admins = col(User.role) == "admin"
    session.connection().execute(core_update(User).where(admins).values(role=User.role))
    count = session.connection().execute(core_select(func.count()).select_from(User).where(admins))
    if count.scalar_one() <= 1:
        raise Conflict("The last admin cannot be deleted or lose the admin role")


def password_unchanged(session: Session, user_id: uuid.UUID, password_hash: str) -> bool:
    """Whether the user's password is still the one a login verified, read under a
    share lock (PostgreSQL) after the login's own write (SQLite's write lock): a password
    change committing meanwhile either comes first and is seen here, or comes after and
    revokes the new token with the others."""
    query = core_select(col(User.password_hash)).where(col(User.id) == user_id)
    current = session.connection().execute(query.with_for_update(read=True)).scalar()
    return bool(current == password_hash)


def list_page(connection: Connection, viewer: Viewer, request: PageRequest) -> Page:
    """One page of users (models/listing.py). `search` matches names, and emails too for
    an admin: for anyone else, matching emails would reveal them a substring at a time."""
    conditions: list[ColumnElement[bool]] = []
    if request.search:
        condition = matches(col(User.name), request.search)
        if viewer.role == "admin":
            condition = or_(condition, matches(col(User.email), request.search))
        conditions.append(condition)
    return read_page(
        connection,
        request,
        core_select(*DOCUMENT_COLUMNS),
        conditions,
        sort_columns=SORT_COLUMNS,
        id_column=col(User.id),
        estimates=True,  # every user is in the list of every caller
        document=lambda row: seen_by(viewer, row),
    )


def document_by_id(
    connection: Connection, user_id: uuid.UUID, viewer: Viewer
) -> tuple[dict[str, Any], int]:
    """One user as `viewer` may see them, and the row's version, on a plain connection
    (the hot path)."""
    row = connection.execute(_BY_ID, {"id": user_id}).first()
    if row is None:
        raise NotFound("User", user_id)
    return seen_by(viewer, row), row.version


def get(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("User", user_id)
    return user


def save(session: Session, user: User) -> User:
    """Write the row now, so a taken email is a 409 and not a failed commit."""
    email = user.email  # read now: the failed flush expires the instance
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(
            f"A user with email '{email}' already exists",
            details=[{"field": "email", "in": "body", "message": "is already taken"}],
        ) from None
    return user


def create(session: Session, fields: dict[str, Any], passwords: Passwords) -> User:
    now = utc_now()
    return save(session, User(**normalise(fields, passwords), created_at=now, updated_at=now))


def update(session: Session, user: User, fields: dict[str, Any], passwords: Passwords) -> User:
    values = normalise(fields, passwords)
    if values.get("role", user.role) != user.role:
        _keep_an_admin(session, user)
    for name, value in values.items():
        setattr(user, name, value)
    if values:
        user.updated_at = utc_now()
    return save(session, user)


def delete(session: Session, user: User) -> None:
    _keep_an_admin(session, user)
    session.delete(user)
    session.flush()
