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

from service.contract import Contract
from tests.contract import stats
from tests.servers import running_server


def redis_url_of_this_worker() -> str | None:
    """REDIS_URL, on a database of its own for each pytest-xdist worker (they flush it)."""
    url = os.environ.get("REDIS_URL")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw-1")
    if not url:
        return None
    return f"{url.rsplit('/', 1)[0]}/{int(worker.removeprefix('gw')) + 2}"


REDIS_URL = redis_url_of_this_worker()
LIMIT = parse(Contract.load().document["x-rate-limit-default"])
SENT = LIMIT.amount + 40

pytestmark = pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL is not set")


def answer_of(url: str) -> tuple[int, int, int]:
    """(status, X-RateLimit-Remaining, X-RateLimit-Reset) of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            status, headers = response.status, response.headers
    except urllib.error.HTTPError as error:
        status, headers = error.code, error.headers
    return status, int(headers["X-RateLimit-Remaining"]), int(headers["X-RateLimit-Reset"])


def hammer(storage: str, database_url: str) -> list[tuple[int, int, int]]:
    """SENT requests, alternating between two instances; what each answered.

    The servers' start-up probes use /api/health; the requests counted here go to
    /api/posts, a bucket of its own that no earlier request touched.
    """
    env = {"DATABASE_URL": database_url, "RATELIMIT_STORAGE_URI": storage}
    if storage.startswith("redis"):
        redis.Redis.from_url(storage).flushdb()  # no counts left from an earlier run
    with running_server(env) as first, running_server(env) as second:
        return [answer_of(f"{(first, second)[n % 2]}/api/posts") for n in range(SENT)]


@pytest.mark.usefixtures("clean_database")
def test_two_instances_enforce_one_combined_limit(database_url):
    assert REDIS_URL is not None
    answers = hammer(REDIS_URL, database_url)
    statuses = [status for status, _, _ in answers]
    accepted, refused = statuses.count(200), statuses.count(429)
    stats.notes.append(
        f"two instances sharing Redis: sent {SENT}, accepted {accepted}, refused {refused} "
        f"(declared limit {LIMIT})"
    )
    assert (accepted, refused) == (LIMIT.amount, SENT - LIMIT.amount)
    # Both instances count down one bucket and report the end of one window.
    assert [remaining for _, remaining, _ in answers[: LIMIT.amount]] == list(
        range(LIMIT.amount - 1, -1, -1)
    )
    resets = {reset for _, _, reset in answers}
    assert max(resets) - min(resets) <= 1, resets


@pytest.mark.usefixtures("clean_database")
def test_in_memory_each_instance_counts_alone(database_url):
    answers = hammer("memory://", database_url)
    statuses = [status for status, _, _ in answers]
    accepted, refused = statuses.count(200), statuses.count(429)
    stats.notes.append(
        f"two instances in memory: sent {SENT}, accepted {accepted}, refused {refused}"
    )
    assert (accepted, refused) == (SENT, 0)
    # Each instance counts its own half.
    assert [remaining for _, remaining, _ in answers[:4]] == [
        LIMIT.amount - 1,
        LIMIT.amount - 1,
        LIMIT.amount - 2,
        LIMIT.amount - 2,
    ]
