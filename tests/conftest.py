"""The real app over HTTP (Connexion's test client) on a real database, per backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import connexion
import pytest
from starlette.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.database import backends, empty_tables, migrate, postgres_url, reset_postgres


@pytest.fixture(scope="session", params=backends())
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "postgresql":
        url = postgres_url()
        reset_postgres(url)
    else:
        folder: Path = tmp_path_factory.mktemp("sqlite")
        url = f"sqlite:///{folder / 'test.db'}"
    migrate(url)
    return url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(environment="test", database_url=database_url)


@pytest.fixture(scope="session")
def app(settings: Settings) -> connexion.FlaskApp:
    return create_app(settings)


@pytest.fixture
def client(app: connexion.FlaskApp, database_url: str) -> Iterator[TestClient]:
    """A client on an empty database; what a test writes is gone after it."""
    empty_tables(database_url)
    yield app.test_client()
    empty_tables(database_url)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from tests.contract import stats

    if stats.cases:
        counts = ", ".join(f"{kind}: {n}" for kind, n in sorted(stats.cases.items()))
        terminalreporter.write_line(f"schemathesis cases sent ({counts}), failures fail the run")
