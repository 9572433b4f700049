"""Deleting a user without losing or orphaning anything.

A user who still wrote posts or comments is kept (409 naming them) unless the caller
asked for a cascade; then their comments, their posts with every comment on them, their
tokens and the user go in one transaction, or nothing does.
"""

from __future__ import annotations

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from models import user as users
from models.comment import Comment
from models.errors import Conflict
from models.post import Post
from models.user import User


def _count(session: Session, model: type[Post] | type[Comment], user: User) -> int:
    return session.exec(
        select(func.count()).select_from(model).where(col(model.author_id) == user.id)
    ).one()


def remove(session: Session, user: User, *, cascade: bool) -> None:
    posts, comments = _count(session, Post, user), _count(session, Comment, user)
    if (posts or comments) and not cascade:
        raise Conflict(
            f"User '{user.id}' still has {posts} post(s) and {comments} comment(s); "
            "delete those first, or delete with cascade=true (admins only)",
            details=[
                {"field": "posts", "in": "path", "message": f"{posts} post(s) by this user"},
                {
                    "field": "comments",
                    "in": "path",
                    "message": f"{comments} comment(s) by this user",
                },
            ],
        )
    if cascade:
        own_posts = select(Post.id).where(Post.author_id == user.id)
        session.execute(delete(Comment).where(col(Comment.author_id) == user.id))
        session.execute(delete(Comment).where(col(Comment.post_id).in_(own_posts)))
        session.execute(delete(Post).where(col(Post.author_id) == user.id))
    users.delete(session, user)
