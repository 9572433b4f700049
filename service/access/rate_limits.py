"""Rate limits declared in the contract, counted with the `limits` library.

- Each operation's limit is its `x-rate-limit`, else the document's
  `x-rate-limit-default`; nothing is written here. Each operation has its own bucket.
- Buckets are keyed by the authenticated user, else by the client's address; an
  operation with `x-rate-limit-key: address` always by the address (sign-up).
- The check runs inside Flask, after Connexion's security and validation layers, so it
  never sees a request they refuse. Failed credentials (a wrong password, an unknown,
  expired or revoked token) are therefore counted here too, per address, against
  `x-rate-limit-auth-failures`: once over it, credentials are refused with 429 before they
  are even checked.
- `x-rate-limit: none` exempts an operation (liveness and readiness probes).
- With Redis as storage the counts are shared by every instance. If the storage fails,
  requests are served unlimited (fail open) and the failure is logged at most once a minute.
  Every call to Redis is bounded (`RATELIMIT_STORAGE_TIMEOUT`, no retries), and after a few
  consecutive failures a circuit breaker skips the storage altogether (no wait at all)
  until a PING, sent beside the requests (never in one), is answered.

Why not flask-limiter: it resolved, filtered and evaluated its general limit machinery on
every request, about 290 µs of a 780 µs request here (bench/README.md). Every limit of
this service is known at start-up, one per operation, so a request needs one dictionary
lookup and one increment in the storage of `limits`, the library flask-limiter itself
counts with.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import flask
from connexion import context
from limits import RateLimitItem, parse
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from redis.backoff import NoBackoff
from redis.retry import Retry

from service.access.authentication import current_caller
from service.access.client_address import client_address
from service.contract import Contract
from service.errors import ApiError, ErrorCode
from service.resilience.breaker import Breaker, BreakerOpen
from service.settings import Settings

logger = logging.getLogger(__name__)

STORAGE_ERROR_LOG_INTERVAL = 60.0
# What `refused` hears for the limit on failed credentials (an operationId otherwise).
AUTH_FAILURES = "auth_failures"
# An operation's `x-rate-limit` that exempts it from counting.
UNLIMITED = "none"
# Where a request's count is kept in its ASGI scope: (count, window end), or () unlimited.
COUNTED = "service.rate_limit_counted"


def storage_options(uri: str, timeout: float) -> dict[str, Any]:
    """What bounds each call to the storage: for Redis, connect and read timeouts, and no
    retries (redis-py's default of three, with backoff, made one call wait 7.6 s on a
    silent network). Other storages need none."""
    if not uri.startswith(("redis", "rediss", "valkey")):
        return {}
    return {
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
    }


def rate_limited(retry_after: int, message: str) -> ApiError:
    return ApiError(
        ErrorCode.RATE_LIMITED, message, headers={"Retry-After": str(max(retry_after, 1))}
    )


class _Throttled:
    """Log a storage failure at most once per interval, not once per request."""

    def __init__(self) -> None:
        self.last = -STORAGE_ERROR_LOG_INTERVAL

    def exception(self, message: str) -> None:
        now = time.monotonic()
        if now - self.last >= STORAGE_ERROR_LOG_INTERVAL:
            self.last = now
            logger.exception("%s; serving without rate limits meanwhile", message)


class GuardedStorage:
    """The storage behind a circuit breaker: any failure of a call is logged (at most
    once a minute) and reported as False by `calling`, which the caller takes to mean
    "serve without limits"."""

    def __init__(self, breaker: Breaker, log: _Throttled) -> None:
        self.breaker = breaker
        self.log = log

    @contextmanager
    def calling(self) -> Iterator[None]:
        """Run the block against the storage; raises `StorageDown` instead of failing."""
        try:
            with self.breaker.guarded():
                yield
        except BreakerOpen:
            raise StorageDown from None
        except Exception as error:
            self.log.exception("Rate-limit storage failed")
            raise StorageDown from error


class StorageDown(Exception):
    """The rate-limit storage failed or its breaker is open: serve without limits."""


class AuthFailures:
    """Failed credentials per client address, in the rate-limit storage."""

    NAMESPACE = "auth-failures"

    def __init__(self, storage: Storage, limit: RateLimitItem, guarded: GuardedStorage) -> None:
        self.limiter = FixedWindowRateLimiter(storage)
        self.limit = limit
        self.guarded = guarded

    def refuse_if_over(self, address: str) -> None:
        """429 before checking credentials from an address that failed too often."""
        try:
            with self.guarded.calling():
                if self.limiter.test(self.limit, self.NAMESPACE, address):
                    return
                stats = self.limiter.get_window_stats(self.limit, self.NAMESPACE, address)
                reset = int(stats[0])
        except StorageDown:
            return
        raise rate_limited(
            reset - int(time.time()),
            f"Too many failed credentials from this address; limit {self.limit}",
        )

    def record(self, address: str) -> None:
        try:
            with self.guarded.calling():
                self.limiter.hit(self.limit, self.NAMESPACE, address)
        except StorageDown:
            pass


def scaled(declared: str, scale: int) -> str:
    """`declared` ("10/minute") with its amount multiplied by `scale` (RATELIMIT_SCALE)."""
    item = parse(declared)
    return f"{item.amount * scale}/{item.multiples} {item.GRANULARITY.name}"


class WindowEnds:
    """When each bucket's window ends, remembered so that the storage is asked once per
    window rather than on every request.

    A fixed window of `limits` ends `expiry` seconds after its first hit, so the request
    whose increment returns 1 knows the end without asking; other instances' windows are
    asked for once. With Redis this saves a round trip per request (bench/README.md).
    """

    MAX_KEYS = 100_000

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.ends: dict[str, float] = {}

    def of(self, key: str, count: int, expiry: int) -> float:
        now = time.time()
        end = now + expiry if count == 1 else self.ends.get(key, 0.0)
        if end <= now:
            end = self.storage.get_expiry(key)
        if len(self.ends) >= self.MAX_KEYS:  # forget the windows that have ended
            self.ends = {known: ends for known, ends in self.ends.items() if ends > now}
            if len(self.ends) >= self.MAX_KEYS:  # all live: forget them, they will be asked
                self.ends = {}
        self.ends[key] = end
        return end


@dataclass(frozen=True)
class Window:
    """Where a request's bucket stands: what the `X-RateLimit-*` headers say."""

    limit: RateLimitItem
    remaining: int
    reset_at: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit.amount),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
        }


