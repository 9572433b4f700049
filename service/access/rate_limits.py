"""Rate limits declared in the contract, counted with the `limits` library.

- Each operation's limit is its `x-rate-limit`, else the document's
  `x-rate-limit-default`; nothing is written here. Each operation has its own bucket.
- Buckets are keyed by the authenticated user, else by the client's address; an
  operation with `x-rate-limit-key: address` always by the address (sign-up).
- The count is the access step's second part (service/access/step.py), after validation
  and the credentials check, so it never sees a request they refuse. Failed credentials
  are counted here too, against `x-rate-limit-auth-failures`, and only failed ones: a
  valid credential is never refused for them (`AuthFailures`).
- `x-rate-limit: none` exempts an operation (liveness and readiness probes).
- `x-rate-limit-fields: {email: create_user}`: a request that changes one of these body
  fields also takes one request from that operation's bucket (`count_changes`, called by
  the handler, which knows what changes).
- With Redis as storage the counts are shared by every instance. If the storage fails,
  requests are served unlimited (fail open) and the failure is logged at most once a minute.
  Every call to Redis is bounded (`RATELIMIT_STORAGE_TIMEOUT`, no retries), and after a few
  consecutive failures a circuit breaker skips the storage altogether (no wait at all)
  until a PING, sent beside the requests (never in one), is answered.

Why not flask-limiter: it resolved, filtered and evaluated its general limit machinery on
every request, about 290 µs of a 780 µs request here (docs/performance-notes.md). Every limit of
this service is known at start-up, one per operation, so a request needs one dictionary
lookup and one increment in the storage of `limits`, the library flask-limiter itself
counts with.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from redis.backoff import NoBackoff
from redis.retry import Retry

from models.user import normalise_email
from service.edge.scope import RequestScope, current
from service.http.errors import ApiError, ErrorCode
from service.plan import Plan, Plans
from service.resilience.breaker import Breaker, BreakerOpen
from service.settings import Settings

logger = logging.getLogger(__name__)

STORAGE_ERROR_LOG_INTERVAL = 60.0
# What `refused` hears for the limit on failed credentials (an operationId otherwise).
AUTH_FAILURES = "auth_failures"


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
    """Failed credentials, counted in the rate-limit storage against
    `x-rate-limit-auth-failures`, per bucket:

    - a bearer token is always checked, so a valid one is always accepted; each token
      that fails counts against the client's address, and once the address is over the
      limit a failing token gets the 429 instead of the 401. Behind a proxy every client
      may share one address: made-up tokens then lock out no valid session.
    - a login's check is the password guessing oracle, so once its bucket is over the
      limit a login is refused before its password is verified (the right one too). Its
      bucket is the client's address and the email tried: an attacker slows down the
      logins of the accounts it attacks, not those of everyone sharing its address
      (spraying many accounts is bounded by `create_token`'s own `x-rate-limit`).

    The storage failing refuses nothing (limits fail open).
    """

    NAMESPACE = "auth-failures"

    def __init__(self, storage: Storage, limit: RateLimitItem, guarded: GuardedStorage) -> None:
        self.limiter = FixedWindowRateLimiter(storage)
        self.limit = limit
        self.guarded = guarded

    @staticmethod
    def token_bucket(address: str) -> str:
        return f"token:{address}"

    @staticmethod
    def login_bucket(address: str, email: str) -> str:
        # The email as the login looks it up, hashed: no address book in the storage.
        tried = hashlib.sha256(normalise_email(email).encode()).hexdigest()[:32]
        return f"login:{address}:{tried}"

    def refuse_if_over(self, bucket: str, message: str) -> None:
        """429 if `bucket` is over the limit already (before a login is checked)."""
        self._refuse_over(bucket, message, count=False)

    def count(self, bucket: str, message: str) -> None:
        """One more failure of `bucket`; 429 if it is over the limit with it."""
        self._refuse_over(bucket, message, count=True)

    def record(self, bucket: str) -> None:
        """One more failure of `bucket`."""
        try:
            with self.guarded.calling():
                self.limiter.hit(self.limit, self.NAMESPACE, bucket)
        except StorageDown:
            pass

    def _refuse_over(self, bucket: str, message: str, *, count: bool) -> None:
        try:
            with self.guarded.calling():
                if count:
                    within = self.limiter.hit(self.limit, self.NAMESPACE, bucket)
                else:
                    within = self.limiter.test(self.limit, self.NAMESPACE, bucket)
                if within:
                    return
                stats = self.limiter.get_window_stats(self.limit, self.NAMESPACE, bucket)
                reset = int(stats[0])
        except StorageDown:
            return
        raise rate_limited(reset - int(time.time()), f"{message}; limit {self.limit}")


class WindowEnds:
    """When each bucket's window ends, remembered so that the storage is asked once per
    window rather than on every request.

    A fixed window of `limits` ends `expiry` seconds after its first hit, so the request
    whose increment returns 1 knows the end without asking; other instances' windows are
    asked for once. With Redis this saves a round trip per request (docs/performance-notes.md).
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
        plans: Plans,
        settings: Settings,
        refused: Callable[[str], None] = lambda _limit: None,
    ) -> None:
        """`refused` hears of each 429: the operationId whose limit was reached, or
        `auth_failures` (metrics)."""
        self.refused = refused
        self.plans = plans
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
        self.auth_failures = AuthFailures(self.storage, plans.auth_failures, self.guarded)

    def count(self, plan: Plan, request: RequestScope) -> Window | None:
        """Count the request against its operation's limit; 429 once over it.

        A fixed window, counted as `limits`' FixedWindowRateLimiter.hit counts it, but
        keeping the count the increment returns: it gives the remaining requests without
        another storage call. None: not counted (exempt, disabled, or the storage is down).
        """
        return self._hit(plan, request, f"Rate limit of {plan.rate_limit} exceeded")

    def count_changes(self, fields: Iterable[str]) -> None:
        """The request changes these body fields: each operation its plan's
        `x-rate-limit-fields` names for them takes one request from its bucket (keyed as
        that operation keys it), 429 once over its limit."""
        request = current()
        shared = request.plan.field_limits if request.plan else {}
        for operation_id in sorted({shared[name] for name in fields if name in shared}):
            other = self.plans[operation_id]
            message = f"Rate limit of {other.rate_limit} exceeded (shared with {operation_id})"
            self._hit(other, request, message)

    def _hit(self, plan: Plan, request: RequestScope, message: str) -> Window | None:
        limit = plan.rate_limit
        if limit is None or not self.enabled:
            return None
        caller = None if plan.rate_limit_by_address else request.caller
        who = f"user:{caller.id}" if caller else f"address:{request.client}"
        key = limit.key_for(self.NAMESPACE, plan.routed_name, who)
        expiry = limit.get_expiry()
        try:
            with self.guarded.calling():
                count = self.storage.incr(key, expiry)
                reset_at = self.window_ends.of(key, count, expiry)
        except StorageDown:
            return None
        window = Window(limit, max(limit.amount - count, 0), int(reset_at))
        if count > limit.amount:
            self.refused(plan.operation_id)
            error = rate_limited(window.reset_at - int(time.time()), message)
            error.headers.update(window.headers())
            raise error
        return window

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

    def count_failed_token(self, address: str) -> None:
        """A bearer token failed its check: count it against the client's address, and
        raise the 429 (instead of the 401) once the address is over the limit. A valid
        token never comes here."""
        if not self.enabled:
            return
        try:
            self.auth_failures.count(
                AuthFailures.token_bucket(address), "Too many failed tokens from this address"
            )
        except ApiError:
            self.refused(AUTH_FAILURES)
            raise

    def guard_login(self, address: str, email: str) -> Callable[[], None]:
        """Refuse a login to `email` from a client over the failure limit of the two,
        before its password is verified (the check is what a guesser wants); else return
        what records one more failure."""
        if not self.enabled:
            return lambda: None
        bucket = AuthFailures.login_bucket(address, email)
        try:
            self.auth_failures.refuse_if_over(
                bucket, "Too many failed logins to this account from this address"
            )
        except ApiError:
            self.refused(AUTH_FAILURES)
            raise
        return lambda: self.auth_failures.record(bucket)
