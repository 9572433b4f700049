"""the app's secret

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

One row holding 32 random bytes, made here, once per database: the secret that signs list
cursors and keys entity tags (service/app_secret.py) when `APP_SECRET` is not set. Every
worker and instance on the database reads the same one; before, the cursors' key was
derived from the database URL, which anyone could guess.

A SQL script (`alembic upgrade --sql`) creates the table only: a secret written into a
script would be kept and passed around with it. The service then makes the row at its
first request that needs it (insert-if-absent, models/app_secret.py).
"""

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SECRET_BYTES = 32


def upgrade() -> None:
    table = op.create_table(
        "app_secret",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    if op.get_context().as_sql:
        return
    op.bulk_insert(
        table,
        [{"id": 1, "secret": secrets.token_bytes(SECRET_BYTES), "created_at": datetime.now(UTC)}],
    )


def downgrade() -> None:
    op.drop_table("app_secret")
