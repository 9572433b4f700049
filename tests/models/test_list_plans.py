"""Every list query of posts, with each sort key and order, with and without `search`,
from the first page and from a cursor deep in the list, is answered from an index on
PostgreSQL: EXPLAIN on 100,000 posts shows no sequential scan of `posts`.

Runs only when DATABASE_URL names PostgreSQL (CI sets it): SQLite's planner is another
matter, and the migration's trigram indexes exist on PostgreSQL alone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from bench.bulk import SEARCH_TERM, grow_posts
from bench.seed import seed_url
from models import post as posts
from models.counting import CountMode
from models.db import make_engine
from models.listing import PageRequest
from models.ordering import Key
from models.viewer import ANONYMOUS, Viewer

POSTS = 100_000
pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgresql"),
    reason="the plans of PostgreSQL; DATABASE_URL names no PostgreSQL server",
)


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    """A database of this test's own with 100,000 posts, seeded in bulk and analysed."""
    base = make_url(os.environ["DATABASE_URL"])
    name = f"{base.database}_plans_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    server = make_engine(os.environ["DATABASE_URL"]).execution_options(isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    seed_url(url)
    seeded = make_engine(url)
    grow_posts(seeded, POSTS)
    yield seeded
    seeded.dispose()
    with server.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    server.dispose()


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def page_plan(
    engine: Engine, viewer: Viewer, request: PageRequest, **filters: Any
) -> list[dict[str, Any]]:
    """The plan nodes of the statement that reads one page of posts."""
    statements: list[tuple[str, Any]] = []

    def record(_c: Any, _cursor: Any, sql: str, parameters: Any, *_rest: Any) -> None:
        statements.append((sql, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        with Session(engine) as session:
            posts.list_page(session, viewer, request, **filters)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    sql, parameters = next((s, p) for s, p in statements if "JOIN users" in s)
    with engine.connect() as connection:
        plan = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}", parameters).scalar_one()
    return list(_nodes(plan[0]["Plan"]))


def deep_key(engine: Engine, sort_by: str) -> Key:
    """The key of a post three quarters into the list: where a cursor would point."""
    column = posts.SORT_FIELDS[sort_by]
    with engine.connect() as connection:
        row = connection.execute(
            text(f"SELECT {column}, id FROM posts ORDER BY {column}, id LIMIT 1 OFFSET :n"),
            {"n": POSTS * 3 // 4},
        ).one()
    return (row[0], row[1])


@pytest.mark.parametrize("sort_by", sorted(posts.SORT_COLUMNS))
@pytest.mark.parametrize("search", [None, SEARCH_TERM])
def test_every_posts_query_reads_an_index(engine: Engine, sort_by: str, search: str | None):
    with engine.connect() as connection:
        someone = connection.execute(text("SELECT id FROM users LIMIT 1")).scalar_one()
    viewers = {
        "anonymous": ANONYMOUS,
        "user": Viewer(someone, "user"),
        "admin": Viewer(someone, "admin"),
    }
    keys: dict[str, Key | None] = {"first page": None, "deep cursor": deep_key(engine, sort_by)}
    filters: dict[str, dict[str, Any]] = {"all": {}, "author": {"author_id": someone}}
    scanned = []
    for viewer_name, viewer in viewers.items():
        for order in ("asc", "desc"):
            for where, key in keys.items():
                for filter_name, chosen in filters.items():
                    request = PageRequest(
                        sort_by=sort_by,
                        order=order,
                        limit=20,
                        after=key,
                        search=search,
                        counting=CountMode.ESTIMATED,
                        exact_limit=1000,
                    )
                    nodes = page_plan(engine, viewer, request, **chosen)
                    if any(
                        node["Node Type"] == "Seq Scan" and node.get("Relation Name") == "posts"
                        for node in nodes
                    ):
                        scanned.append((viewer_name, order, where, filter_name))
    assert scanned == [], f"sequential scans of posts sorted by {sort_by}, search {search!r}"


def test_the_plans_are_read_from_the_table_this_test_seeded(engine: Engine):
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM posts")).scalar_one() >= POSTS
        estimate = connection.execute(
            text("SELECT reltuples FROM pg_class WHERE relname = 'posts'")
        ).scalar_one()
    assert estimate >= POSTS * 0.9  # analysed: the planner knows the table's size
