"""The real app over HTTP (Connexion's test client) on a real database, per backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import connexion
import httpx
import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from models.db import make_engine
from service.app import create_app, runtime_of
from service.contract import Contract
from service.settings import Settings
from tests.builders import PASSWORD, Account, log_in, make_admin
from tests.database import backends, empty_tables, migrate, postgres_url, reset_postgres
from tests.settings import settings_for

Recorder = Callable[[TestClient], TestClient]


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
    return settings_for(database_url)


@pytest.fixture(scope="session")
def app(settings: Settings) -> connexion.FlaskApp:
    return create_app(settings)


def _secrets_in_database(url: str) -> list[str]:
    engine = make_engine(url)
    with engine.connect() as connection:
        found = [row[0] for row in connection.execute(text("SELECT token_hash FROM tokens"))]
        found += [
            row[0] for row in connection.execute(text("SELECT password_hash FROM users")) if row[0]
        ]
    engine.dispose()
    return found


@pytest.fixture
def clean_database(database_url: str) -> Iterator[None]:
    """Empty tables before the test, and nothing it wrote left after it."""
    empty_tables(database_url)
    yield
    empty_tables(database_url)


@pytest.fixture
def leak_check(database_url: str, caplog: pytest.LogCaptureFixture) -> Iterator[Recorder]:
    """Every response body of every client of the test and every log line are checked,
    at the end, for password hashes, token hashes and the test password: none may ever
    leave the service."""
    bodies: list[str] = []

    def record(test_client: TestClient) -> TestClient:
        def keep_body(response: httpx.Response) -> None:
            response.read()
            bodies.append(response.text)

        test_client.event_hooks["response"].append(keep_body)
        return test_client

    yield record
    seen = "\n".join(bodies) + caplog.text
    for secret in [*_secrets_in_database(database_url), PASSWORD, "$argon2"]:
        assert secret not in seen, "a secret left the service"


@pytest.fixture
def client(
    app: connexion.FlaskApp,
    clean_database: None,  # noqa: ARG001 (set up and torn down around the test)
    leak_check: Recorder,
) -> TestClient:
    """A client of the session's app on an empty database, its bodies checked for leaks."""
    return leak_check(app.test_client())


@pytest.fixture
def app_with(
    settings: Settings,
    clean_database: None,  # noqa: ARG001 (set up and torn down around the test)
    leak_check: Recorder,
) -> Iterator[Callable[..., TestClient]]:
    """Clients of further apps with some settings changed (and maybe another contract),
    on the same empty database, their bodies checked for leaks too."""
    made: list[connexion.FlaskApp] = []

    def make(
        contract: Contract | None = None, *, raise_server_exceptions: bool = True, **overrides: Any
    ) -> TestClient:
        app = create_app(replace(settings, **overrides), contract)
        made.append(app)
        return leak_check(app.test_client(raise_server_exceptions=raise_server_exceptions))

    yield make
    for app in made:
        runtime_of(app).database.dispose()
        runtime_of(app).dashboard.upstreams.close()


@pytest.fixture
def admin(app: connexion.FlaskApp, client: TestClient) -> Account:
    """An admin made the way an operator would (`make admin`), logged in over HTTP."""
    make_admin(app, "root@example.com", PASSWORD, "Root Admin")
    token = log_in(client, "root@example.com")
    me = client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()["data"]
    return Account(me, token)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from tests.contract import stats

    if stats.cases:
        counts = ", ".join(f"{kind}: {n}" for kind, n in sorted(stats.cases.items()))
        terminalreporter.write_line(f"schemathesis cases sent ({counts}), failures fail the run")
    for note in stats.notes:
        terminalreporter.write_line(note)
