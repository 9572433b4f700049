"""The real servers the fault tests put proxies in front of: PostgreSQL from DATABASE_URL,
Redis from REDIS_URL (`.ci/run` sets both when they answer); tests skip without them."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.skip("DATABASE_URL does not name a PostgreSQL database")
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    if not url.startswith("redis"):
        pytest.skip("REDIS_URL is not set")
    return url
