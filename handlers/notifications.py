"""Handlers of the `notifications` tag: the caller's own, nobody else's."""

from __future__ import annotations

import uuid
from typing import Any

from models import notification as notifications
from service.access.caller import signed_in
from service.http.pagination import list_request, paginated
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
    request = list_request(
        COLLECTION,
        query,
        page=page,
        limit=limit,
        cursor=cursor,
        sort_columns=notifications.SORT_COLUMNS,
    )
    with database().read() as connection:
        found = notifications.list_page(
            connection,
            request.rows,
            recipient_id=signed_in().id,
            unread=unread,
            comment_id=uuid.UUID(comment_id) if comment_id else None,
        )
    return paginated(found, request)


def mark_notifications_read(body: dict[str, Any]) -> Response:
    ids = [uuid.UUID(value) for value in body["ids"]] if "ids" in body else None
    with database().session() as session:
        changed = notifications.mark_read(session, signed_in().id, ids)
    return {"data": {"changed": changed}}, 200
