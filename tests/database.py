"""Test databases: a fresh SQLite file, or the real PostgreSQL named by DATABASE_URL."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from models.db import make_engine

ROOT = Path(__file__).resolve().parent.parent
TABLES = ("comments", "posts", "tokens", "users")  # children first


def backends() -> list[str]:
    """SQLite always; PostgreSQL too when DATABASE_URL points at one (CI sets it)."""
    names = ["sqlite"]
    if os.environ.get("DATABASE_URL", "").startswith("postgresql"):
        names.append("postgresql")
    return names


def postgres_url() -> str:
    return os.environ["DATABASE_URL"]


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


def count_rows(url: str, table: str) -> int:
    engine = make_engine(url)
    with engine.connect() as connection:
        count = connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
    engine.dispose()
    return count
