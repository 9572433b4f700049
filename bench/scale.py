"""`make bench SCALE=1`: `GET /api/posts` at 1,000, 100,000 and 1,000,000 posts.

For each database (SQLite; PostgreSQL with BENCH_POSTGRES_URL or a PostgreSQL
DATABASE_URL), the posts are added in bulk (bench/bulk.py), then the service (gunicorn,
one uvicorn worker, every layer on, anonymous requests) answers one request at a time
for the first, a middle and the last page, with each `sortBy` and with `search`, three
ways:

- `page+exact`: `page=N` and `Prefer: count=exact`, what every list did before cursors:
  OFFSET and an exact COUNT;
- `page`: `page=N` with today's default count (exact up to COUNT_EXACT_LIMIT, else an
  estimate): OFFSET alone;
- `cursor`: the cursor of that page (made here with the server's key, as a client
  walking the list would have been handed it) and the default count.

Each case runs `BENCH_SCALE_REQUESTS` (30) times after 3 warm-ups, or for
`BENCH_SCALE_SECONDS` (4 s) when it is slower, at least 5 times; p50 and p99 in ms
(p99 of few samples is their maximum). Results also go to bench/results/scale.json, with
the date, the machine, its load and the command (rendered by `make perf-doc`).

`BENCH_SCALE_SIZES` (1000,100000,1000000), `BENCH_SCALE_DATABASES` (sqlite,postgresql)
and `BENCH_SCALE_MODES` (page+exact,page,cursor) choose what runs; `BENCH_SCALE_KEEP=1`
keeps the PostgreSQL database for the next run.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from bench.bulk import SEARCH_TERM, grow_posts
from bench.meta import run_metadata
from bench.seed import seed_url
from models import post as posts
from models.db import make_engine
from models.ordering import key_of
from service.app_secret import AppKeys
from service.http.pagination import encode_cursor
from tests.servers import free_port, gunicorn_command, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
SIZES = [int(n) for n in os.environ.get("BENCH_SCALE_SIZES", "1000,100000,1000000").split(",")]
REQUESTS = int(os.environ.get("BENCH_SCALE_REQUESTS", "30"))
SECONDS = float(os.environ.get("BENCH_SCALE_SECONDS", "4"))
LIMIT = 20
SECRET = "bench-scale-secret-of-at-least-32-chars"
# Keep the PostgreSQL database between runs (and reuse it): seeding a million rows again
# costs minutes on a busy machine.
KEEP = os.environ.get("BENCH_SCALE_KEEP", "") not in ("", "0")
ONLY = set(filter(None, os.environ.get("BENCH_SCALE_DATABASES", "").split(",")))
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL") or (
    os.environ.get("DATABASE_URL", "")
    if os.environ.get("DATABASE_URL", "").startswith("postgresql")
    else ""
)
MODES = tuple(
    mode
    for mode in ("page+exact", "page", "cursor")
    if mode in os.environ.get("BENCH_SCALE_MODES", "page+exact,page,cursor").split(",")
)
SERVER_ENV = {
    "APP_ENV": "production",
    "RATELIMIT_SCALE": "1000000",
    "APP_SECRET": SECRET,
    "DATABASE_STATEMENT_TIMEOUT": "60",
    "DATABASE_REQUEST_TIMEOUT": "60",
    "SEARCH_TIMEOUT": "60",
}


def cases() -> list[tuple[str, str | None]]:
    """(sortBy, search) of every case."""
    return [(sort, None) for sort in ("createdAt", "updatedAt", "title")] + [
        ("createdAt", SEARCH_TERM)
    ]


def matching(engine: Engine, search: str | None) -> int:
    with engine.connect() as connection:
        if search is None:
            return int(connection.execute(text("SELECT count(*) FROM posts")).scalar_one())
        pattern = f"%{search}%"
        return int(
            connection.execute(
                text("SELECT count(*) FROM posts WHERE title LIKE :p OR content LIKE :p"),
                {"p": pattern},
            ).scalar_one()
        )


def cursor_for(engine: Engine, sort_by: str, search: str | None, page: int) -> str | None:
    """The cursor that a client walking the list would hold for page `page` (desc)."""
    if page == 1:
        return None
    column = posts.SORT_FIELDS[sort_by]
    where = "WHERE title LIKE :p OR content LIKE :p" if search else ""
    with engine.connect() as connection:
        row = connection.execute(
            text(
                f"SELECT {column}, id FROM posts {where} "
                f"ORDER BY {column} DESC, id DESC LIMIT 1 OFFSET :n"
            ),
            {"n": (page - 1) * LIMIT - 1, "p": f"%{search}%"},
        ).one()
    value, ident = row
    if isinstance(ident, str):  # SQLite, through text(): the stored text
        ident = uuid.UUID(hex=ident)
    query = {"search": search, "status": None, "sortBy": sort_by, "order": "desc", "authorId": None}
    key = AppKeys.derive(SECRET.encode()).cursor
    if isinstance(value, str) and column != "title":
        value = datetime.fromisoformat(value)
    return encode_cursor(key_of(value, ident), page, "/api/posts", query, key)


def timed(port: int, path: str, headers: dict[str, str]) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    samples: list[float] = []
    started = time.monotonic()
    for n in range(REQUESTS + 3):
        begin = time.perf_counter()
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - begin) * 1000
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status} {body[:300]!r}")
        if n >= 3:
            samples.append(elapsed)
        if len(samples) >= 5 and time.monotonic() - started > SECONDS:
            break
    connection.close()
    return samples


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def measure(url: str, engine: Engine, size: int) -> list[dict[str, Any]]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, **SERVER_ENV}
    command = gunicorn_command("service.app:create_app()", "service.worker.Worker", 1, port)
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    rows = []
    try:
        wait_until_up(f"http://127.0.0.1:{port}/api/health", server)
        for sort_by, search in cases():
            pages = max(math.ceil(matching(engine, search) / LIMIT), 1)
            for position, page in (("first", 1), ("middle", (pages + 1) // 2), ("last", pages)):
                base = f"/api/posts?sortBy={sort_by}&order=desc&limit={LIMIT}"
                if search:
                    base += f"&search={search}"
                row: dict[str, Any] = {
                    "rows": size,
                    "sortBy": sort_by,
                    "search": search,
                    "position": position,
                    "page": page,
                }
                for mode in MODES:
                    headers = {"Prefer": "count=exact"} if mode == "page+exact" else {}
                    if mode == "cursor":
                        cursor = cursor_for(engine, sort_by, search, page)
                        path = base + (f"&cursor={cursor}" if cursor else "")
                    else:
                        path = f"{base}&page={page}"
                    samples = timed(port, path, headers)
                    row[mode] = {
                        "p50": statistics.median(samples),
                        "p99": percentile(samples, 0.99),
                        "n": len(samples),
                    }
                rows.append(row)
                print(render_row(row), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return rows


def render_row(row: dict[str, Any]) -> str:
    what = f"{row['rows']:>8} {row['sortBy']:<9} {row['search'] or '-':<7} {row['position']:<6}"
    cells = " | ".join(f"{row[m]['p50']:7.1f} {row[m]['p99']:7.1f}" for m in MODES)
    return f"{what} | {cells}"


HEADER = (
    f"{'posts':>8} {'sortBy':<9} {'search':<7} {'page':<6} | "
    + " | ".join(f"{m:>15}" for m in MODES)
    + "\n"
    + " " * 34
    + " | ".join(f"{'p50':>7} {'p99':>7}" for _ in MODES)
)


def run_database(name: str, url: str) -> list[dict[str, Any]]:
    print(f"\n== database: {name} ==\n{HEADER}", flush=True)
    started = time.monotonic()
    engine = make_engine(url)
    with engine.connect() as connection:
        seeded = "posts" in connection.dialect.get_table_names(connection)
    if not seeded:
        seed_url(url)
    results = []
    try:
        for size in SIZES:
            began = time.monotonic()
            grow_posts(engine, size)
            print(f"(seeded {size} posts in {time.monotonic() - began:.1f} s)", flush=True)
            results += measure(url, engine, size)
    finally:
        engine.dispose()
    print(f"({name}: {time.monotonic() - started:.0f} s)")
    return [{"database": name, **row} for row in results]


def main() -> int:
    print(
        f"GET /api/posts, limit {LIMIT}, one request at a time, 1 worker; "
        f"p50 p99 ms; {sys.version.split()[0]}"
    )
    meta = run_metadata("bench SCALE=1", "bench.scale")
    results: list[dict[str, Any]] = []
    if not ONLY or "sqlite" in ONLY:
        with tempfile.TemporaryDirectory() as folder:
            results += run_database("sqlite", f"sqlite:///{folder}/scale.db")
    if POSTGRES_URL and (not ONLY or "postgresql" in ONLY):
        base = make_url(POSTGRES_URL)
        name = f"{base.database}_bench_scale"
        server = make_engine(POSTGRES_URL).execution_options(isolation_level="AUTOCOMMIT")
        with server.connect() as connection:
            if not KEEP:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            found = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
            if found is None:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = base.set(database=name).render_as_string(hide_password=False)
            results += run_database("postgresql", url)
        finally:
            if not KEEP:
                with server.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            server.dispose()
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    document = {"kind": "scale", "meta": meta, "limit": LIMIT, "rows": results}
    (out / "scale.json").write_text(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
