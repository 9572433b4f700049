"""Handlers of the `notifications` tag: the caller's own, nobody else's."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection

from models import notification as notifications
from models.listing import PageRequest
from models.ordering import Page
from service.access.caller import signed_in
from service.http.pagination import listed
from service.runtime import database

Response = tuple[Any, int] | tuple[Any, int, dict[str, str]]
COLLECTION = "/api/notifications"


def list_notifications(
    limit: int,
    sort_by: str,
    order: str,
    page: int | None = None,
    cursor: str | None = None,
    search: str | None = None,
    unread: bool | None = None,  # noqa: FBT001 (Connexion passes it by name)
    comment_id: str | None = None,
) -> Response:
    query = {
        "search": search,
        "sortBy": sort_by,
        "order": order,
        "unread": None if unread is None else str(unread).lower(),
        "commentId": comment_id,
    }

    def read(connection: Connection, rows: PageRequest) -> Page:
        comment = uuid.UUID(comment_id) if comment_id else None
        return notifications.list_page(
            connection, rows, recipient_id=signed_in().id, unread=unread, comment_id=comment
        )

    return listed(
        COLLECTION,
        query,
        page=page,
        limit=limit,
        cursor=cursor,
        sort_columns=notifications.SORT_COLUMNS,
        unit=database().read,
        read=read,
    )


def mark_notifications_read(body: dict[str, Any]) -> Response:
    ids = [uuid.UUID(value) for value in body["ids"]] if "ids" in body else None
    with database().session() as session:
        changed = notifications.mark_read(session, signed_in().id, ids)
    return {"data": {"changed": changed}}, 200
