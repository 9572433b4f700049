"""What one app owns, and how the code serving one of its requests reaches it.

`create_app` builds a `Runtime` (settings, contract and plans, database and its guard,
password hashing, rate limits, the dashboard's HTTP client, metrics, the access log, the
app's secret) and nothing else holds any of it: no module global is written after import.
Each request's scope (service/edge/scope.py) holds its app's runtime, so handlers and
layers find *their* app's, and two apps in one process never meet. The Flask app keeps it
too, as `app.app.extensions["runtime"]`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from models.db import Database
from models.passwords import Passwords
from service.app_secret import AppSecret
from service.contract import Contract
from service.edge.scope import current as current_scope
from service.plan import Plans
from service.settings import Settings

if TYPE_CHECKING:
    from service.access.rate_limits import RateLimits
    from service.dashboard.aggregate import Dashboard
    from service.observability.access_log import AccessLog
    from service.observability.metrics import Metrics
    from service.observability.tracing import Tracing
    from service.resilience.database import DatabaseGuard
    from service.resilience.placement import Placement
    from service.resilience.readiness import Readiness

EXTENSION = "runtime"


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    contract: Contract
    # Each operation's plan, compiled once from the contract (service/plan.py).
    plans: Plans
    database: Database
    database_guard: DatabaseGuard
    passwords: Passwords
    rate_limits: RateLimits
    # The threads (WSGI_THREADS) that run Flask away from the loop.
    threads: ThreadPoolExecutor
    # Where each request runs (service/resilience/placement.py).
    placement: Placement
    # The dashboard's sources and the HTTP client (one loop and pool) that calls them.
    dashboard: Dashboard
    # Prometheus metrics and the access line.
    metrics: Metrics
    access_log: AccessLog
    # What `GET /api/ready` answers, and what it logs for operators.
    readiness: Readiness
    # The keys that sign cursors and entity tags (APP_SECRET, or the database's secret).
    secret: AppSecret
    # Traces: off (tracer None) unless the OTEL_* variables ask (service/observability/tracing.py).
    tracing: Tracing


def current() -> Runtime:
    """The runtime of the app serving this request."""
    return current_scope().runtime


def database() -> Database:
    return current().database


def passwords() -> Passwords:
    return current().passwords