class RateLimits:
    NAMESPACE = "api"

    def __init__(
        self,
        contract: Contract,
        settings: Settings,
        refused: Callable[[str], None] = lambda _limit: None,
    ) -> None:
        """`refused` hears of each 429: the operationId whose limit was reached, or
        `auth_failures` (metrics)."""
        default = contract.document["x-rate-limit-default"]
        self.refused = refused
        scale = settings.ratelimit_scale
        # Keyed as Connexion names a routed operation: by the function it resolved to.
        self.per_operation = {
            contract.routed_name(operation_id): parse(
                scaled(op.get("x-rate-limit", default), scale)
            )
            for operation_id, op in contract.operations.items()
            if op.get("x-rate-limit") != UNLIMITED
        }
        # Operations counted per address whoever calls (`x-rate-limit-key: address`).
        self.by_address = frozenset(
            contract.routed_name(operation_id)
            for operation_id, op in contract.operations.items()
            if op.get("x-rate-limit-key") == "address"
        )
        self.trusted_hops = settings.trusted_proxy_hops
        self.enabled = settings.ratelimit_enabled
        uri = settings.ratelimit_storage_uri
        storage = storage_from_string(
            uri, **storage_options(uri, settings.ratelimit_storage_timeout)
        )
        if not isinstance(storage, Storage):  # settings refuse async storages already
            raise TypeError(f"{settings.ratelimit_storage_uri!r} is an asyncio storage")
        self.storage = storage
        self.shared = not uri.startswith("memory")
        self.window_ends = WindowEnds(self.storage)
        self.log = _Throttled()
        self.breaker = Breaker(
            "the rate-limit storage",
            failures=settings.breaker_failures,
            cooldown=settings.breaker_cooldown,
            max_cooldown=settings.breaker_max_cooldown,
            is_failure=lambda _error: True,
            probe=self.ping,
        )
        self.guarded = GuardedStorage(self.breaker, self.log)
        self.auth_failures = AuthFailures(
            self.storage,
            parse(scaled(contract.document["x-rate-limit-auth-failures"], scale)),
            self.guarded,
        )

    def init_app(self, app: flask.Flask) -> None:
        """Count every routed request before it is authorized; stamp every response."""
        if self.enabled:
            app.before_request(self.check)
            app.after_request(self.stamp)

    def check(self) -> None:
        """Flask `before_request` hook: count the request, 429 once over the limit.

        A fixed window, counted as `limits`' FixedWindowRateLimiter.hit counts it, but
        keeping the count the increment returns: it gives the remaining requests without
        another storage call.
        """
        operation = context.operation.operation_id
        limit = self.per_operation.get(operation)
        if limit is None:  # x-rate-limit: none
            return
        # A read run again in the threads (service/resilience/placement.py) is counted
        # once: its first run left the count in the request's ASGI scope, which both share.
        scope = flask.request.environ.get("asgi.scope", {})
        counted = scope.get(COUNTED)
        if counted is None:
            key = limit.key_for(self.NAMESPACE, operation, self.key(operation))
            expiry = limit.get_expiry()
            try:
                with self.guarded.calling():
                    count = self.storage.incr(key, expiry)
                    reset_at = self.window_ends.of(key, count, expiry)
            except StorageDown:
                scope[COUNTED] = ()
                return
            scope[COUNTED] = (count, reset_at)
        elif not counted:  # served without limits the first time
            return
        else:
            count, reset_at = counted
        window = Window(limit, max(limit.amount - count, 0), int(reset_at))
        flask.g.rate_limit_window = window
        if count > limit.amount:
            self.refused(operation.rpartition(".")[2])
            error = rate_limited(
                window.reset_at - int(time.time()), f"Rate limit of {limit} exceeded"
            )
            # The error leaves Flask (Connexion renders it), so `stamp` never sees it.
            error.headers.update(window.headers())
            raise error

    def ping(self) -> None:
        """The breaker's probe, run beside the requests: the storage's PING (Redis: within
        RATELIMIT_STORAGE_TIMEOUT, not retried); raises unless it answered."""
        if not self.storage.check():
            raise StorageDown("the rate-limit storage did not answer its PING")

    def storage_answers(self) -> bool | None:
        """Whether the shared storage answers now (None: counts are kept in memory)."""
        if not self.shared:
            return None
        try:
            with self.guarded.calling():
                return bool(self.storage.check())
        except StorageDown:
            return False

    @staticmethod
    def stamp(response: flask.Response) -> flask.Response:
        window: Window | None = flask.g.get("rate_limit_window")
        if window is not None:
            response.headers.update(window.headers())
        return response

    def address(self) -> str:
        request = flask.request
        forwarded = request.headers.get("X-Forwarded-For")
        return client_address(request.remote_addr, forwarded, self.trusted_hops)

    def key(self, operation: str) -> str:
        caller = None if operation in self.by_address else current_caller()
        return f"user:{caller.id}" if caller else f"address:{self.address()}"

    def guard_credentials(self, peer: str | None, forwarded_for: str | None) -> Callable[[], None]:
        """Refuse a client over the failure limit; return what records one more failure."""
        if not self.enabled:
            return lambda: None
        address = client_address(peer, forwarded_for, self.trusted_hops)
        try:
            self.auth_failures.refuse_if_over(address)
        except ApiError:
            self.refused(AUTH_FAILURES)
            raise
        return lambda: self.auth_failures.record(address)
