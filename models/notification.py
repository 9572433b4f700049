"""The `notifications` table: who did what to the recipient's post, and the queries on it.

A notification is written in the transaction of what caused it (a comment on someone
else's post) and goes with whatever it points at: its foreign keys cascade, so deleting
the comment, the post or either user removes it in the same statement, whichever code
(or hand) deletes the row.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    ForeignKey,
    Index,
    Row,
    String,
    Uuid,
    or_,
    update,
)
from sqlalchemy import select as core_select
from sqlalchemy.sql import ColumnElement
from sqlmodel import Field, Session, SQLModel, col

from models.comment import Comment
from models.errors import NotFound
from models.listing import PageRequest, read_page
from models.ordering import Page
from models.post import Post
from models.timestamps import to_iso, utc_now
from models.user import User

COMMENT = "comment"


class Notification(SQLModel, table=True):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_recipient_id_created_at", "recipient_id", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    recipient_id: uuid.UUID = Field(
        sa_column=Column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    actor_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    type: str = Field(sa_column=Column(String(16), nullable=False))
    post_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("posts.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    comment_id: uuid.UUID = Field(
        sa_column=Column(
            Uuid, ForeignKey("comments.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    # None while unread.
    read_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


def comment_posted(session: Session, post: Post, comment: Comment) -> Notification | None:
    """Tell the post's author about a comment, in the comment's transaction; nobody is
    told about their own comment."""
    if comment.author_id == post.author_id:
        return None
    notification = Notification(
        recipient_id=post.author_id,
        actor_id=comment.author_id,
        type=COMMENT,
        post_id=post.id,
        comment_id=comment.id,
        created_at=comment.created_at,
    )
    session.add(notification)
    session.flush()
    return notification


_COLUMNS = (
    col(Notification.id),
    col(Notification.type),
    col(Notification.actor_id),
    col(User.name),
    col(Notification.post_id),
    col(Post.title),
    col(Notification.comment_id),
    col(Notification.read_at),
    col(Notification.created_at),
)


def document(row: Row[*tuple[Any, ...]]) -> dict[str, Any]:
    """The `Notification` schema of the contract, from a row of `_COLUMNS`."""
    return {
        "id": str(row.id),
        "type": row.type,
        "actor": {"id": str(row.actor_id), "name": row.name},
        "postId": str(row.post_id),
        "postTitle": row.title,
        "commentId": str(row.comment_id),
        "read": row.read_at is not None,
        "createdAt": to_iso(row.created_at),
    }


SORT_COLUMNS = {"createdAt": Notification.created_at}


def list_page(
    connection: Connection,
    request: PageRequest,
    *,
    recipient_id: uuid.UUID,
    unread: bool | None = None,
    comment_id: uuid.UUID | None = None,
) -> Page:
    """One page of the recipient's notifications with the actor's name and the post's
    title (models/listing.py). `search` matches the post's title, the actor's name and
    the comment's body."""
    conditions: list[ColumnElement[bool]] = [col(Notification.recipient_id) == recipient_id]
    if unread is not None:
        read_at = col(Notification.read_at)
        conditions.append(read_at.is_(None) if unread else read_at.is_not(None))
    if comment_id is not None:
        conditions.append(col(Notification.comment_id) == comment_id)
    search = request.search
    if search:
        matching_comments = core_select(col(Comment.id)).where(
            col(Comment.body).icontains(search, autoescape=True)
        )
        conditions.append(
            or_(
                col(Post.title).icontains(search, autoescape=True),
                col(User.name).icontains(search, autoescape=True),
                col(Notification.comment_id).in_(matching_comments),
            )
        )
    joined = (
        core_select(*_COLUMNS)
        .join(User, col(User.id) == Notification.actor_id)
        .join(Post, col(Post.id) == Notification.post_id)
    )
    return read_page(
        connection,
        request,
        joined,
        conditions,
        sort_columns=SORT_COLUMNS,
        id_column=col(Notification.id),
        # The planner's statistics are of everyone's notifications: never estimated.
        estimates=False,
        document=document,
        # The search needs the joins; the other filters are on notifications alone.
        counted_from=joined.with_only_columns(col(Notification.id)) if search else None,
    )


def mark_read(session: Session, recipient_id: uuid.UUID, ids: Sequence[uuid.UUID] | None) -> int:
    """Mark these (or, with None, all) of the recipient's unread notifications read; how
    many changed. An id that is not one of the recipient's is a `NotFound` naming every
    such id, and nothing changes."""
    mine = col(Notification.recipient_id) == recipient_id
    conditions: list[ColumnElement[bool]] = [mine, col(Notification.read_at).is_(None)]
    if ids is not None:
        found = set(
            session.execute(
                core_select(col(Notification.id)).where(mine, col(Notification.id).in_(ids))
            ).scalars()
        )
        missing = [identifier for identifier in ids if identifier not in found]
        if missing:
            error = NotFound("Notification", missing[0])
            error.details = [
                {
                    "field": f"ids.{list(ids).index(identifier)}",
                    "in": "body",
                    "message": "no such notification of yours",
                }
                for identifier in missing
            ]
            raise error
        conditions.append(col(Notification.id).in_(ids))
    result = session.execute(update(Notification).where(*conditions).values(read_at=utc_now()))
    changed: int = result.rowcount  # type: ignore[attr-defined]
    return changed
