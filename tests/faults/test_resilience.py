"""The service as `make serve` runs it, on a bad day: PostgreSQL refusing, silent or slow,
Redis silent, each behind the fault proxy, under a light steady load.

One test per fault. Each asserts what the README's "Bad days" promises: requests that
need neither dependency keep answering quickly; requests that need the database get a
503 with `Retry-After` within its bounds (never a 500, never a hang); limits fail open
when Redis is silent; no worker is killed; the log stays readable; the service recovers
alone; every acknowledged write is in the database and no request left a partial row.

Bounds are generous (seconds where the service takes milliseconds): they tell a bounded
wait from an unbounded one, not a fast machine from a slow one. `make bench` and
`python -m tests.faults.measure` give the figures.
"""

from __future__ import annotations

import http.client
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from tests.database import run_sql
from tests.faults.proxy import PASS, REFUSE, SILENT, FaultProxy, Mode, latency
from tests.faults.served import Served, served, upstream_of

pytestmark = pytest.mark.faults

PASSWORD = "resilience tests password"
# gunicorn kills a worker whose loop misses its heartbeat for this long (30 s by default);
# lowered so that a fault a little longer than it proves no loop is ever blocked that long.
WORKER_TIMEOUT = 8
# Tighter bounds than the defaults, so that the tests are short; the defaults are
# exercised by measure.py and every other test.
BOUNDS = {
    "DATABASE_REQUEST_TIMEOUT": "2",
    "DATABASE_STATEMENT_TIMEOUT": "1.5",
    "RATELIMIT_STORAGE_TIMEOUT": "0.3",
    "RATELIMIT_SCALE": "1000",
    "BREAKER_MAX_COOLDOWN": "2",
    "GUNICORN_CMD_ARGS": f"--timeout {WORKER_TIMEOUT}",
}
# What "at once" means here: a blocked event loop shows as seconds, a busy machine as
# a few hundred milliseconds at worst.
QUICK = 0.5
# Longest a request needing the database may take during an outage: the request
# deadline, plus one connect timeout (libpq's minimum, 2 s) that may start just before it.
BOUNDED = 2 + 2 + 1.5
# How soon after a fault ends every kind of request succeeds again: a failed probe may
# have just set the next one a whole BREAKER_MAX_COOLDOWN (2 s here) away, and that probe
# answers at once; plus room for a busy machine.
RECOVERY = 2 + 1.0


@dataclass(frozen=True)
class Kind:
    name: str
    method: str
    path: str
    needs_database: bool
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None


def kinds(token: str) -> list[Kind]:
    bearer = (("Authorization", f"Bearer {token}"),)
    preflight = (
        ("Origin", "https://app.example.com"),
        ("Access-Control-Request-Method", "POST"),
    )
    return [
        Kind("openapi", "GET", "/api/openapi.json", needs_database=False),
        Kind("docs", "GET", "/api/docs/", needs_database=False),
        Kind("health", "GET", "/api/health", needs_database=False),
        Kind("preflight", "OPTIONS", "/api/posts", needs_database=False, headers=preflight),
        Kind("400", "GET", "/api/posts?limit=0", needs_database=False),
        Kind("404", "GET", "/api/no-such-route", needs_database=False),
        Kind("405", "DELETE", "/api/posts", needs_database=False),
        Kind("list", "GET", "/api/posts?limit=5", needs_database=True),
        Kind("me", "GET", "/api/me", needs_database=True, headers=bearer),
        Kind(
            "create",
            "POST",
            "/api/posts",
            needs_database=True,
            headers=(*bearer, ("Content-Type", "application/json")),
        ),
    ]


@dataclass
class Answer:
    kind: str
    started: float
    elapsed: float = 0.0
    status: int = 0  # 0: no HTTP answer
    body: bytes = b""
    retry_after: str | None = None
    rate_limited: bool = False  # carried X-RateLimit-* headers
    title: str | None = None

    def code(self) -> str | None:
        try:
            return str(json.loads(self.body)["error"]["code"])
        except (ValueError, KeyError, TypeError):
            return None


