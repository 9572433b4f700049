"""Prometheus metrics (prometheus-client): what one app counts, and where they are scraped.

What is counted, with labels of bounded cardinality (an operation is an operationId, or
`unrouted` for everything the contract does not route: never a raw path):

- `http_requests_total{operation, method, status}`
- `http_request_duration_seconds{operation}`: a histogram, from the request's first byte
  in the app to its last one out
- `db_pool_connections_in_use`: pooled database connections checked out (the sum over
  live workers)
- `rate_limit_refusals_total{limit}`: 429s, by the operationId whose limit was reached,
  or `auth_failures` for the limit on failed credentials
- `deprecated_requests_total{operation, feature, caller}`: requests that used something
  deprecated (`operation`, `query:page`, `header:<Name>`, `body:<field>`; see the
  contract's "Deprecations"), by the caller's role or `anonymous`: who still calls it
  before its sunset
- `circuit_breaker_state{dependency}`: 0 closed, 1 half-open, 2 open (`database`,
  `rate_limit_storage`; the worst state among live workers)

Operator-only: never on the API's port, nor in the contract. `GET /metrics` is served
on `METRICS_HOST:METRICS_PORT` (127.0.0.1:9464 by default): by gunicorn's arbiter for
`make serve` (service/gunicorn_conf.py), where each worker writes its counts to files
in `PROMETHEUS_MULTIPROC_DIR` and a scrape sums them (prometheus-client's multiprocess
mode), or by a thread of the one process of `make run`.
"""

from __future__ import annotations

import logging
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import Engine, event

from service.resilience.breaker import Breaker
from service.settings import Settings

logger = logging.getLogger(__name__)

UNROUTED = "unrouted"
BREAKER_STATES = {"closed": 0, "half-open": 1, "open": 2}
# Seconds: from a fast read (a few ms) to the longest a database request may wait (4 s).
BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The app's metrics, registered in a registry of its own (two apps in one process
    never share counts; in multiprocess mode one process serves one app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests",
            "Requests answered, by operationId, method and status",
            ("operation", "method", "status"),
            registry=self.registry,
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time from a request's arrival to its response's last byte, by operationId",
            ("operation",),
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.pool_in_use = Gauge(
            "db_pool_connections_in_use",
            "Database connections checked out of the pool",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.refusals = Counter(
            "rate_limit_refusals",
            "Requests refused with 429, by the limit they reached",
            ("limit",),
            registry=self.registry,
        )
        self.deprecated_uses = Counter(
            "deprecated_requests",
            "Requests that used a deprecated operation, parameter or field, by operationId, "
            "what they used and the caller's role (or anonymous)",
            ("operation", "feature", "caller"),
            registry=self.registry,
        )
        self.breaker_state = Gauge(
            "circuit_breaker_state",
            "Circuit breaker of each dependency: 0 closed, 1 half-open, 2 open",
            ("dependency",),
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        # Label lookups cost more than the increments: children are kept per label set
        # (a bounded number: operations x methods x statuses).
        self._counted: dict[tuple[str, str, int], Any] = {}
        self._timed: dict[str, Any] = {}

    def observe(self, operation: str, method: str, status: int, seconds: float) -> None:
        """One answered request."""
        counted = self._counted.get((operation, method, status))
        if counted is None:
            counted = self.requests.labels(operation, method, str(status))
            self._counted[(operation, method, status)] = counted
        counted.inc()
        timed = self._timed.get(operation)
        if timed is None:
            timed = self._timed[operation] = self.duration.labels(operation)
        timed.observe(seconds)

    def refused(self, limit: str) -> None:
        """A 429: `limit` is the operationId whose limit was reached, or `auth_failures`."""
        self.refusals.labels(limit).inc()

    def deprecated(self, operation: str, feature: str, caller: str) -> None:
        """A request that used `feature` of `operation`, deprecated."""
        self.deprecated_uses.labels(operation, feature, caller).inc()

    def watch_pool(self, engine: Engine) -> None:
        """Count the engine's connections from checkout to checkin."""
        event.listen(engine.pool, "checkout", lambda *_: self.pool_in_use.inc())
        event.listen(engine.pool, "checkin", lambda *_: self.pool_in_use.dec())

    def watch_breaker(self, dependency: str, breaker: Breaker) -> None:
        """Follow a circuit breaker's state from now on."""
        gauge = self.breaker_state.labels(dependency)
        breaker.on_change(lambda state: gauge.set(BREAKER_STATES.get(state, 2)))


def scrape_registry(settings: Settings, metrics: Metrics | None = None) -> CollectorRegistry:
    """What a scrape reads: every worker's files in multiprocess mode, else the app's own
    registry (one process, `make run`)."""
    if settings.metrics_multiproc_dir:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=settings.metrics_multiproc_dir)  # type: ignore[no-untyped-call]
        return registry
    if metrics is None:
        raise ValueError("one process serves its own app's metrics")
    return metrics.registry


def serve_metrics(settings: Settings, registry: CollectorRegistry) -> WSGIServer | None:
    """Serve `registry` on METRICS_HOST:METRICS_PORT from a daemon thread; None (and a
    warning) if that address is taken: the API is served without metrics rather than not
    at all."""
    if settings.metrics_port is None:
        return None
    try:
        server, _thread = start_http_server(settings.metrics_port, settings.metrics_host, registry)
    except OSError as error:
        logger.warning(
            "Metrics not served on %s:%s: %s",
            settings.metrics_host,
            settings.metrics_port,
            error.strerror or error,
        )
        return None
    return server
