"""Only requests that Connexion routed may reach a handler.

Starlette's router (which Connexion validates and authenticates with) and Werkzeug's
router (which picks the Flask view) do not agree on every path: `/api/users/a%0Ab` is
unmatched by the first and matched by the second. Such a request would reach a handler
having skipped validation and security, so it is refused as an unknown route instead.
"""

from __future__ import annotations

from connexion import context
from flask import request

from service.errors import ApiError, ErrorCode


def refuse_unrouted_requests() -> None:
    """Flask `before_request` hook."""
    try:
        context.operation.operation_id  # noqa: B018  (raises when nothing was routed)
    except RuntimeError:
        raise ApiError(ErrorCode.NOT_FOUND, f"No route matches {request.path}") from None
