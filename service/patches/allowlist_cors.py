"""CORS from an exact allowlist, answered before routing, rate limits and auth.

Starlette's `CORSMiddleware` (Connexion 3's replacement for flask-cors, which never sees
a preflight for a path without an `OPTIONS` operation) with three changes: an origin
that is not listed gets no CORS header at all (Starlette still sends `Expose-Headers`
and, on preflights, the allowed methods); such a preflight is refused in the error
envelope instead of plain text; and a preflight lists the methods the contract declares
for that path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.http.errors import ApiError, ErrorCode, render_asgi

ALLOWED_HEADERS = (
    "Authorization",
    "Content-Type",
    "X-Request-ID",
    "If-Match",
    "If-None-Match",
    "Idempotency-Key",
)
EXPOSED_HEADERS = (
    "ETag",
    "Idempotent-Replayed",
    "Location",
    "Link",
    "X-Request-ID",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
)
ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MAX_AGE_SECONDS = 86400


class AllowlistCORSMiddleware(CORSMiddleware):
    def __init__(
        self,
        app: ASGIApp,
        origins: Sequence[str],
        methods_for: Callable[[str], Sequence[str] | None],
    ) -> None:
        super().__init__(
            app,
            allow_origins=list(origins),
            allow_methods=ALL_METHODS,
            allow_headers=ALLOWED_HEADERS,
            expose_headers=EXPOSED_HEADERS,
            allow_credentials=False,
            max_age=MAX_AGE_SECONDS,
        )
        self.methods_for = methods_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            if (
                scope["method"] == "OPTIONS"
                and "origin" in headers
                and "access-control-request-method" in headers
            ):
                response = self.preflight(scope["path"], headers)
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def preflight(self, path: str, request_headers: Headers) -> Response:
        origin = request_headers["origin"]
        if not self.is_allowed_origin(origin):
            refused = ApiError(
                ErrorCode.FORBIDDEN,
                f"Origin {origin} may not call this API from a browser",
                headers={"Vary": "Origin"},
            )
            return render_asgi(refused)
        methods = self.methods_for(path) or ALL_METHODS
        headers = dict(self.preflight_headers)
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Allow-Methods"] = ", ".join(methods)
        return Response(status_code=204, headers=headers)

    async def send(self, message: Message, send: Send, request_headers: Headers) -> None:
        """Only a listed origin gets CORS headers; every response varies by Origin."""
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            origin = request_headers.get("origin")
            if origin is not None and self.is_allowed_origin(origin):
                headers.update(self.simple_headers)
                headers["Access-Control-Allow-Origin"] = origin
            headers.add_vary_header("Origin")
        await send(message)
