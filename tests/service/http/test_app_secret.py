"""The app's secret (service/app_secret.py): where it comes from and what is made of it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from service.app import runtime_of
from service.app_secret import AppKeys
from tests.builders import account, create_post
from tests.database import run_sql, statements_run


def test_each_purpose_has_its_own_key():
    keys = AppKeys.derive(b"s" * 32)
    assert len({keys.cursor, keys.etag, b"s" * 32}) == 3
    assert AppKeys.derive(b"s" * 32) == keys
    assert AppKeys.derive(b"t" * 32) != keys


def test_the_kept_secret_is_read_once_per_app(app_with):
    api = app_with()
    runtime = runtime_of(api.app)
    author = account(api)
    post = create_post(api, author, status="published")
    with statements_run(runtime.database.engine) as statements:
        for _ in range(3):
            assert api.get(f"/api/posts/{post['id']}").status_code == 200
    assert not [s for s in statements if "app_secret" in s.sql]


@pytest.fixture
def secret_gone(database_url: str) -> Iterator[None]:
    """The kept row deleted (a SQL script's migration makes none), then put back as it
    was: the session's app holds its keys already."""
    kept = run_sql(database_url, "SELECT id, secret, created_at FROM app_secret")
    run_sql(database_url, "DELETE FROM app_secret")
    yield
    run_sql(database_url, "DELETE FROM app_secret")
    for ident, secret, created_at in kept:
        run_sql(
            database_url,
            "INSERT INTO app_secret (id, secret, created_at) VALUES (:i, :s, :c)",
            i=ident,
            s=secret,
            c=created_at,
        )


@pytest.mark.usefixtures("secret_gone")
def test_a_missing_secret_is_made_once_and_shared(app_with, database_url):
    """With no row, the first app to need the secret makes it, even when what needs it
    is a create on SQLite (whose write lock the create holds); the next app reads it."""
    first, second = app_with(), app_with()
    author = account(first)  # a create: its ETag needs the tag key
    rows = run_sql(database_url, "SELECT secret FROM app_secret")
    assert len(rows) == 1 and len(bytes(rows[0][0])) == 32
    post = create_post(first, author, status="published")
    url = f"/api/posts/{post['id']}"
    assert first.get(url).headers["ETag"] == second.get(url).headers["ETag"]
    assert run_sql(database_url, "SELECT secret FROM app_secret") == rows
