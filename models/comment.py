"""The `comments` table and the queries on it."""

from __future__ import annotations

import uuid
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Column, DateTime, ForeignKey, Index, Text, Uuid
from sqlmodel import Field, Session, SQLModel, col, select

from models.errors import NotFound
from models.listing import PageRequest, read_page
from models.ordering import Page
from models.search import matches
from models.timestamps import to_iso, utc_now
from models.user import User
from models.versions import row_version

_VERSION = row_version()


class Comment(SQLModel, table=True):
    __tablename__ = "comments"
    # Every UPDATE and DELETE checks the version it read (conditional requests).
    __mapper_args__ = {"version_id_col": _VERSION}
    __table_args__ = (
        Index("ix_comments_post_id_created_at_id", "post_id", "created_at", "id"),
        Index("ix_comments_post_id_updated_at_id", "post_id", "updated_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    # A post's comments go with it, even if a row is deleted outside the service.
    post_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("posts.id", ondelete="CASCADE"), nullable=False)
    )
    # No ON DELETE: a user with comments cannot be deleted by accident.
    author_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("users.id"), nullable=False, index=True)
    )
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    version: int = Field(default=1, sa_column=_VERSION)


def document(comment: Comment, author_name: str) -> dict[str, Any]:
    """The `Comment` schema of the contract."""
    return {
        "id": str(comment.id),
        "postId": str(comment.post_id),
        "authorId": str(comment.author_id),
        "author": {"id": str(comment.author_id), "name": author_name},
        "body": comment.body,
        "createdAt": to_iso(comment.created_at),
        "updatedAt": to_iso(comment.updated_at),
    }


SORT_COLUMNS = {"createdAt": Comment.created_at, "updatedAt": Comment.updated_at}


def list_page(session: Session, request: PageRequest, *, post_id: uuid.UUID) -> Page:
    """One page of a post's comments with author names (models/listing.py)."""
    conditions = [col(Comment.post_id) == post_id]
    if request.search:
        conditions.append(matches(col(Comment.body), request.search))
    return read_page(
        session,
        request,
        select(Comment, User.name).join(User, col(User.id) == Comment.author_id),
        conditions,
        sort_columns=SORT_COLUMNS,
        id_column=col(Comment.id),
        # The planner's statistics cover comments on drafts too: never estimated.
        estimates=False,
        document=lambda row: document(*row),
        entity=itemgetter(0),
    )


def get(session: Session, comment_id: uuid.UUID) -> Comment:
    comment = session.get(Comment, comment_id)
    if comment is None:
        raise NotFound("Comment", comment_id)
    return comment


def document_of(session: Session, comment: Comment) -> dict[str, Any]:
    """The comment in the contract's shape, with its author's name."""
    name = session.exec(select(User.name).where(User.id == comment.author_id)).one()
    return document(comment, name)


def create(session: Session, post_id: uuid.UUID, author_id: uuid.UUID, body: str) -> Comment:
    now = utc_now()
    comment = Comment(
        post_id=post_id, author_id=author_id, body=body, created_at=now, updated_at=now
    )
    session.add(comment)
    session.flush()
    return comment


def update(session: Session, comment: Comment, fields: dict[str, Any]) -> Comment:
    if "body" in fields:
        comment.body = fields["body"]
        comment.updated_at = utc_now()
        session.add(comment)
        session.flush()
    return comment


def delete(session: Session, comment: Comment) -> None:
    session.delete(comment)
    session.flush()
