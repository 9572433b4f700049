"""A benchmark database: the real schema (Alembic) with 1,000 users, 200 posts and
1,000 comments, written in bulk. Every user's password is `bench password`."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import insert
from sqlmodel import Session

from bench.baselines.common import HASHER
from models.comment import Comment
from models.db import make_engine
from models.post import Post
from models.token import issue
from models.user import User

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench password"
USERS, POSTS, COMMENTS = 1000, 200, 1000
TOKEN_TTL_SECONDS = 7 * 24 * 3600


def seed(path: Path) -> list[str]:
    """Create the SQLite database at `path`; return the user ids."""
    return seed_url(f"sqlite:///{path}")


def seed_url(url: str) -> list[str]:
    """Migrate the (empty) database at `url` and fill it; return the user ids."""
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    config.attributes["configure_logging"] = False
    command.upgrade(config, "head")
    rng = random.Random(1)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    password_hash = HASHER.hash(PASSWORD)
    users = [
        {
            "id": uuid.UUID(int=rng.getrandbits(128), version=4),
            "name": f"Bench User {n:04d}",
            "email": f"bench{n:04d}@example.com",
            "role": "admin" if n == 0 else "user",
            "password_hash": password_hash,
            "created_at": start + timedelta(minutes=n),
            "updated_at": start + timedelta(minutes=n),
        }
        for n in range(USERS)
    ]
    posts = [
        {
            "id": uuid.UUID(int=rng.getrandbits(128), version=4),
            "author_id": users[n % USERS]["id"],
            "title": f"Bench post {n}",
            "content": "Lorem ipsum " * 20,
            "status": "published",
            "created_at": start + timedelta(hours=n),
            "updated_at": start + timedelta(hours=n),
            "published_at": start + timedelta(hours=n),
        }
        for n in range(POSTS)
    ]
    comments = [
        {
            "id": uuid.UUID(int=rng.getrandbits(128), version=4),
            "post_id": posts[n % POSTS]["id"],
            "author_id": users[(n * 7) % USERS]["id"],
            "body": f"Comment {n}",
            "created_at": start + timedelta(hours=n),
            "updated_at": start + timedelta(hours=n),
        }
        for n in range(COMMENTS)
    ]
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(insert(User), users)
        connection.execute(insert(Post), posts)
        connection.execute(insert(Comment), comments)
    engine.dispose()
    return [str(user["id"]) for user in users]


def issue_token(url: str, email: str = "bench0000@example.com") -> str:
    """A bearer token of the user with `email` (the admin by default), written straight
    to the database: every system that authenticates gets the same one."""
    engine = make_engine(url)
    with Session(engine) as session:
        user = session.query(User).filter_by(email=email).one()
        plain, _ = issue(session, user, TOKEN_TTL_SECONDS)
        session.commit()
    engine.dispose()
    return plain
