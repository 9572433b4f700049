"""The benchmark's comparison systems do the service's work for its requests, or the
comparison means nothing: the same bodies, the same refusals in the same envelope, the
same limits; and stock Connexion really is stock (none of the service's speed changes).

Each app is served over HTTP (Starlette's test client) on a copy of the benchmark's own
seeded SQLite database.
"""

from __future__ import annotations

import importlib
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from a2wsgi import WSGIMiddleware
from connexion.apps.flask import FlaskOperation
from starlette.testclient import TestClient

from bench.seed import issue_token, seed
from service.app import create_app
from service.settings import Settings

ORIGIN = "http://bench.example.com"
INVALID = {"name": "x", "email": "not-an-email"}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], str]:
    path = tmp_path_factory.mktemp("bench") / "seed.db"
    user_ids = seed(path)
    return path, user_ids, issue_token(f"sqlite:///{path}")


AppFactory = Callable[[], Any]


@pytest.fixture
def apps(
    seeded: tuple[Path, list[str], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[int], dict[str, TestClient]]:
    """The service, stock Connexion and the FastAPI equivalent, each on its own copy of
    the seeded database, with the benchmark's settings and limits scaled by `scale`."""

    def build(scale: int) -> dict[str, TestClient]:
        clients = {}
        for name in ("service", "connexion", "fastapi-full"):
            database = tmp_path / f"{name}.db"
            shutil.copy(seeded[0], database)
            monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")
            monkeypatch.setenv("APP_ENV", "production")
            monkeypatch.setenv("CORS_ORIGINS", ORIGIN)
            # One key for every copy of the data, so that their cursors are the same.
            monkeypatch.setenv("APP_SECRET", "bench-secret-of-at-least-32-characters")
            monkeypatch.setenv("RATELIMIT_SCALE", str(scale))
            monkeypatch.setenv("PASSWORD_HASH_TIME_COST", "1")
            monkeypatch.setenv("PASSWORD_HASH_MEMORY_KIB", "1024")
            clients[name] = TestClient(FACTORIES[name](), raise_server_exceptions=False)
        return clients

    return build


def fastapi_full() -> Any:
    """The FastAPI app reads its settings at import, as such apps do: import it afresh."""
    sys.modules.pop("bench.baselines.fastapi_work", None)
    return importlib.import_module("bench.baselines.fastapi_work").app


def stock_connexion() -> Any:
    return importlib.import_module("bench.baselines.connexion_stock").create_app()


FACTORIES: dict[str, AppFactory] = {
    "service": lambda: create_app(Settings.from_env()),
    "connexion": stock_connexion,
    "fastapi-full": fastapi_full,
}


@pytest.fixture
def clients(apps: Callable[[int], dict[str, TestClient]]) -> Iterator[dict[str, TestClient]]:
    built = apps(1_000_000)
    yield built
    for client in built.values():
        client.close()


def test_same_bodies_for_the_benchmark_reads(
    clients: dict[str, TestClient], seeded: tuple[Path, list[str], str]
) -> None:
    _, user_ids, token = seeded
    headers = {"Authorization": f"Bearer {token}", "Origin": ORIGIN}
    for path in ("/api/users?page=1&limit=20", f"/api/users/{user_ids[500]}"):
        answers = {name: client.get(path, headers=headers) for name, client in clients.items()}
        assert {name: a.status_code for name, a in answers.items()} == dict.fromkeys(answers, 200)
        assert len({a.content for a in answers.values()}) == 1, path
        for answer in answers.values():
            assert answer.headers["access-control-allow-origin"] == ORIGIN
            assert int(answer.headers["x-ratelimit-remaining"]) > 0


def test_same_refusals_in_the_same_envelope(
    clients: dict[str, TestClient], seeded: tuple[Path, list[str], str]
) -> None:
    _, _, token = seeded
    bearer = {"Authorization": f"Bearer {token}"}
    cases = [
        ("post", "/api/users", {"json": INVALID, "headers": bearer}, 400, "VALIDATION_ERROR"),
        ("get", "/api/users?limit=101", {"headers": bearer}, 400, "VALIDATION_ERROR"),
        ("get", "/api/users/not-a-uuid", {"headers": bearer}, 400, "VALIDATION_ERROR"),
        ("get", "/api/users", {}, 401, "UNAUTHORIZED"),
        ("get", "/api/users", {"headers": {"Authorization": "Bearer nope"}}, 401, "UNAUTHORIZED"),
    ]
    for name, client in clients.items():
        for method, path, options, status, code in cases:
            answer = getattr(client, method)(path, **options)
            assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), (
                name,
                method,
                path,
            )
        fields = {
            d["field"] for d in client.post("/api/users", json=INVALID).json()["error"]["details"]
        }
        assert {"name", "email", "password"} <= fields, name


def test_sign_up_is_limited_per_address_in_every_system(
    apps: Callable[[int], dict[str, TestClient]],
) -> None:
    """`create_user` is declared `10/minute` per address: the 11th is a 429 everywhere."""
    for name, client in apps(1).items():
        for n in range(10):
            body = {
                "name": f"Signer {n}",
                "email": f"signer{n}@example.com",
                "password": "pass word",
            }
            assert client.post("/api/users", json=body).status_code == 201, (name, n)
        refused = client.post(
            "/api/users",
            json={"name": "One more", "email": "x@example.com", "password": "12345678"},
        )
        assert refused.status_code == 429, name
        assert refused.json()["error"]["code"] == "RATE_LIMITED"
        assert int(refused.headers["retry-after"]) >= 1
        client.close()


def bridge_of(app: Any) -> Any:
    """What hands Connexion's requests to Flask (what flask_bridge.py replaces)."""
    return app._middleware_app.asgi_app  # noqa: SLF001 (the bridge is internal)


def test_stock_connexion_keeps_none_of_the_speed_changes(
    clients: dict[str, TestClient],
) -> None:
    stock, service = clients["connexion"].app, clients["service"].app
    clients["connexion"].get("/api/health")  # Connexion builds its stack on first use
    clients["service"].get("/api/health")
    assert isinstance(bridge_of(stock), WSGIMiddleware)
    assert not isinstance(bridge_of(service), WSGIMiddleware)
    views = stock.app.view_functions.values()
    assert any(isinstance(view, FlaskOperation) for view in views)
    assert not any(isinstance(view, FlaskOperation) for view in service.app.view_functions.values())
    assert "limiter" in stock.app.extensions  # Flask-Limiter, not the service's counting
    assert "limiter" not in service.app.extensions