class Traffic:
    """One thread per kind of request, each sending one at a time on a new connection,
    about `per_second` requests a second each, until stopped."""

    def __init__(self, base_url: str, all_kinds: list[Kind], tag: str, per_second: float) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.tag = tag
        self.interval = 1 / per_second
        self.answers: list[Answer] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.sequence = iter(range(1_000_000))
        self.threads = [
            threading.Thread(target=self._run, args=(kind,), daemon=True) for kind in all_kinds
        ]

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(30)
        assert not any(thread.is_alive() for thread in self.threads), "a request never ended"

    def between(self, start: float, end: float) -> list[Answer]:
        """Answers to requests sent in [start, end)."""
        with self.lock:
            return [a for a in self.answers if start <= a.started < end]

    def _run(self, kind: Kind) -> None:
        while not self.stopping.is_set():
            started = time.monotonic()
            self._send(kind)
            self.stopping.wait(max(self.interval - (time.monotonic() - started), 0))

    def _send(self, kind: Kind) -> None:
        answer = Answer(kind.name, time.monotonic())
        body = kind.body
        if kind.name == "create":
            answer.title = f"{self.tag} {next(self.sequence):05d}"
            post = {"title": answer.title, "content": "Written on a bad day.", "status": "draft"}
            body = json.dumps(post).encode()
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            headers = {"Connection": "close", **dict(kind.headers)}
            connection.request(kind.method, kind.path, body=body, headers=headers)
            response = connection.getresponse()
            answer.body = response.read()
            answer.status = response.status
            answer.retry_after = response.getheader("Retry-After")
            answer.rate_limited = response.getheader("X-RateLimit-Limit") is not None
        except (OSError, http.client.HTTPException):
            answer.status = 0
        finally:
            connection.close()
            answer.elapsed = time.monotonic() - answer.started
            with self.lock:
                self.answers.append(answer)


def post_json(base_url: str, path: str, body: dict[str, str]) -> dict[str, object]:
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        headers = {"Content-Type": "application/json"}
        connection.request("POST", path, body=json.dumps(body).encode(), headers=headers)
        response = connection.getresponse()
        answer = json.loads(response.read())
        assert response.status < 300, answer
        data: dict[str, object] = answer["data"]
        return data
    finally:
        connection.close()


def get(base_url: str, path: str) -> tuple[int, dict[str, object]]:
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def sign_up(base_url: str, tag: str) -> str:
    email = f"{tag}@example.com"
    post_json(base_url, "/api/users", {"name": "Bad Day", "email": email, "password": PASSWORD})
    token = post_json(base_url, "/api/tokens", {"email": email, "password": PASSWORD})
    return str(token["token"])


@dataclass
class Scene:
    service: Served
    database: FaultProxy
    redis: FaultProxy
    traffic: Traffic
    tag: str


@contextmanager
def scene(
    postgres_url: str, redis_url: str, *, cors: bool = True, limits: str = "redis"
) -> Iterator[Scene]:
    """A served instance (2 workers) behind both proxies, under traffic of every kind.

    `limits`: where rate limits are counted, `redis` (through its proxy; reads then run
    in the threads) or `memory` (reads then run in the event loop while the database
    answers at once: service/resilience/placement.py)."""
    tag = f"bad-day-{secrets.token_hex(4)}"
    env = dict(BOUNDS)
    if cors:
        env["CORS_ORIGINS"] = "https://app.example.com"
    in_redis = limits == "redis"
    with (
        FaultProxy(upstream_of(postgres_url)) as database,
        FaultProxy(upstream_of(redis_url)) as redis,
        served(
            postgres_url,
            database_proxy=database,
            ratelimit_storage_uri=redis_url if in_redis else None,
            redis_proxy=redis if in_redis else None,
            env=env,
        ) as service,
    ):
        token = sign_up(service.base_url, tag)
        with Traffic(service.base_url, kinds(token), tag, per_second=5) as traffic:
            try:
                yield Scene(service, database, redis, traffic, tag)
            finally:
                traffic.stopping.set()
        assert service.worker_timeouts() == 0, "gunicorn killed a worker"
    try:
        check_writes(postgres_url, tag, traffic.answers)
    finally:
        clean_up(postgres_url, tag)


