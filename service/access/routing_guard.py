"""Only requests that Connexion routed, in this very request, reach Flask.

Starlette's router (which Connexion validates and authenticates with) and Werkzeug's
router (which picks the Flask view) do not agree on every path: `/api/users/a%0Ab` is
unmatched by the first and matched by the second. Such a request would reach a handler
having skipped validation and security. Two checks stop it, both reading what Connexion
wrote into this request's ASGI scope (never a context variable, which could be stale):

- `refuse_unrouted`, called by the bridge to Flask (service/patches/flask_bridge.py): a
  request Connexion routed to no operation is a 404 and never enters Flask;
- `refuse_mismatched_view`, a Flask `before_request` hook: the view Werkzeug picked must
  be the operation Connexion routed, validated and authenticated.
"""

from __future__ import annotations

from typing import Any

from connexion.frameworks.flask import flaskify_endpoint
from connexion.middleware.abstract import ROUTING_CONTEXT
from flask import request
from starlette.types import Scope

from service.errors import ApiError, ErrorCode


def routed_operation(scope: Scope) -> str | None:
    """The operationId Connexion's router matched for this request, or None."""
    routing: dict[str, Any] = scope.get("extensions", {}).get(ROUTING_CONTEXT, {})
    return routing.get("operation_id")


def _no_route(path: str) -> ApiError:
    return ApiError(ErrorCode.NOT_FOUND, f"No route matches {path}")


def refuse_unrouted(scope: Scope) -> None:
    """404 for a request that Connexion routed to no operation."""
    if scope["type"] == "http" and routed_operation(scope) is None:
        raise _no_route(scope["path"])


def refuse_mismatched_view() -> None:
    """Flask `before_request` hook: 404 unless Werkzeug picked the routed operation."""
    operation_id = routed_operation(request.environ.get("asgi.scope", {}))
    endpoint = (request.endpoint or "").rsplit(".", 1)[-1]
    if operation_id is None or endpoint != flaskify_endpoint(operation_id):
        raise _no_route(request.path)
