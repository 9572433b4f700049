"""Handlers of the `posts` tag; authorization (x-allow) ran before any of these."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session

from models import post as posts
from models import user as users
from models.idempotency import Answer
from models.listing import PageRequest
from models.ordering import Page
from service.access.caller import current_viewer, signed_in
from service.http import idempotent_creates as idempotency
from service.http.conditional import (
    ETAG,
    entity_tag,
    preconditions,
    refuse_conditional_create,
    representation,
)
from service.http.pagination import listed
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

    def read(session: Session, rows: PageRequest) -> Page:
        author = uuid.UUID(author_id) if author_id else None
        return posts.list_page(session, current_viewer(), rows, status=status, author_id=author)

    return listed(
        path,
        query,
        page=page,
        limit=limit,
        cursor=cursor,
        sort_columns=posts.SORT_COLUMNS,
        unit=database().session,
        read=read,
    )


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


def create_post(body: dict[str, Any]) -> Response:
    refuse_conditional_create()

    def create(session: Session) -> Answer:
        post = posts.create(session, signed_in().id, body)
        created = posts.document_of(session, post)
        headers = {"Location": f"{COLLECTION}/{post.id}", ETAG: entity_tag(post.version, created)}
        return Answer(201, {"data": created}, headers)

    return idempotency.create(body, create)


def _tag(session: Session, post: posts.Post) -> str:
    return entity_tag(post.version, posts.document_of(session, post))


def get_post(id_: str) -> Response:
    with database().session() as session:
        post = posts.get_visible(session, uuid.UUID(id_), current_viewer())
        document = posts.document_of(session, post)
    return representation(document, entity_tag(post.version, document))


def _change(id_: str, fields: dict[str, Any], *, replace: bool) -> Response:
    """A PUT must name the version it replaces (If-Match); a PATCH may."""
    with preconditions(required=replace) as precondition, database().session() as session:
        post = posts.get(session, uuid.UUID(id_))
        precondition.check(lambda: _tag(session, post))
        post = posts.update(session, post, fields)
        document = posts.document_of(session, post)
    return {"data": document}, 200, {ETAG: entity_tag(post.version, document)}


def replace_post(id_: str, body: dict[str, Any]) -> Response:
    """PUT: the contract requires every writable field, so this is a full replace."""
    return _change(id_, body, replace=True)


def update_post(id_: str, body: dict[str, Any]) -> Response:
    """PATCH (JSON Merge Patch): fields left out stay as they are."""
    return _change(id_, body, replace=False)


def delete_post(id_: str) -> Response:
    with preconditions(required=False) as precondition, database().session() as session:
        post = posts.get(session, uuid.UUID(id_))
        precondition.check(lambda: _tag(session, post))
        posts.delete(session, post)
    return None, 204