def check_writes(url: str, tag: str, answers: list[Answer]) -> None:
    """Every acknowledged post is in the database, whole; nothing else but whole posts."""
    rows = run_sql(
        url,
        "SELECT posts.title, posts.content, users.email FROM posts "
        "JOIN users ON users.id = posts.author_id WHERE posts.title LIKE :like",
        like=f"{tag} %",
    )
    stored = {title: (content, email) for title, content, email in rows}
    acknowledged = [a.title for a in answers if a.kind == "create" and 200 <= a.status < 300]
    assert acknowledged, "no write was acknowledged at all"
    missing = [title for title in acknowledged if title not in stored]
    assert missing == [], f"acknowledged posts lost: {missing}"
    partial = [t for t, (content, email) in stored.items() if content != "Written on a bad day."]
    assert partial == []
    assert {email for _, email in stored.values()} == {f"{tag}@example.com"}


def clean_up(url: str, tag: str) -> None:
    users = "SELECT id FROM users WHERE email = :email"
    email = f"{tag}@example.com"
    run_sql(url, f"DELETE FROM posts WHERE author_id IN ({users})", email=email)
    run_sql(url, f"DELETE FROM tokens WHERE user_id IN ({users})", email=email)
    run_sql(url, "DELETE FROM users WHERE email = :email", email=email)


def fault_for(proxy: FaultProxy, mode: Mode, seconds: float, traffic: Traffic) -> list[Answer]:
    """`mode` for `seconds`; the answers to the requests sent meanwhile."""
    started = time.monotonic()
    proxy.set_mode(mode)
    time.sleep(seconds)
    proxy.set_mode(PASS)
    ended = time.monotonic()
    time.sleep(BOUNDED)  # the last requests sent during the fault have answered by now
    return traffic.between(started, ended)


