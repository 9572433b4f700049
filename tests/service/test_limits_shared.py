"""Two real instances on two ports share one limit through Redis; in memory they cannot.

Runs when REDIS_URL is set (CI sets it).
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request

import pytest
import redis
from limits import parse

from service.spec import Contract
from tests.contract import stats
from tests.servers import running_server

REDIS_URL = os.environ.get("REDIS_URL")
LIMIT = parse(Contract.load().document["x-rate-limit-default"])
SENT = LIMIT.amount + 40

pytestmark = pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL is not set")


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def hammer(storage: str, database_url: str) -> tuple[int, int]:
    """SENT requests, alternating between two instances; (accepted, refused)."""
    env = {"DATABASE_URL": database_url, "RATELIMIT_STORAGE_URI": storage}
    if storage.startswith("redis"):
        redis.Redis.from_url(storage).flushdb()  # no counts left from an earlier run
    with running_server(env) as first, running_server(env) as second:
        if storage.startswith("redis"):
            redis.Redis.from_url(storage).flushdb()  # forget the start-up health probes
        statuses = [status_of(f"{(first, second)[n % 2]}/api/health") for n in range(SENT)]
    return statuses.count(200), statuses.count(429)


def test_two_instances_enforce_one_combined_limit(database_url, client):
    assert REDIS_URL is not None
    accepted, refused = hammer(REDIS_URL, database_url)
    stats.notes.append(
        f"two instances sharing Redis: sent {SENT}, accepted {accepted}, refused {refused} "
        f"(declared limit {LIMIT})"
    )
    assert (accepted, refused) == (LIMIT.amount, SENT - LIMIT.amount)


def test_in_memory_each_instance_counts_alone(database_url, client):
    accepted, refused = hammer("memory://", database_url)
    stats.notes.append(
        f"two instances in memory: sent {SENT}, accepted {accepted}, refused {refused}"
    )
    assert (accepted, refused) == (SENT, 0)
