"""One request's scope: every fact about a request that more than one layer needs,
decided once and held in one object.

The edge (service/edge/edge.py) makes the scope when a request arrives (its app's
runtime, its request id, the client's address) and runs the rest of the request in a
fresh context holding only it; the router fills in the plan, the access step the caller,
the database guard the deadline. No layer derives these again, and nothing of one
request is visible to another, whichever thread or loop runs it: the threads that run
Flask get a copy of the context, which holds the same object.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.access.caller import Caller
    from service.plan import Deprecation, Plan
    from service.runtime import Runtime

NO_REQUEST_ID = "-"


@dataclass(slots=True)
class RequestScope:
    runtime: Runtime
    request_id: str
    # The client's address, as TRUSTED_PROXY_HOPS reads it (service/edge/client_address.py).
    client: str
    # The operation the request was routed to (None until routed, or never).
    plan: Plan | None = None
    # The authenticated caller (None: anonymous, or not yet authenticated).
    caller: Caller | None = None
    # The request's deadline for the database (time.monotonic()), fixed at its first use.
    deadline: float | None = None
    # The rate limit's window, for the X-RateLimit-* headers (service/access/rate_limits.py).
    rate_limit: Any = None
    # The trace id of the request's server span (None: tracing is off).
    trace_id: str | None = None
    # What deprecated the request uses (its operation, parameters, body fields): the
    # edge stamps the answer with their headers and counts them.
    deprecations: list[Deprecation] = field(default_factory=list)


_scope: ContextVar[RequestScope] = ContextVar("request_scope")


def enter(scope: RequestScope) -> None:
    """Make `scope` the current request's, in this (fresh) context."""
    _scope.set(scope)


def current() -> RequestScope:
    """The scope of the request being served here."""
    try:
        return _scope.get()
    except LookupError:
        raise RuntimeError("no request of an app is being served here") from None


def current_or_none() -> RequestScope | None:
    return _scope.get(None)


def trace_id() -> str | None:
    """The current request's trace id, for log records (None: untraced, or no request)."""
    scope = _scope.get(None)
    return scope.trace_id if scope is not None else None


def request_id() -> str:
    """The current request's id, for log records ("-" outside a request)."""
    scope = _scope.get(None)
    return scope.request_id if scope is not None else NO_REQUEST_ID
