"""Handlers of the `comments` tag; authorization (x-allow) ran before any of these."""

from __future__ import annotations

import uuid
from typing import Any

from models import comment as comments
from models import post as posts
from models.ordering import is_time
from service.access.authentication import current_viewer
from service.pagination import list_request, paginated
from service.runtime import database

Response = tuple[Any, int] | tuple[Any, int, dict[str, str]]


def list_post_comments(
    id_: str,
    limit: int,
    sort_by: str,
    order: str,
    page: int | None = None,
    cursor: str | None = None,
    search: str | None = None,
) -> Response:
    query = {"search": search, "sortBy": sort_by, "order": order}
    time_key = is_time(comments.SORT_COLUMNS[sort_by])
    path = f"/api/posts/{id_}/comments"
    request = list_request(path, query, page=page, limit=limit, cursor=cursor, time_key=time_key)
    with database().session() as session:
        post = posts.get_visible(session, uuid.UUID(id_), current_viewer())
        found = comments.list_page(
            session,
            post_id=post.id,
            offset=request.offset,
            limit=limit,
            sort_by=sort_by,
            order=order,
            after_key=request.after,
            counting=request.counting,
            exact_limit=request.exact_limit,
            search=search,
        )
    return paginated(found, request)


def create_post_comment(id_: str, body: dict[str, Any], user: str) -> Response:
    with database().session() as session:
        post = posts.get_visible(session, uuid.UUID(id_), current_viewer())
        comment = comments.create(session, post.id, uuid.UUID(user), body["body"])
        created = comments.document_of(session, comment)
    return {"data": created}, 201, {"Location": f"/api/comments/{created['id']}"}


def get_comment(id_: str) -> Response:
    with database().session() as session:
        comment = posts.get_visible_comment(session, uuid.UUID(id_), current_viewer())
        return {"data": comments.document_of(session, comment)}, 200


def update_comment(id_: str, body: dict[str, Any]) -> Response:
    with database().session() as session:
        comment = comments.update(session, comments.get(session, uuid.UUID(id_)), body)
        return {"data": comments.document_of(session, comment)}, 200


def delete_comment(id_: str) -> Response:
    with database().session() as session:
        comments.delete(session, comments.get(session, uuid.UUID(id_)))
    return None, 204
