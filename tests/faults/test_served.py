"""The served helper: a production server whose PostgreSQL and Redis traffic really goes
through the proxies, and whose log the test can read."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path

import pytest

from tests.faults.proxy import REFUSE, FaultProxy
from tests.faults.served import served, through, upstream_of

pytestmark = pytest.mark.faults


def get(url: str) -> tuple[int, Message, dict[str, object]]:
    """Status, headers (any case) and JSON body of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.load(error)


def test_urls_are_pointed_at_the_proxy() -> None:
    assert upstream_of("postgresql+psycopg://u:p@db.example:6543/app") == ("db.example", 6543)
    assert upstream_of("redis://127.0.0.1/5") == ("127.0.0.1", 6379)
    with FaultProxy(("db.example", 6543)) as proxy:  # listens; reaches upstream on demand
        port = proxy.port
        assert (
            through("postgresql+psycopg://u:p@db.example:6543/app?sslmode=disable", proxy)
            == f"postgresql+psycopg://u:p@127.0.0.1:{port}/app?sslmode=disable"
        )
        assert through("redis://127.0.0.1:6379/5", proxy) == f"redis://127.0.0.1:{port}/5"


def test_the_service_reaches_postgres_and_redis_through_the_proxies(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    with (
        FaultProxy(upstream_of(postgres_url)) as database,
        FaultProxy(upstream_of(redis_url)) as storage,
        served(
            postgres_url,
            database_proxy=database,
            ratelimit_storage_uri=redis_url,
            redis_proxy=storage,
            workers=1,
            log_path=log,
        ) as service,
    ):
        assert service.env["APP_ENV"] == "production"
        assert str(database.port) in service.env["DATABASE_URL"]
        status, _, body = get(f"{service.base_url}/api/ready")
        assert (status, body) == (200, {"data": {"status": "ready"}})
        status, headers, _ = get(f"{service.base_url}/api/posts")
        assert status == 200
        assert "X-RateLimit-Remaining" in headers  # counted in Redis, through its proxy
        assert database.stats.bytes_down > 0
        assert storage.stats.bytes_down > 0

        # Redis refused: the documented fail-open, and its log line, read from the file.
        before = len(service.log_lines())
        storage.set_mode(REFUSE)
        status, headers, _ = get(f"{service.base_url}/api/posts")
        assert status == 200
        assert "X-RateLimit-Remaining" not in headers
        written = service.log_lines()[before:]
        assert any("Rate-limit storage failed" in line for line in written)
        assert service.worker_timeouts() == 0
    assert log.read_text().count("Rate-limit storage failed") == 1
