"""Alembic environment: the URL comes from the service's settings, the schema from models."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlmodel import SQLModel

import models.app_secret
import models.idempotency
import models.notification
import models.post
import models.token  # noqa: F401
from models.db import DatabaseLimits, make_engine
from service.settings import Settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata


MIGRATION_TIMEOUT = 3600.0  # seconds per statement


def database_url() -> str:
    return config.attributes.get("database_url") or Settings.from_env().database_url


def include_object(
    item: object,
    name: str | None,
    type_: str,
    reflected: bool,  # noqa: FBT001 (Alembic passes it by position)
    compare_to: object,
) -> bool:
    """Autogenerate leaves PostgreSQL's trigram indexes alone: they live in migration
    0006 only, as SQLAlchemy's models cannot declare them for SQLite too."""
    del item, reflected, compare_to
    return not (type_ == "index" and (name or "").endswith("_trgm"))


def run_migrations_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    # A migration may rewrite a large table: no statement timeout of a request's size.
    engine = make_engine(database_url(), DatabaseLimits(statement_timeout=MIGRATION_TIMEOUT))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
