"""What a user wrote, counted in one statement whatever the number of posts."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, and_, func
from sqlalchemy import select as core_select
from sqlalchemy.sql import ColumnElement
from sqlmodel import col

from models.comment import Comment
from models.errors import NotFound
from models.post import PRIVILEGED_ROLES, Post
from models.user import User
from models.viewer import Viewer


def sees_drafts(viewer: Viewer, user_id: uuid.UUID) -> bool:
    """Drafts count for the user themself, moderators and admins."""
    return viewer.role in PRIVILEGED_ROLES or viewer.is_(user_id)


def user_stats(connection: Connection, user_id: uuid.UUID, viewer: Viewer) -> dict[str, Any]:
    """The contract's `UserStats` as `viewer` may see them: one statement of four
    counts (published posts, drafts, comments written, comments received) on the
    user's row, never a row per post; no such user is a 404. For a viewer who may not
    see drafts, only published posts, and the comments on them, count."""
    drafts_too = sees_drafts(viewer, user_id)
    published = col(Post.status) == "published"

    def on_visible_posts(condition: ColumnElement[bool]) -> ColumnElement[bool]:
        return condition if drafts_too else and_(condition, published)

    def posts(status: str) -> ColumnElement[int]:
        return (
            core_select(func.count())
            .select_from(Post)
            .where(col(Post.author_id) == user_id, col(Post.status) == status)
            .scalar_subquery()
        )

    def comments(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return (
            core_select(func.count())
            .select_from(Comment)
            .join(Post, col(Post.id) == Comment.post_id)
            .where(on_visible_posts(condition))
            .scalar_subquery()
        )

    query = (
        core_select(
            posts("published"),
            posts("draft"),
            comments(col(Comment.author_id) == user_id),
            comments(col(Post.author_id) == user_id),
        )
        .select_from(User)
        .where(col(User.id) == user_id)
    )
    row = connection.execute(query).first()
    if row is None:
        raise NotFound("User", user_id)
    published_count, drafts, written_count, received_count = row
    stats: dict[str, Any] = {
        "userId": str(user_id),
        "posts": published_count + drafts if drafts_too else published_count,
        "published": published_count,
        "commentsWritten": written_count,
        "commentsReceived": received_count,
    }
    if drafts_too:
        stats["drafts"] = drafts
    return stats
