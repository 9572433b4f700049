"""The `posts` table, who may see a post, and the queries on it."""

from __future__ import annotations

import uuid
from datetime import datetime
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    Uuid,
    func,
    or_,
)
from sqlalchemy.sql import ColumnElement
from sqlmodel import Field, Session, SQLModel, col, select

from models.comment import Comment
from models.errors import NotFound
from models.listing import PageRequest, read_page
from models.ordering import Page
from models.search import matches
from models.timestamps import to_iso, utc_now
from models.user import User
from models.versions import row_version
from models.viewer import Viewer

STATUSES = ("draft", "published")
PRIVILEGED_ROLES = ("moderator", "admin")


_VERSION = row_version()


class Post(SQLModel, table=True):
    __tablename__ = "posts"
    # Every UPDATE and DELETE checks the version it read (conditional requests).
    __mapper_args__ = {"version_id_col": _VERSION}
    __table_args__ = (
        # Every sort key with the id, alone and behind each equality filter: a page at any
        # depth is one index seek (migration 0006; PostgreSQL adds trigram indexes there).
        *(
            Index(f"ix_posts_{'_'.join(columns)}_id", *columns, "id")
            for prefix in ((), ("status",), ("author_id",))
            for columns in ((*prefix, key) for key in ("created_at", "updated_at", "title"))
        ),
        CheckConstraint("status IN ('draft', 'published')", name="ck_posts_status"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    # No ON DELETE: a user with posts cannot be deleted by accident (see models.user_removal).
    author_id: uuid.UUID = Field(sa_column=Column(Uuid, ForeignKey("users.id"), nullable=False))
    title: str = Field(sa_column=Column(String(200), nullable=False))
    content: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    published_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    version: int = Field(default=1, sa_column=_VERSION)


def comment_count() -> Any:
    """A correlated count, so a page of posts is one query, not one per post."""
    return (
        select(func.count(col(Comment.id)))
        .where(Comment.post_id == Post.id)
        .correlate(Post)
        .scalar_subquery()
        .label("comment_count")
    )


def document(post: Post, author_name: str, comments: int) -> dict[str, Any]:
    """The `Post` schema of the contract."""
    return {
        "id": str(post.id),
        "title": post.title,
        "content": post.content,
        "status": post.status,
        "authorId": str(post.author_id),
        "author": {"id": str(post.author_id), "name": author_name},
        "commentCount": comments,
        "createdAt": to_iso(post.created_at),
        "updatedAt": to_iso(post.updated_at),
        "publishedAt": to_iso(post.published_at) if post.published_at else None,
    }


def visible_to(viewer: Viewer) -> ColumnElement[bool] | None:
    """Drafts are for their author, moderators and admins; None means no restriction."""
    if viewer.role in PRIVILEGED_ROLES:
        return None
    if viewer.id is None:
        return col(Post.status) == "published"
    return or_(col(Post.status) == "published", col(Post.author_id) == viewer.id)


def can_see(post: Post, viewer: Viewer) -> bool:
    return (
        post.status == "published" or viewer.role in PRIVILEGED_ROLES or viewer.is_(post.author_id)
    )


SORT_COLUMNS = {"createdAt": Post.created_at, "updatedAt": Post.updated_at, "title": Post.title}
SORT_FIELDS = {"createdAt": "created_at", "updatedAt": "updated_at", "title": "title"}


def list_page(
    session: Session,
    viewer: Viewer,
    request: PageRequest,
    *,
    status: str | None = None,
    author_id: uuid.UUID | None = None,
) -> Page:
    """One page of visible posts with author names and comment counts, one statement
    whatever the page size (models/listing.py)."""
    conditions: list[ColumnElement[bool]] = []
    visibility = visible_to(viewer)
    if visibility is not None:
        conditions.append(visibility)
    if request.search:
        search = request.search
        conditions.append(or_(matches(col(Post.title), search), matches(col(Post.content), search)))
    if status:
        conditions.append(col(Post.status) == status)
    if author_id:
        conditions.append(col(Post.author_id) == author_id)
    return read_page(
        session,
        request,
        select(Post, User.name, comment_count()).join(User, col(User.id) == Post.author_id),
        conditions,
        sort_columns=SORT_COLUMNS,
        id_column=col(Post.id),
        # The planner's statistics cover drafts: only for those who may see them all.
        estimates=visibility is None,
        document=lambda row: document(*row),
        entity=itemgetter(0),
    )


def get(session: Session, post_id: uuid.UUID) -> Post:
    post = session.get(Post, post_id)
    if post is None:
        raise NotFound("Post", post_id)
    return post


def get_visible(session: Session, post_id: uuid.UUID, viewer: Viewer) -> Post:
    """The post, or a 404 for one the viewer may not see (its existence is not leaked)."""
    post = get(session, post_id)
    if not can_see(post, viewer):
        raise NotFound("Post", post_id)
    return post


def get_visible_comment(session: Session, comment_id: uuid.UUID, viewer: Viewer) -> Comment:
    """The comment, or a 404 when it is on a post the viewer may not see."""
    comment = session.get(Comment, comment_id)
    if comment is None or not can_see(get(session, comment.post_id), viewer):
        raise NotFound("Comment", comment_id)
    return comment


def document_of(session: Session, post: Post) -> dict[str, Any]:
    """One post in the contract's shape, author and count in one statement."""
    name, comments = session.exec(
        select(User.name, comment_count())
        .select_from(Post)
        .join(User, col(User.id) == Post.author_id)
        .where(Post.id == post.id)
    ).one()
    return document(post, name, comments)


WRITABLE = ("title", "content", "status")


def create(session: Session, author_id: uuid.UUID, fields: dict[str, Any]) -> Post:
    now = utc_now()
    post = Post(
        author_id=author_id,
        title=fields["title"],
        content=fields["content"],
        status=fields.get("status", "draft"),
        created_at=now,
        updated_at=now,
    )
    if post.status == "published":
        post.published_at = now
    session.add(post)
    session.flush()
    return post


def update(session: Session, post: Post, fields: dict[str, Any]) -> Post:
    values = {key: value for key, value in fields.items() if key in WRITABLE}
    if not values:
        return post
    now = utc_now()
    if values.get("status", post.status) != post.status:
        post.published_at = now if values["status"] == "published" else None
    for name, value in values.items():
        setattr(post, name, value)
    post.updated_at = now
    session.add(post)
    session.flush()
    return post


def delete(session: Session, post: Post) -> None:
    """The post and its comments, in the caller's transaction."""
    session.execute(sa.delete(Comment).where(col(Comment.post_id) == post.id))
    session.delete(post)
    session.flush()