def recovered_after(traffic: Traffic, since: float, kind: str, status: int) -> float:
    """Seconds from `since` until a request of `kind` sent after it got `status`."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        done = [a for a in traffic.between(since, time.monotonic()) if a.kind == kind]
        good = [a.started + a.elapsed - since for a in done if a.status == status]
        if good:
            return min(good)
        time.sleep(0.05)
    return float("inf")


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(int(len(ordered) * 0.99 + 0.5) - 1, 0)]


def assert_unaffected(answers: list[Answer]) -> None:
    """The requests that need neither dependency answered as usual, and at once."""
    free = [a for a in answers if a.kind in FREE_STATUS]
    assert {a.kind for a in free} == set(FREE_STATUS), "some kinds were never sent"
    wrong = [(a.kind, a.status) for a in free if a.status != FREE_STATUS[a.kind]]
    assert wrong == []
    assert p99([a.elapsed for a in free]) < QUICK, sorted(a.elapsed for a in free)[-5:]


FREE_STATUS = {
    "openapi": 200,
    "docs": 200,
    "health": 200,
    "preflight": 204,
    "400": 400,
    "404": 404,
    "405": 405,
}


def assert_fails_fast(answers: list[Answer], kinds_: tuple[str, ...]) -> list[Answer]:
    """Requests that need the database: 503 with Retry-After (or their usual answer),
    never a 500, never past the bound; most of them at once (the breaker)."""
    mine = [a for a in answers if a.kind in kinds_]
    assert mine
    statuses = {a.status for a in mine}
    assert statuses <= {200, 201, 503}, statuses
    unavailable = [a for a in mine if a.status == 503]
    assert unavailable, "the fault was never noticed"
    assert all(a.retry_after is not None and int(a.retry_after) >= 1 for a in unavailable)
    assert all(a.code() == "SERVICE_UNAVAILABLE" for a in unavailable)
    assert max(a.elapsed for a in mine) < BOUNDED
    at_once = [a for a in unavailable if a.elapsed < QUICK]
    assert len(at_once) >= len(unavailable) / 2, "the breaker did not open"
    return unavailable


def assert_readable_log(service: Served, failed: int) -> None:
    """One line per failed request, a few tracebacks: not a traceback per request."""
    lines = service.log_lines()
    tracebacks = sum(line.startswith("Traceback") for line in lines)
    assert tracebacks <= 16, f"{tracebacks} tracebacks"
    assert len(lines) < failed + 40 * tracebacks + 50, f"{len(lines)} lines for {failed}"


def test_postgres_refusing(postgres_url: str, redis_url: str) -> None:
    with scene(postgres_url, redis_url) as s:
        answers = fault_for(s.database, REFUSE, 5, s.traffic)
        ended = time.monotonic() - BOUNDED
        status, ready = get(s.service.base_url, "/api/ready")
        assert status == 200, ready
        assert_unaffected(answers)
        failed = assert_fails_fast(answers, ("list", "me", "create"))
        assert recovered_after(s.traffic, ended, "list", 200) < RECOVERY
        assert recovered_after(s.traffic, ended, "create", 201) < RECOVERY
        assert_readable_log(s.service, len(failed))


PLACES = pytest.mark.parametrize(
    "limits", ["redis", "memory"], ids=["reads-in-threads", "reads-adaptive"]
)


@PLACES
def test_postgres_silent_past_the_worker_timeout(
    postgres_url: str, redis_url: str, limits: str
) -> None:
    with scene(postgres_url, redis_url, limits=limits) as s:
        s.database.set_mode(SILENT)
        started = time.monotonic()
        status, ready = get(s.service.base_url, "/api/ready")
        assert time.monotonic() - started < BOUNDED
        assert status == 503
        error = ready["error"]
        assert isinstance(error, dict) and "details" not in error  # what is down: the log
        assert any("Not ready: the database" in line for line in s.service.log_lines())
        s.database.set_mode(PASS)
        answers = fault_for(s.database, SILENT, WORKER_TIMEOUT + 2, s.traffic)
        ended = time.monotonic() - BOUNDED
        assert_unaffected(answers)
        failed = assert_fails_fast(answers, ("list", "me", "create"))
        assert recovered_after(s.traffic, ended, "list", 200) < RECOVERY
        assert recovered_after(s.traffic, ended, "create", 201) < RECOVERY
        assert_readable_log(s.service, len(failed))


def test_redis_silent_past_the_worker_timeout(postgres_url: str, redis_url: str) -> None:
    with scene(postgres_url, redis_url) as s:
        answers = fault_for(s.redis, SILENT, WORKER_TIMEOUT + 2, s.traffic)
        ended = time.monotonic() - BOUNDED
        assert_unaffected(answers)
        limited = [a for a in answers if a.kind in ("list", "me", "create")]
        # Served without limits (fail open): every request its usual answer, in bounds.
        assert {(a.kind, a.status) for a in limited} == {
            ("list", 200),
            ("me", 200),
            ("create", 201),
        }
        assert max(a.elapsed for a in limited) < 4 * 0.3 + QUICK
        unlimited = [a for a in limited if not a.rate_limited]
        at_once = [a for a in unlimited if a.elapsed < QUICK]
        assert len(at_once) >= len(unlimited) * 0.8, "the Redis breaker did not open"
        assert recovered_after_limits(s.traffic, ended) < RECOVERY
        said = [line for line in s.service.log_lines() if "Rate-limit storage failed" in line]
        assert 1 <= len(said) <= 2  # once a minute, in each worker at most


def recovered_after_limits(traffic: Traffic, since: float) -> float:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        done = [a for a in traffic.between(since, time.monotonic()) if a.kind == "list"]
        counted = [a.started + a.elapsed - since for a in done if a.rate_limited]
        if counted:
            return min(counted)
        time.sleep(0.05)
    return float("inf")


@PLACES
def test_postgres_far_away_stalls_no_one_else(
    postgres_url: str, redis_url: str, limits: str
) -> None:
    """Each database round trip 40 ms longer: reads take longer, nothing else does (the
    database is waited for in threads; a read in the loop leaves it at 50 ms)."""
    with scene(postgres_url, redis_url, limits=limits) as s:
        answers = fault_for(s.database, latency(20), 4, s.traffic)
        assert_unaffected(answers)
        reads = [a for a in answers if a.kind in ("list", "me")]
        assert {a.status for a in reads} == {200}
        ordered = sorted(a.elapsed for a in reads)
        assert ordered[len(ordered) // 2] >= 0.04  # the latency was there


# A client sending one request at a time, each a few breaker cooldowns after the last: a
# probe due at each of them (a worker's breaker half-opens 0.5 s after it opened).
SEQUENTIAL_RATE = 3.0
# A request that waited for a silent dependency (its timeout is 0.3 s for Redis, 2 s for
# PostgreSQL here); anything faster was answered without it.
WAITED = 0.25
WORKERS = 2
BREAKER_FAILURES = 3  # the default: a worker's breaker opens after this many failures


@pytest.mark.parametrize(("target", "seconds"), [("redis", 10), ("postgresql", 30)])
def test_once_a_breaker_opened_no_request_waits_for_a_silent_dependency(
    postgres_url: str, redis_url: str, target: str, seconds: float
) -> None:
    """While a dependency is silent, a request after its breaker opened is answered at
    once (fail-open for Redis, 503 for PostgreSQL): the probe that finds out whether it is
    back runs beside the requests, never in one. Only the requests that opened a breaker
    wait, `BREAKER_FAILURES` per worker, whatever the fault's length or the request rate;
    and the service recovers alone once the fault ends."""
    tag = f"sequential-{secrets.token_hex(4)}"
    only_list = [Kind("list", "GET", "/api/posts?limit=5", needs_database=True)]
    with (
        FaultProxy(upstream_of(postgres_url)) as database,
        FaultProxy(upstream_of(redis_url)) as redis,
        served(
            postgres_url,
            database_proxy=database,
            ratelimit_storage_uri=redis_url,
            redis_proxy=redis,
            workers=WORKERS,
            env=BOUNDS,
        ) as service,
        Traffic(service.base_url, only_list, tag, per_second=SEQUENTIAL_RATE) as traffic,
    ):
        faulty = redis if target == "redis" else database
        answers = fault_for(faulty, SILENT, seconds, traffic)
        ended = time.monotonic() - BOUNDED
        if target == "redis":
            assert {a.status for a in answers} == {200}  # served without limits
            recovery = recovered_after_limits(traffic, ended)
        else:
            assert {a.status for a in answers} <= {200, 503}
            refused = [a for a in answers if a.status == 503]
            assert refused and all(a.code() == "SERVICE_UNAVAILABLE" for a in refused)
            # Retry-After: until the next probe, never past the longest cooldown (2 s).
            assert {a.retry_after for a in refused} <= {"1", "2"}
            recovery = recovered_after(traffic, ended, "list", 200)
        traffic.stopping.set()
    waited = sorted(round(a.elapsed, 2) for a in answers if a.elapsed >= WAITED)
    # Slack of 2 for a busy machine's stall past WAITED.
    assert len(waited) <= WORKERS * BREAKER_FAILURES + 2, f"{len(waited)}/{len(answers)}: {waited}"
    assert len(answers) >= seconds * SEQUENTIAL_RATE / 4, "too few requests to tell"
    assert recovery < RECOVERY
