"""What one app owns, and how the code serving one of its requests reaches it.

`create_app` builds a `Runtime` (settings, contract, database and its guard, password
hashing, rate limits, the dashboard's HTTP client, metrics, the app's secret) and nothing
else holds any of it: no module global is written after import.
The outermost layer (service/middleware/request_context.py) binds the app's runtime
to each request's own, fresh context, so handlers, hooks and Connexion's security
callback all find *their* app's runtime, and two apps in one process never meet.
The Flask app keeps it too, as `app.app.extensions["runtime"]`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from models.db import Database
from models.passwords import Passwords
from service.app_secret import AppSecret
from service.contract import Contract
from service.settings import Settings

if TYPE_CHECKING:
    from service.access.rate_limits import RateLimits
    from service.dashboard.aggregate import Dashboard
    from service.metrics import Metrics
    from service.resilience.database import DatabaseGuard
    from service.resilience.placement import ReadPlacement
    from service.resilience.readiness import Readiness

EXTENSION = "runtime"


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    contract: Contract
    database: Database
    database_guard: DatabaseGuard
    passwords: Passwords
    rate_limits: RateLimits
    # The threads (WSGI_THREADS) that run Flask and token lookups away from the loop.
    threads: ThreadPoolExecutor
    # The dashboard's sources and the HTTP client (one loop and pool) that calls them.
    dashboard: Dashboard
    # Prometheus metrics (service/metrics.py).
    metrics: Metrics
    # Whether reads run in the event loop or in the threads, now.
    placement: ReadPlacement
    # What `GET /api/ready` answers, and what it logs for operators.
    readiness: Readiness
    # The keys that sign cursors and entity tags (APP_SECRET, or the database's secret).
    secret: AppSecret


_current: ContextVar[Runtime] = ContextVar("runtime")


def current() -> Runtime:
    """The runtime of the app serving this request."""
    try:
        return _current.get()
    except LookupError:
        raise RuntimeError("no request of an app is being served here") from None


def bind(runtime: Runtime) -> None:
    """Make `runtime` current in this context (a request's fresh one)."""
    _current.set(runtime)


def database() -> Database:
    return current().database


def passwords() -> Passwords:
    return current().passwords
