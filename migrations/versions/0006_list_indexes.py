"""list indexes: every sort key with the id, and trigram search on PostgreSQL

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26

Each list is ordered by a sort key and then the id, and a cursor asks for the rows after
`(key, id)`: an index on exactly `(key, id)`, behind the list's equality filter (status,
author, post), answers both with one seek, at any depth. They replace the indexes on the
sort key alone.

`search` is a case-insensitive substring (`ILIKE '%term%'`). A B-tree cannot serve it and
full-text search would change its meaning (words and stems, not substrings), so on
PostgreSQL it is served by pg_trgm's GIN trigram indexes, which answer ILIKE as it is.
SQLite has no such index: search there scans (docs/api.md, "Lists at scale").
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (name, table, columns) of the B-tree indexes this revision adds, and those it replaces.
ADDED = [
    ("ix_posts_created_at_id", "posts", ["created_at", "id"]),
    ("ix_posts_updated_at_id", "posts", ["updated_at", "id"]),
    ("ix_posts_title_id", "posts", ["title", "id"]),
    ("ix_posts_status_created_at_id", "posts", ["status", "created_at", "id"]),
    ("ix_posts_status_updated_at_id", "posts", ["status", "updated_at", "id"]),
    ("ix_posts_status_title_id", "posts", ["status", "title", "id"]),
    ("ix_posts_author_id_created_at_id", "posts", ["author_id", "created_at", "id"]),
    ("ix_posts_author_id_updated_at_id", "posts", ["author_id", "updated_at", "id"]),
    ("ix_posts_author_id_title_id", "posts", ["author_id", "title", "id"]),
    ("ix_users_name_id", "users", ["name", "id"]),
    ("ix_users_created_at_id", "users", ["created_at", "id"]),
    ("ix_comments_post_id_created_at_id", "comments", ["post_id", "created_at", "id"]),
    ("ix_comments_post_id_updated_at_id", "comments", ["post_id", "updated_at", "id"]),
]
REPLACED = [
    ("ix_posts_created_at", "posts", ["created_at"]),
    ("ix_posts_updated_at", "posts", ["updated_at"]),
    ("ix_posts_title", "posts", ["title"]),
    ("ix_posts_status_created_at", "posts", ["status", "created_at"]),
    ("ix_posts_author_id_created_at", "posts", ["author_id", "created_at"]),
    ("ix_users_name", "users", ["name"]),
    ("ix_users_created_at", "users", ["created_at"]),
    ("ix_comments_post_id_created_at", "comments", ["post_id", "created_at"]),
]
# PostgreSQL only (pg_trgm): the columns `search` looks in.
TRIGRAM = [
    ("ix_posts_title_trgm", "posts", "title"),
    ("ix_posts_content_trgm", "posts", "content"),
    ("ix_users_name_trgm", "users", "name"),
    ("ix_users_email_trgm", "users", "email"),
    ("ix_comments_body_trgm", "comments", "body"),
]


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    for name, table, columns in ADDED:
        op.create_index(name, table, columns)
    for name, table, _ in REPLACED:
        op.drop_index(name, table_name=table)
    if _postgresql():
        # Trusted since PostgreSQL 13: a database owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, table, column in TRIGRAM:
            op.execute(f"CREATE INDEX {name} ON {table} USING gin ({column} gin_trgm_ops)")


def downgrade() -> None:
    if _postgresql():
        for name, _, _ in TRIGRAM:
            op.execute(f"DROP INDEX IF EXISTS {name}")
    for name, table, columns in REPLACED:
        op.create_index(name, table, columns)
    for name, table, _ in ADDED:
        op.drop_index(name, table_name=table)
