"""An expand step of a rolling release, applied while the current version serves: a
column the running code does not know is added to a busy table (PostgreSQL), and no
request fails; the running code goes on reading and writing the table."""

from __future__ import annotations

import itertools
import json
import time
import uuid

import pytest
from sqlalchemy import text

from models.db import make_engine
from tests.operations.load import Request, load, serving
from tests.operations.test_deployment import sign_up
from tests.settings import FAST_HASHING_ENV

CLIENTS = 8
COLUMN = f"expand_probe_{uuid.uuid4().hex[:8]}"
# The expand rule (docs/operations.md): add, never change or drop; nullable or with a
# constant default; and never wait long for the table's lock, so that a long transaction
# cannot queue every request behind the migration.
EXPAND = [
    "SET lock_timeout = '2s'",
    f"ALTER TABLE posts ADD COLUMN {COLUMN} text NULL",
]


def test_an_added_column_does_not_disturb_the_running_version(database_url, tmp_path):
    if not database_url.startswith("postgresql"):
        pytest.skip("the expand step is tested on PostgreSQL (DATABASE_URL is not one)")
    env = {"DATABASE_URL": database_url, "RATELIMIT_SCALE": "50", **FAST_HASHING_ENV}
    engine = make_engine(database_url)
    with serving(env, tmp_path / "server.log") as (base, _arbiter):
        port = int(base.rsplit(":", 1)[1])
        token = sign_up(port, 0, "expand")
        turn = itertools.count()

        def next_request() -> Request:
            auth = {"Authorization": f"Bearer {token}"}
            if next(turn) % 2:
                return ("GET", "/api/posts?limit=5", None, auth)
            body = json.dumps({"title": f"expand {uuid.uuid4().hex}", "content": "x"}).encode()
            return ("POST", "/api/posts", body, {**auth, "Content-Type": "application/json"})

        try:
            with load(base, CLIENTS, next_request) as tally:
                time.sleep(2)
                before = tally.answered
                with engine.begin() as connection:
                    for statement in EXPAND:
                        connection.execute(text(statement))
                time.sleep(2)
                after = tally.answered
            with engine.connect() as connection:
                written = connection.execute(
                    text(f"SELECT count(*) FROM posts WHERE {COLUMN} IS NULL")
                ).scalar_one()
        finally:
            with engine.begin() as connection:
                connection.execute(text(f"ALTER TABLE posts DROP COLUMN IF EXISTS {COLUMN}"))
    print(f"\nexpand under load: {tally.answered} answered, {len(tally.failures)} failed")
    assert tally.failures == []
    assert after > before, "nothing was answered after the column was added"
    assert written > 0
