"""Handlers of the `users` tag; Connexion has validated every argument already."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session

from models import token as tokens
from models import user as users
from models import user_removal
from models.idempotency import Answer
from service.access.caller import Caller, current_caller, current_viewer, signed_in
from service.edge.scope import current as current_scope
from service.http import idempotent_creates as idempotency
from service.http.conditional import (
    ETAG,
    entity_tag,
    preconditions,
    refuse_conditional_create,
    representation,
)
from service.http.pagination import listed
from service.runtime import current, database, passwords

Response = tuple[Any, int] | tuple[Any, int, dict[str, str]]
COLLECTION = "/api/users"


def list_users(
    limit: int,
    sort_by: str,
    order: str,
    page: int | None = None,
    cursor: str | None = None,
    search: str | None = None,
) -> Response:
    return listed(
        COLLECTION,
        {"search": search, "sortBy": sort_by, "order": order},
        page=page,
        limit=limit,
        cursor=cursor,
        sort_columns=users.SORT_COLUMNS,
        unit=database().read,
        read=lambda connection, rows: users.list_page(connection, current_viewer(), rows),
    )


def create_user(body: dict[str, Any]) -> Response:
    refuse_conditional_create()

    def create(session: Session) -> Answer:
        user = users.create(session, body, passwords())
        created = user.document()
        headers = {"Location": f"{COLLECTION}/{user.id}", ETAG: entity_tag(user.version, created)}
        return Answer(201, {"data": created}, headers)

    return idempotency.create(body, create)


def get_user(id_: str) -> Response:
    """`email` only for the user themself and admins (the contract's `UserView`)."""
    with database().read() as connection:
        document, version = users.document_by_id(connection, uuid.UUID(id_), current_viewer())
    return representation(document, entity_tag(version, document))


def _confirm(
    session: Session, caller: Caller, user: users.User, password: str | None, changing: list[str]
) -> None:
    """A new email or password needs the caller's own current password (an admin's own
    for someone else's account); a wrong one is a failed credential of the client, and
    past `x-rate-limit-auth-failures` a 429 before it is even checked."""
    confirming = user if user.id == caller.id else users.get(session, caller.id)
    # Counted as a failed login to the caller's own account from this address.
    record_failure = (
        current().rate_limits.guard_login(current_scope().client, confirming.email)
        if password is not None
        else _nothing
    )
    users.confirm(confirming, password, changing, passwords(), record_failure)


def _nothing() -> None:
    pass


def _change(id_: str, body: dict[str, Any], *, replace: bool) -> Response:
    """A new password or role ends the user's sessions, in the same transaction: every
    token of theirs is revoked but the one this request came with, if it is theirs.
    A PUT must name the version it replaces (If-Match); a PATCH may. A new email or
    password needs `currentPassword`; a new email also counts against the sign-up's
    limit of the client's address (`x-rate-limit-fields`)."""
    caller = current_caller()
    assert caller is not None  # the operation's security is bearerAuth alone
    fields = {name: value for name, value in body.items() if name != users.CURRENT_PASSWORD}
    with preconditions(required=replace) as precondition, database().session() as session:
        user = users.get(session, uuid.UUID(id_))
        precondition.check(lambda: entity_tag(user.version, users.seen_by(caller.viewer, user)))
        changing = users.needs_confirmation(user, fields)
        given = body.get(users.CURRENT_PASSWORD)
        if changing or given is not None:
            _confirm(session, caller, user, given, changing)
        current().rate_limits.count_changes(changing)
        role_before = user.role
        changed = users.update(session, user, fields, passwords())
        if "password" in fields or changed.role != role_before:
            own_token = caller.token_id if caller.id == changed.id else None
            tokens.revoke_all(session, changed.id, keep=own_token)
        document = changed.document()
    return {"data": document}, 200, {ETAG: entity_tag(changed.version, document)}


def replace_user(id_: str, body: dict[str, Any]) -> Response:
    """PUT: the contract requires every writable field, so this is a full replace."""
    return _change(id_, body, replace=True)


def update_user(id_: str, body: dict[str, Any]) -> Response:
    """PATCH (JSON Merge Patch): fields left out stay as they are."""
    return _change(id_, body, replace=False)


def get_me() -> Response:
    return get_user(str(signed_in().id))


def delete_user(id_: str, cascade: bool = False) -> Response:  # noqa: FBT001, FBT002 (Connexion passes it by name)
    viewer = current_viewer()
    with preconditions(required=False) as precondition, database().session() as session:
        user = users.get(session, uuid.UUID(id_))
        precondition.check(lambda: entity_tag(user.version, users.seen_by(viewer, user)))
        user_removal.remove(session, user, cascade=cascade)
    return None, 204
