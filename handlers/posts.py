"""Handlers of the `posts` tag; authorization (x-allow) ran before any of these."""

from __future__ import annotations

import uuid
from typing import Any

from models import post as posts
from models import user as users
from models.ordering import is_time
from service.access.authentication import current_viewer
from service.pagination import list_request, paginated
from service.runtime import database

Response = tuple[Any, int] | tuple[Any, int, dict[str, str]]
COLLECTION = "/api/posts"


def _list(
    path: str,
    page: int | None,
    limit: int,
    cursor: str | None,
    sort_by: str,
    order: str,
    search: str | None,
    status: str | None,
    author_id: str | None,
) -> Response:
    query = {"search": search, "status": status, "sortBy": sort_by, "order": order}
    if path == COLLECTION:
        query["authorId"] = author_id
    request = list_request(
        path,
        query,
        page=page,
        limit=limit,
        cursor=cursor,
        time_key=is_time(posts.SORT_COLUMNS[sort_by]),
    )
    with database().session() as session:
        found = posts.list_page(
            session,
            viewer=current_viewer(),
            offset=request.offset,
            limit=limit,
            sort_by=sort_by,
            order=order,
            after_key=request.after,
            counting=request.counting,
            exact_limit=request.exact_limit,
            search=search,
            status=status,
            author_id=uuid.UUID(author_id) if author_id else None,
        )
    return paginated(found, request)


def list_posts(
    limit: int,
    sort_by: str,
    order: str,
    page: int | None = None,
    cursor: str | None = None,
    search: str | None = None,
    status: str | None = None,
    author_id: str | None = None,
) -> Response:
    return _list(COLLECTION, page, limit, cursor, sort_by, order, search, status, author_id)


def list_user_posts(
    id_: str,
    limit: int,
    sort_by: str,
    order: str,
    page: int | None = None,
    cursor: str | None = None,
    search: str | None = None,
    status: str | None = None,
) -> Response:
    """404 for an unknown user; otherwise their posts the caller may see."""
    with database().session() as session:
        users.get(session, uuid.UUID(id_))
    path = f"/api/users/{id_}/posts"
    return _list(path, page, limit, cursor, sort_by, order, search, status, id_)


def create_post(body: dict[str, Any], user: str) -> Response:
    with database().session() as session:
        created = posts.document_of(session, posts.create(session, uuid.UUID(user), body))
    return {"data": created}, 201, {"Location": f"{COLLECTION}/{created['id']}"}


def get_post(id_: str) -> Response:
    with database().session() as session:
        post = posts.get_visible(session, uuid.UUID(id_), current_viewer())
        return {"data": posts.document_of(session, post)}, 200


def _change(id_: str, fields: dict[str, Any]) -> Response:
    with database().session() as session:
        post = posts.update(session, posts.get(session, uuid.UUID(id_)), fields)
        return {"data": posts.document_of(session, post)}, 200


def replace_post(id_: str, body: dict[str, Any]) -> Response:
    """PUT: the contract requires every writable field, so this is a full replace."""
    return _change(id_, body)


def update_post(id_: str, body: dict[str, Any]) -> Response:
    """PATCH (JSON Merge Patch): fields left out stay as they are."""
    return _change(id_, body)


def delete_post(id_: str) -> Response:
    with database().session() as session:
        posts.delete(session, posts.get(session, uuid.UUID(id_)))
    return None, 204
