"""What a search costs that no index can serve: `GET /api/posts?search=…`, anonymous,
through the real app in-process (Starlette's test client), on 20,000 posts.

`python -m bench.search_cost [sqlite|postgresql]…`: SQLite in a temporary file, and
PostgreSQL at BENCH_POSTGRES_URL (or a PostgreSQL DATABASE_URL; the database must exist
and is filled here, then reused). Prints the median ms of `BENCH_SEARCH_REQUESTS` (15)
requests per term, after two warm-ups, and what each answered (status, total, kind).
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import inspect

from bench.bulk import SEARCH_TERM, grow_posts
from bench.seed import seed_url
from models.db import make_engine
from service.app import create_app, runtime_of
from service.settings import Settings

POSTS = int(os.environ.get("BENCH_SEARCH_POSTS", "20000"))
REQUESTS = int(os.environ.get("BENCH_SEARCH_REQUESTS", "15"))
TERMS = {
    "%": "%",
    "_": "_",
    "%%%": "%%%",
    "zzz": "zzz",
    "100 a": "a" * 100,
    "lorem": "lorem",
    SEARCH_TERM: SEARCH_TERM,
}


def _prepare(url: str) -> None:
    engine = make_engine(url)
    if not inspect(engine).has_table("posts"):
        seed_url(url)
    grow_posts(engine, POSTS)
    engine.dispose()


def measure(url: str) -> None:
    _prepare(url)
    settings = Settings(
        environment="production",
        database_url=url,
        ratelimit_enabled=False,
        validate_responses=False,
        database_request_timeout=60,
    )
    app = create_app(settings)
    client = app.test_client()
    print(f"{url.split(':')[0]}: {POSTS} posts, median of {REQUESTS} anonymous requests")
    for name, term in TERMS.items():
        path = f"/api/posts?search={quote(term)}"
        times = []
        response = None
        for n in range(REQUESTS + 2):
            start = time.perf_counter()
            response = client.get(path)
            if n >= 2:
                times.append((time.perf_counter() - start) * 1000)
        assert response is not None
        body = response.json()
        shown = (
            f"total {body['pagination']['total']} ({body['pagination']['totalKind']})"
            if response.status_code == 200
            else body["error"]["code"]
        )
        print(f"  {name:>8}  {statistics.median(times):7.1f} ms  {response.status_code} {shown}")
    runtime_of(app).database.dispose()


def main(argv: list[str]) -> None:
    logging.disable(logging.INFO)
    wanted = argv or ["sqlite", "postgresql"]
    if "sqlite" in wanted:
        folder = Path(tempfile.mkdtemp(prefix="search-cost-"))
        measure(f"sqlite:///{folder / 'search.db'}")
    postgres = os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("DATABASE_URL", "")
    if "postgresql" in wanted and postgres.startswith("postgresql"):
        measure(postgres)


if __name__ == "__main__":
    main(sys.argv[1:])
