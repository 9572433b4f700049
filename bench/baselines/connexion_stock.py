"""Baseline 3: stock Connexion, what a Connexion 3 user gets from the same code.

The same contract, handlers, models and layers as the service (`service.app.create_app`),
on Connexion's `FlaskApp` as its documentation sets it up, without this project's speed
changes:

- Connexion's own a2wsgi bridge to Flask (10 threads, every response message handed
  back to the event loop), not `service/patches/flask_bridge.py`;
- Connexion's views as it builds them, re-wrapped on every request, not
  `service/patches/prepared_views.py`;
- rate limits through Flask-Limiter (as this service had them before counting with
  `limits` directly): the same per-operation limits and keys, resolved per request;
- served by the stock `uvicorn_worker.UvicornWorker` (uvicorn's default loop, uvloop),
  not `service.worker.Worker` and its fair accept (bench/run.py).

What it keeps, because the contract or the benchmark needs it to work at all: the
request scope each request finds (handlers read it), the access step (credentials and
authorization from the plan; its own count of limits left out), the error envelope, the
validators that report every field, CORS and the edge layers.
"""

from __future__ import annotations

import time
from typing import Any
from unittest import mock

import connexion
import flask
from connexion import context
from flask.typing import ResponseReturnValue
from flask_limiter import Limiter, RequestLimit
from flask_limiter.errors import RateLimitExceeded

import service.app
from service.access.rate_limits import rate_limited
from service.edge.scope import current
from service.http.errors import body_of
from service.plan import Plans
from service.runtime import EXTENSION
from service.settings import Settings


class StockRateLimits:
    """The contract's limits through Flask-Limiter: a limit resolved on every request."""

    def __init__(self, plans: Plans, settings: Settings) -> None:
        self.per_operation = {
            plan.routed_name: str(plan.rate_limit) for plan in plans if plan.rate_limit
        }
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

    def init_app(self, app: flask.Flask) -> None:
        self.limiter.request_filter(self.exempt)
        self.limiter.init_app(app)
        app.register_error_handler(RateLimitExceeded, self.on_exceeded)

    def exempt(self) -> bool:
        return context.operation.operation_id not in self.per_operation

    def operation_limit(self) -> str:
        return self.per_operation[context.operation.operation_id]

    @staticmethod
    def key() -> str:
        scope = current()
        plan = scope.plan
        caller = None if plan is None or plan.rate_limit_by_address else scope.caller
        return f"user:{caller.id}" if caller else f"address:{scope.client}"

    @staticmethod
    def on_breach(limit: RequestLimit) -> flask.Response:
        error = rate_limited(
            limit.reset_at - int(time.time()), f"Rate limit of {limit.limit} exceeded"
        )
        return flask.Response(
            body_of(error), error.status, error.headers, mimetype="application/json"
        )

    @staticmethod
    def on_exceeded(exc: RateLimitExceeded) -> ResponseReturnValue:
        """The envelope built in `on_breach`, which Flask-Limiter then stamps."""
        assert exc.response is not None
        return exc.response


def _leave(*_args: Any, **_kwargs: Any) -> None:
    """Where a speed change was installed: leave Connexion as it is."""


def _uncounted(*_args: Any, **_kwargs: Any) -> None:
    """The service's own count of rate limits, left out: Flask-Limiter counts instead."""


def create_app() -> connexion.FlaskApp:
    """The service's app, built by its own factory with the speed changes left out."""
    settings = Settings.from_env()
    with (
        mock.patch.object(service.app, "prepare_views_of", _leave),
        mock.patch.object(service.app, "bridge_to_flask", _leave),
    ):
        app = service.app.create_app(settings)
    runtime = app.app.extensions[EXTENSION]
    runtime.rate_limits.count = _uncounted
    StockRateLimits(runtime.plans, settings).init_app(app.app)
    return app
