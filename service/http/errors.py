"""The one error type of the API and the one place that turns errors into responses.

Handlers and layers raise `ApiError` (usually through a factory below), the model layer
its own small `models.errors` types, which `from_domain` maps here; nothing else builds
error JSON. `register_error_handlers` maps every exception that can escape a
request - ours, Connexion's problems, Starlette's HTTP errors, anything else - onto the
envelope `{"error": {"code", "message", "details?"}}`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import Any

from connexion import FlaskApp
from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response

from models.errors import (
    Conflict,
    DomainError,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    InvalidToken,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    SearchTooCostly,
    Unavailable,
    Unconfirmed,
    WrongCredentials,
)
from service.edge.scope import current_or_none
from service.resilience.outage_log import OutageLog

logger = logging.getLogger(__name__)

JSON = "application/json"


class ErrorCode(StrEnum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    INVALID_JSON = "INVALID_JSON"
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    CONFLICT = "CONFLICT"
    IDEMPOTENCY_KEY_IN_USE = "IDEMPOTENCY_KEY_IN_USE"
    PRECONDITION_FAILED = "PRECONDITION_FAILED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    PRECONDITION_REQUIRED = "PRECONDITION_REQUIRED"
    RATE_LIMITED = "RATE_LIMITED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
    NOT_IMPLEMENTED = "NOT_IMPLEMENTED"


STATUS_OF: dict[ErrorCode, int] = {
    ErrorCode.VALIDATION_ERROR: 400,
    ErrorCode.INVALID_JSON: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.CONFLICT: 409,
    ErrorCode.IDEMPOTENCY_KEY_IN_USE: 409,
    ErrorCode.PRECONDITION_FAILED: 412,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: 422,
    ErrorCode.PRECONDITION_REQUIRED: 428,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
    ErrorCode.UPSTREAM_UNAVAILABLE: 502,
    ErrorCode.NOT_IMPLEMENTED: 501,
}

# For errors raised by Connexion or Starlette, which only know a status.
CODE_OF_STATUS: dict[int, ErrorCode] = {
    400: ErrorCode.VALIDATION_ERROR,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    429: ErrorCode.RATE_LIMITED,
    502: ErrorCode.UPSTREAM_UNAVAILABLE,
    503: ErrorCode.SERVICE_UNAVAILABLE,
    504: ErrorCode.UPSTREAM_UNAVAILABLE,
}

Detail = dict[str, str]

# The model layer's refusals, by the code each becomes.
DOMAIN_CODES: dict[type[DomainError], ErrorCode] = {
    NotFound: ErrorCode.NOT_FOUND,
    Conflict: ErrorCode.CONFLICT,
    InvalidToken: ErrorCode.UNAUTHORIZED,
    WrongCredentials: ErrorCode.UNAUTHORIZED,
    Unconfirmed: ErrorCode.FORBIDDEN,  # not 401: the token is good, and stays signed in
    Unavailable: ErrorCode.SERVICE_UNAVAILABLE,
    PreconditionFailed: ErrorCode.PRECONDITION_FAILED,
    PreconditionRequired: ErrorCode.PRECONDITION_REQUIRED,
    IdempotencyKeyReused: ErrorCode.IDEMPOTENCY_KEY_REUSED,
    IdempotencyKeyInUse: ErrorCode.IDEMPOTENCY_KEY_IN_USE,
    SearchTooCostly: ErrorCode.VALIDATION_ERROR,
}


class ApiError(Exception):
    """An error a client is meant to see, with its code, message and field details."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        details: Sequence[Detail] | None = None,
        headers: Mapping[str, str] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = list(details) if details else None
        self.headers = dict(headers or {})
        if code is ErrorCode.UNAUTHORIZED:
            self.headers.setdefault("WWW-Authenticate", 'Bearer realm="api"')
        self.status = status or STATUS_OF[code]

    def envelope(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code.value, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}

    def __repr__(self) -> str:
        return f"ApiError({self.code.value}, {self.message!r})"


def validation_error(details: Sequence[Detail]) -> ApiError:
    return ApiError(ErrorCode.VALIDATION_ERROR, "Request validation failed", details=details)


