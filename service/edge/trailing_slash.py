"""A path with a trailing slash is a 404 in the envelope, not Starlette's redirect.

Connexion's router (Starlette's) answers `/api/posts/` with a bare 307 whose `Location`
is built from the request's `Host` header: not the contract's answer, and a way to make
a cache in front store a redirect to another host. Only Swagger UI's own pages, which
live under a slash, keep it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from service.http.errors import ApiError, ErrorCode, render_asgi


class NoTrailingSlashMiddleware:
    def __init__(self, app: ASGIApp, keep_prefix: str) -> None:
        self.app = app
        self.keep_prefix = keep_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] == "http"
            and len(path) > 1
            and path.endswith("/")
            and not path.startswith(self.keep_prefix)
        ):
            error = ApiError(ErrorCode.NOT_FOUND, f"No route matches {path[:200]}")
            await render_asgi(error)(scope, receive, send)
            return
        await self.app(scope, receive, send)
