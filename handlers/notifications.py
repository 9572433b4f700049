"""Handlers of the `notifications` tag: the caller's own, nobody else's."""

from __future__ import annotations

import uuid
from typing import Any

from models import notification as notifications
from service.pagination import PageRequest, paginated
from service.runtime import database

Response = tuple[Any, int] | tuple[Any, int, dict[str, str]]
COLLECTION = "/api/notifications"


def list_notifications(
    user: str,
    page: int,
    limit: int,
    sort_by: str,
    order: str,
    search: str | None = None,
    unread: bool | None = None,  # noqa: FBT001 (Connexion passes it by name)
    comment_id: str | None = None,
) -> Response:
    request = PageRequest(page=page, limit=limit)
    with database().read() as connection:
        items, total = notifications.list_page(
            connection,
            recipient_id=uuid.UUID(user),
            offset=request.offset,
            limit=limit,
            sort_by=sort_by,
            order=order,
            search=search,
            unread=unread,
            comment_id=uuid.UUID(comment_id) if comment_id else None,
        )
    query = {
        "search": search,
        "sortBy": sort_by,
        "order": order,
        "unread": None if unread is None else str(unread).lower(),
        "commentId": comment_id,
    }
    return paginated(items, total, request, COLLECTION, query)


def mark_notifications_read(body: dict[str, Any], user: str) -> Response:
    ids = [uuid.UUID(value) for value in body["ids"]] if "ids" in body else None
    with database().session() as session:
        changed = notifications.mark_read(session, uuid.UUID(user), ids)
    return {"data": {"changed": changed}}, 200
