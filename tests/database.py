"""Test databases: a fresh SQLite file, or the real PostgreSQL named by DATABASE_URL."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url

from models.db import make_engine

ROOT = Path(__file__).resolve().parent.parent
# Children first.
TABLES = ("idempotency_keys", "notifications", "comments", "posts", "tokens", "users")


def backends() -> list[str]:
    """SQLite always; PostgreSQL too when DATABASE_URL points at one (CI sets it)."""
    names = ["sqlite"]
    if os.environ.get("DATABASE_URL", "").startswith("postgresql"):
        names.append("postgresql")
    return names


def postgres_url() -> str:
    """DATABASE_URL; under pytest-xdist, a database of that server for this worker alone."""
    base = os.environ["DATABASE_URL"]
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return base
    url = make_url(base)
    name = f"{url.database}_{worker}"
    engine = make_engine(base).execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        known = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        )
        if known.first() is None:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def reset_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def migrate(url: str) -> None:
    """The real schema, built by the real migrations."""
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    config.attributes["configure_logging"] = False
    command.upgrade(config, "head")


def empty_tables(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        for table in TABLES:
            connection.execute(text(f"DELETE FROM {table}"))
    engine.dispose()


def run_sql(url: str, statement: str, **params: Any) -> list[Any]:
    """One statement, committed, on its own connection; the rows it returned."""
    engine = make_engine(url)
    with engine.begin() as connection:
        result = connection.execute(text(statement), params)
        rows = list(result) if result.returns_rows else []
    engine.dispose()
    return rows


def add_posts(database_url: str, author_id: str, n: int, status: str) -> None:
    """`n` posts by one author, written by the database itself in one statement (as
    bench/bulk.py writes posts, but beside an app's open connections), then ANALYZE: the
    planner knows them."""
    postgres = database_url.startswith("postgresql")
    if postgres:
        insert = (
            "INSERT INTO posts (id, author_id, title, content, status, created_at, updated_at) "
            "SELECT gen_random_uuid(), CAST(:author AS uuid), 'Bulk ' || n, 'Text.', "
            ":status, now(), now() FROM generate_series(1, :n) AS n"
        )
    else:
        insert = (
            "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < :n) "
            "INSERT INTO posts (id, author_id, title, content, status, created_at, updated_at) "
            "SELECT lower(hex(randomblob(16))), :author, 'Bulk ' || n, 'Text.', :status, "
            "datetime('now') || '.000000', datetime('now') || '.000000' FROM s"
        )
    author = author_id if postgres else uuid.UUID(author_id).hex
    engine = make_engine(database_url)
    with engine.begin() as connection:
        if postgres:
            connection.execute(text("SET LOCAL statement_timeout = 0"))  # bulk, not a request
        connection.execute(text(insert), {"author": author, "status": status, "n": n})
        connection.execute(text("ANALYZE"))
    engine.dispose()


def count_rows(url: str, table: str) -> int:
    return run_sql(url, f"SELECT COUNT(*) FROM {table}")[0][0]


def expire_all_tokens(url: str) -> None:
    run_sql(
        url, "UPDATE tokens SET expires_at = :past", past=datetime.now(UTC) - timedelta(seconds=1)
    )


@dataclass(frozen=True)
class Statement:
    sql: str
    thread: str


@contextmanager
def statements_run(engine: Engine) -> Iterator[list[Statement]]:
    """Every SQL statement `engine` runs meanwhile, and the thread it ran in."""
    statements: list[Statement] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        statements.append(Statement(sql, threading.current_thread().name))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
