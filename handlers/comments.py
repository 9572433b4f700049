"""Handlers of the `comments` tag; authorization (x-allow) ran before any of these."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session

from models import comment as comments
from models import notification as notifications
from models import post as posts
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


def list_post_comments(
    id_: str,
    limit: int,
    sort_by: str,
    order: str,
    page: int | None = None,
    cursor: str | None = None,
    search: str | None = None,
) -> Response:
    """404 for a post the caller may not see; otherwise its comments."""

    def read(session: Session, rows: PageRequest) -> Page:
        post = posts.get_visible(session, uuid.UUID(id_), current_viewer())
        return comments.list_page(session, rows, post_id=post.id)

    return listed(
        f"/api/posts/{id_}/comments",
        {"search": search, "sortBy": sort_by, "order": order},
        page=page,
        limit=limit,
        cursor=cursor,
        sort_columns=comments.SORT_COLUMNS,
        unit=database().session,
        read=read,
    )


def create_post_comment(id_: str, body: dict[str, Any]) -> Response:
    def create(session: Session) -> Answer:
        post = posts.get_visible(session, uuid.UUID(id_), current_viewer())
        refuse_conditional_create()  # after the 404 of a post the caller may not see
        comment = comments.create(session, post.id, signed_in().id, body["body"])
        notifications.comment_posted(session, post, comment)
        created = comments.document_of(session, comment)
        headers = {
            "Location": f"/api/comments/{comment.id}",
            ETAG: entity_tag(comment.version, created),
        }
        return Answer(201, {"data": created}, headers)

    return idempotency.create(body, create)


def _tag(session: Session, comment: comments.Comment) -> str:
    return entity_tag(comment.version, comments.document_of(session, comment))


def get_comment(id_: str) -> Response:
    with database().session() as session:
        comment = posts.get_visible_comment(session, uuid.UUID(id_), current_viewer())
        document = comments.document_of(session, comment)
    return representation(document, entity_tag(comment.version, document))


def update_comment(id_: str, body: dict[str, Any]) -> Response:
    with preconditions(required=False) as precondition, database().session() as session:
        comment = comments.get(session, uuid.UUID(id_))
        precondition.check(lambda: _tag(session, comment))
        comment = comments.update(session, comment, body)
        document = comments.document_of(session, comment)
    return {"data": document}, 200, {ETAG: entity_tag(comment.version, document)}


def delete_comment(id_: str) -> Response:
    with preconditions(required=False) as precondition, database().session() as session:
        comment = comments.get(session, uuid.UUID(id_))
        precondition.check(lambda: _tag(session, comment))
        comments.delete(session, comment)
    return None, 204
