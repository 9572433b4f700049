"""The migrations build exactly the schema the models describe, and can be undone."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import models.app_secret
import models.idempotency
import models.notification  # noqa: F401  (imports every other table)
from models.db import make_engine
from tests.database import ROOT, migrate


def test_migrated_schema_matches_the_models(tmp_path):
    url = f"sqlite:///{tmp_path}/m.db"
    migrate(url)
    engine = make_engine(url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    assert diff == []


def test_downgrade_removes_everything(tmp_path):
    url = f"sqlite:///{tmp_path}/d.db"
    migrate(url)
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    config.attributes["configure_logging"] = False
    command.downgrade(config, "base")
    engine = make_engine(url)
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    engine.dispose()
