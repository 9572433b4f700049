"""Rate limits declared in the contract, enforced by flask-limiter.

- Each operation's limit is its `x-rate-limit`, else the document's
  `x-rate-limit-default`; nothing is written here. Each operation has its own bucket.
- Buckets are keyed by the authenticated user, else by the client's address.
- flask-limiter runs inside Flask, after Connexion's security and validation layers, so it
  never sees a request they refuse. Failed credentials (a wrong password, an unknown,
  expired or revoked token) are therefore counted here too, per address, against
  `x-rate-limit-auth-failures`: once over it, credentials are refused with 429 before they
  are even checked.
- With Redis as storage the counts are shared by every instance. If the storage fails,
  requests are served unlimited (fail open) and the failure is logged at most once a minute.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import flask
from connexion import context
from flask_limiter import Limiter, RequestLimit
from flask_limiter.errors import RateLimitExceeded
from limits import RateLimitItem, parse
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from service.auth import current_caller
from service.client_address import client_address
from service.errors import ApiError, ErrorCode, body_of
from service.settings import Settings
from service.spec import Contract

logger = logging.getLogger(__name__)

STORAGE_ERROR_LOG_INTERVAL = 60.0


def rate_limited(retry_after: int, message: str) -> ApiError:
    return ApiError(
        ErrorCode.RATE_LIMITED, message, headers={"Retry-After": str(max(retry_after, 1))}
    )


class _Throttled:
    """Log a storage failure at most once per interval, not once per request."""

    def __init__(self) -> None:
        self.last = 0.0

    def exception(self, message: str) -> None:
        now = time.monotonic()
        if now - self.last >= STORAGE_ERROR_LOG_INTERVAL:
            self.last = now
            logger.exception("%s; serving without rate limits meanwhile", message)


class AuthFailures:
    """Failed credentials per client address, in the rate-limit storage."""

    NAMESPACE = "auth-failures"

    def __init__(self, storage: Storage, limit: RateLimitItem) -> None:
        self.limiter = FixedWindowRateLimiter(storage)
        self.limit = limit
        self.log = _Throttled()

    def refuse_if_over(self, address: str) -> None:
        """429 before checking credentials from an address that failed too often."""
        try:
            if self.limiter.test(self.limit, self.NAMESPACE, address):
                return
            reset = int(self.limiter.get_window_stats(self.limit, self.NAMESPACE, address)[0])
        except Exception:
            self.log.exception("Rate-limit storage failed")
            return
        raise rate_limited(
            reset - int(time.time()),
            f"Too many failed credentials from this address; limit {self.limit}",
        )

    def record(self, address: str) -> None:
        try:
            self.limiter.hit(self.limit, self.NAMESPACE, address)
        except Exception:
            self.log.exception("Rate-limit storage failed")


def scaled(declared: str, scale: int) -> str:
    """`declared` ("10/minute") with its amount multiplied by `scale` (RATELIMIT_SCALE)."""
    item = parse(declared)
    return f"{item.amount * scale}/{item.multiples} {item.GRANULARITY.name}"


class RateLimits:
    def __init__(self, contract: Contract, settings: Settings) -> None:
        default = contract.document["x-rate-limit-default"]
        self.per_operation = {
            f"{op['x-openapi-router-controller']}.{operation_id}": scaled(
                op.get("x-rate-limit", default), settings.ratelimit_scale
            )
            for operation_id, op in contract.operations.items()
        }
        self.trusted_hops = settings.trusted_proxy_hops
        self.enabled = settings.ratelimit_enabled
        self.limiter = Limiter(
            key_func=self.key,
            default_limits=[self.operation_limit],
            default_limits_per_method=True,
            headers_enabled=True,
            storage_uri=settings.ratelimit_storage_uri,
            strategy="fixed-window",
            swallow_errors=True,
            key_prefix="api",
            on_breach=self.on_breach,
            enabled=settings.ratelimit_enabled,
        )
        self.auth_failures = AuthFailures(
            storage_from_string(settings.ratelimit_storage_uri),
            parse(
                scaled(contract.document["x-rate-limit-auth-failures"], settings.ratelimit_scale)
            ),
        )

    def init_app(self, app: flask.Flask) -> None:
        self.limiter.init_app(app)
        app.register_error_handler(RateLimitExceeded, self.on_exceeded)

    def operation_limit(self) -> str:
        return self.per_operation[context.operation.operation_id]

    def address(self) -> str:
        request = flask.request
        forwarded = request.headers.get("X-Forwarded-For")
        return client_address(request.remote_addr, forwarded, self.trusted_hops)

    def key(self) -> str:
        caller = current_caller()
        return f"user:{caller.id}" if caller else f"address:{self.address()}"

    @staticmethod
    def on_breach(limit: RequestLimit) -> flask.Response:
        error = rate_limited(
            limit.reset_at - int(time.time()), f"Rate limit of {limit.limit} exceeded"
        )
        return flask.Response(
            body_of(error), error.status, error.headers, mimetype="application/json"
        )

    @staticmethod
    def on_exceeded(exc: RateLimitExceeded) -> flask.Response:
        """Return the envelope built in `on_breach`; flask-limiter then adds its headers.

        Without this handler Connexion re-raises the 429 and drops those headers.
        """
        assert exc.response is not None
        return exc.response

    def guard_credentials(self, peer: str | None, forwarded_for: str | None) -> Callable[[], None]:
        """Refuse a client over the failure limit; return what records one more failure."""
        if not self.enabled:
            return lambda: None
        address = client_address(peer, forwarded_for, self.trusted_hops)
        self.auth_failures.refuse_if_over(address)
        return lambda: self.auth_failures.record(address)
