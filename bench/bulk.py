"""Posts in bulk for the scale series and the index test: a million in seconds.

Rows are made by the database itself (PostgreSQL's `generate_series`, SQLite's recursive
CTE), never sent one by one or through the API, with the table's indexes dropped during
the insert and built again after it (one sorted build instead of a million insertions),
then ANALYZE so that the planner knows the table's new size.

One post in a hundred has "engine" in its title and content: what `search` looks for.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, text

SEARCH_TERM = "engine"
_TITLE = "'Scale post ' || n || CASE WHEN n % 100 = 0 THEN ' on the engine' ELSE '' END"
_CONTENT = (
    "CASE WHEN n % 100 = 0 THEN 'Notes on the analytical engine, number ' || n "
    "ELSE 'Lorem ipsum dolor sit amet, number ' || n END"
)

_POSTGRES = f"""
INSERT INTO posts (id, author_id, title, content, status, created_at, updated_at, published_at)
SELECT gen_random_uuid(), a.id, {_TITLE}, {_CONTENT}, 'published',
       TIMESTAMPTZ '2026-02-01 00:00:00+00' + n * INTERVAL '1 second',
       TIMESTAMPTZ '2026-02-01 00:00:00+00' + ((n::bigint * 7919) % 5000000) * INTERVAL '1 second',
       TIMESTAMPTZ '2026-02-01 00:00:00+00' + n * INTERVAL '1 second'
FROM generate_series(:start, :stop - 1) AS n
JOIN scale_authors AS a ON a.k = n % :authors
"""

_SQLITE = f"""
WITH RECURSIVE s(n) AS (SELECT :start UNION ALL SELECT n + 1 FROM s WHERE n < :stop - 1)
INSERT INTO posts (id, author_id, title, content, status, created_at, updated_at, published_at)
SELECT lower(hex(randomblob(16))), a.id, {_TITLE}, {_CONTENT}, 'published',
       datetime('2026-02-01', '+' || n || ' seconds') || '.000000',
       datetime('2026-02-01', '+' || ((n * 7919) % 5000000) || ' seconds') || '.000000',
       datetime('2026-02-01', '+' || n || ' seconds') || '.000000'
FROM s JOIN scale_authors AS a ON a.k = n % :authors
"""


def _indexes(connection: Connection) -> list[tuple[str, str]]:
    """(name, CREATE statement) of every index of `posts` but its primary key."""
    if connection.dialect.name == "postgresql":
        rows = connection.execute(
            text(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i "
                "JOIN pg_class c ON c.relname = i.indexname "
                "JOIN pg_index x ON x.indexrelid = c.oid "
                "WHERE i.tablename = 'posts' AND NOT x.indisprimary"
            )
        )
    else:
        rows = connection.execute(
            text(
                "SELECT name, sql FROM sqlite_master "
                "WHERE type = 'index' AND tbl_name = 'posts' AND sql IS NOT NULL"
            )
        )
    return [(row[0], row[1]) for row in rows]


def grow_posts(engine: Engine, total: int) -> int:
    """Add published posts until `posts` holds `total`; return how many it holds."""
    postgres = engine.dialect.name == "postgresql"
    if not postgres:
        # Bench data: no journal, no fsync while loading (a crash means seeding again),
        # a cache that holds an index while it is built.
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA journal_mode = OFF")
    with engine.begin() as connection:
        have = int(connection.execute(text("SELECT count(*) FROM posts")).scalar_one())
        if have >= total:
            return have
        if postgres:
            connection.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
            connection.execute(text("SET LOCAL statement_timeout = 0"))
            connection.execute(text("DROP TABLE IF EXISTS scale_authors"))
            connection.execute(
                text(
                    "CREATE TEMP TABLE scale_authors ON COMMIT DROP AS "
                    "SELECT (row_number() OVER (ORDER BY id)) - 1 AS k, id FROM users"
                )
            )
            connection.execute(text("CREATE INDEX ON scale_authors (k)"))
        else:
            connection.execute(text("PRAGMA synchronous = OFF"))
            connection.execute(text("PRAGMA cache_size = -262144"))
            connection.execute(text("DROP TABLE IF EXISTS temp.scale_authors"))
            connection.execute(
                text("CREATE TEMP TABLE scale_authors (k INTEGER PRIMARY KEY, id CHAR(32))")
            )
            connection.execute(
                text(
                    "INSERT INTO scale_authors "
                    "SELECT (row_number() OVER (ORDER BY id)) - 1, id FROM users"
                )
            )
        authors = int(connection.execute(text("SELECT count(*) FROM scale_authors")).scalar_one())
        indexes = _indexes(connection)
        for name, _ in indexes:
            connection.execute(text(f"DROP INDEX {name}"))
        params: dict[str, Any] = {"start": have, "stop": total, "authors": authors}
        connection.execute(text(_POSTGRES if postgres else _SQLITE), params)
        for _, create in indexes:
            connection.execute(text(create))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if postgres:
            connection.execute(text("SET statement_timeout = 0"))
            connection.execute(text("VACUUM ANALYZE posts"))
        else:
            connection.exec_driver_sql("ANALYZE")
            connection.exec_driver_sql("PRAGMA journal_mode = WAL")
    return total