def invalid_json(reason: str) -> ApiError:
    return ApiError(ErrorCode.INVALID_JSON, f"Request body is not valid JSON: {reason}")


def internal_error() -> ApiError:
    return ApiError(ErrorCode.INTERNAL_ERROR, "An unexpected error occurred")


def from_domain(error: DomainError) -> ApiError:
    """The API error a domain error becomes (500 for one this table does not know)."""
    headers = {}
    if isinstance(error, Unavailable):
        headers["Retry-After"] = str(error.retry_after)
    elif isinstance(error, IdempotencyKeyInUse):
        headers["Retry-After"] = "1"
    for kind in type(error).__mro__:
        code = DOMAIN_CODES.get(kind)
        if code is not None:
            return ApiError(code, error.message, details=error.details, headers=headers)
    return internal_error()


def body_of(error: ApiError) -> str:
    """The only function that turns an error into the envelope's bytes."""
    return json.dumps(error.envelope(), separators=(",", ":"))


def render(error: ApiError) -> ConnexionResponse:
    """The error as a Connexion response, for Connexion's error handlers."""
    return ConnexionResponse(
        status_code=error.status,
        mimetype=JSON,
        content_type=JSON,
        body=body_of(error),
        headers=error.headers,
    )


def render_asgi(error: ApiError) -> Response:
    """The error as a Starlette response, for the ASGI layers outside Connexion."""
    return Response(body_of(error), error.status, error.headers, media_type=JSON)


def from_status(status: int, message: str, headers: Mapping[str, str] | None = None) -> ApiError:
    code = CODE_OF_STATUS.get(status)
    if code is None:
        code = ErrorCode.INTERNAL_ERROR if status >= 500 else ErrorCode.VALIDATION_ERROR
    return ApiError(code, message, headers=headers, status=status)


AllowedMethods = Callable[[str], Sequence[str] | None]


def operation_of() -> str:
    """The operationId the current request was routed to, for log lines ("-" if none)."""
    scope = current_or_none()
    plan = scope.plan if scope is not None else None
    return plan.operation_id if plan is not None else "-"


def register_error_handlers(app: FlaskApp, allowed_methods: AllowedMethods) -> None:
    """Route every exception of a request to `render`.

    `allowed_methods(path)` gives the spec's methods for a path, for the `Allow` header
    of a 405 (Starlette's router only knows one operation's method). Failures of the
    service are logged one line each, with a traceback per cause at most once a minute.
    """
    outages = OutageLog(logger)

    async def on_api_error(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        assert isinstance(exc, ApiError)
        return render(exc)

    async def on_domain_error(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        assert isinstance(exc, DomainError)
        error = from_domain(exc)
        if isinstance(exc, Unavailable):
            summary = f"503 {operation_of()}"
            outages.failed(logging.WARNING, summary, exc, expected=exc.refused)
        return render(error)

    async def on_problem(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        assert isinstance(exc, ProblemException)
        message = str(exc.detail or exc.title or "Request failed")
        return render(from_status(exc.status, message, exc.headers))

    async def on_http_exception(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return render(ApiError(ErrorCode.NOT_FOUND, f"No route matches {request.url.path}"))
        if exc.status_code == 405:
            methods = allowed_methods(request.url.path) or []
            return render(
                ApiError(
                    ErrorCode.METHOD_NOT_ALLOWED,
                    f"Method {request.method} is not allowed here; use {', '.join(methods)}",
                    headers={"Allow": ", ".join(methods)},
                )
            )
        return render(from_status(exc.status_code, str(exc.detail), exc.headers))

    async def on_unexpected(_request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        # The request id is on every log record (service.observability.logs); the body says nothing.
        outages.failed(logging.ERROR, f"500 {operation_of()} unhandled", exc)
        return render(internal_error())

    app.add_error_handler(ApiError, on_api_error)
    app.add_error_handler(DomainError, on_domain_error)
    app.add_error_handler(ProblemException, on_problem)
    app.add_error_handler(HTTPException, on_http_exception)
    app.add_error_handler(Exception, on_unexpected)
